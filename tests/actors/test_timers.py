"""Due timers: far deadlines live in PostgreSQL and the clock fires them within seconds."""
import datetime

import pendulum
import pytest

from actors import timers
from cli import sample
from storage.models import Approval, utcnow
from tests import factories
from tests.actors.test_approvals import approval_workflow, emails

pytestmark = pytest.mark.e2e


def test_only_short_deadlines_become_broker_delays():
    now = utcnow()
    assert timers.expiry_delay_ms(now + datetime.timedelta(seconds=10), now) == 10_500
    assert timers.expiry_delay_ms(now + datetime.timedelta(hours=48), now) is None
    assert timers.expiry_delay_ms(now - datetime.timedelta(seconds=5), now) == 500


def test_a_slot_fires_once_whatever_the_number_of_clocks(db):
    moment = pendulum.datetime(2026, 11, 22, 10, 30, 5)
    assert timers.claim_slot(moment) is True
    assert timers.claim_slot(moment) is False
    assert timers.claim_slot(moment.add(seconds=5)) is True
    assert timers.slot_offsets(5) == list(range(0, 60, 5))


def test_a_far_approval_deadline_is_fired_by_the_clock_within_seconds(client, org, worker, mailbox):
    # Given a run paused on an approval due in two hours (no delayed message holds it)
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "c"), timeout_hours=2, on_timeout="fail")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    assert "expiry of" not in worker.log()

    # When its deadline (in PostgreSQL) comes due in two seconds and the clock's minute is armed
    due = utcnow() + datetime.timedelta(seconds=2)
    Approval.update(expires_at=due).where(Approval.execution == execution_id).execute()
    now = pendulum.now("UTC")
    assert timers.arm(now.start_of("minute"), 2, now=now) >= 1
    if now.second > 50:  # the train ends with the minute; arm the next one too, as periodiq would
        timers.arm(now.start_of("minute").add(minutes=1), 2, now=now)

    # Then the run expires within a few seconds of due
    state = factories.wait_for_status(client, org, execution_id, timeout=20)
    assert state["status"] == "failed" and state["last_error_tech"].startswith("[approval.expired]")
    assert utcnow() - due < datetime.timedelta(seconds=15)
