"""Clock jobs: tick dedupe, the reaper, the expiry sweep, reminders, trimming."""
import datetime

import pytest

from actors import scheduled
from cli import sample
from storage import clock, events, executions, workflows
from storage.models import Approval, ClockTick, Execution, utcnow
from tests import factories
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_a_tick_is_claimed_once_whatever_the_number_of_clocks(db):
    moment = datetime.datetime(2026, 11, 22, 10, 30, 5, tzinfo=datetime.timezone.utc)
    later_same_minute = moment.replace(second=59).astimezone(datetime.timezone(datetime.timedelta(hours=-3)))
    assert clock.claim_tick("job-x", moment) is True
    assert clock.claim_tick("job-x", later_same_minute) is False
    assert clock.claim_tick("job-y", moment) is True
    assert clock.claim_tick("job-x", moment + datetime.timedelta(minutes=1)) is True


def test_second_clock_process_does_not_double_a_tick(db):
    ClockTick.delete().where(ClockTick.job == "reap_stuck_runs").execute()
    assert scheduled.tick("reap_stuck_runs", scheduled.redrive_stuck) is True
    assert scheduled.tick("reap_stuck_runs", scheduled.redrive_stuck) is False


def test_reaper_re_drives_a_run_whose_message_was_lost(client, org, db, worker):
    # Given a queued run whose first hop message never reached the broker
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution, batch = executions.create(workflows.get(wf["id"], org.id), phases={"webhook": "trigger"},
                                         trigger_data={"x": 1})
    batch.flush()
    Execution.update(last_progress_at=utcnow() - datetime.timedelta(hours=1)).where(
        Execution.id == execution.id).execute()

    # When the reaper runs
    assert scheduled.redrive_stuck() >= 1

    # Then the run completes
    assert factories.wait_for_status(client, org, str(execution.id))["status"] == "completed"


def approval_run(client, org, mailbox, **config):
    approver = f"sweep+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "review-documents", "label": "review", "config": {"approvers": [approver], **config}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    return execution_id, approver, mailbox.wait_for(approver)[0]


def test_sweep_expires_a_wait_whose_delayed_message_was_missed(client, org, worker, mailbox):
    execution_id, _, _ = approval_run(client, org, mailbox, timeout_hours=1)
    Approval.update(expires_at=utcnow() - datetime.timedelta(minutes=1)).where(
        Approval.execution == execution_id).execute()

    assert scheduled.expire_overdue() >= 1

    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "failed" and state["last_error_tech"].startswith("[approval.expired]")


def test_reminders_go_out_once_with_the_same_link(client, org, worker, mailbox):
    execution_id, approver, first = approval_run(client, org, mailbox, reminder_hours=0.0001)
    wait_until(lambda: any(a.approver_email == approver for a in __import__("storage").approvals.reminders_due()),
               10, message="reminder due")

    scheduled.send_reminders()
    scheduled.send_reminders()

    reminders = mailbox.wait_for(approver, count=2)
    assert len(reminders) == 2
    assert reminders[1]["Subject"].startswith("Reminder:")
    assert factories.approval_token(reminders[1]) == factories.approval_token(first)


def test_trimming_bounds_streams_and_expires_ended_runs(client, org, db, redis):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    workflow = workflows.get(wf["id"], org.id)
    live, batch = executions.create(workflow, phases={"webhook": "trigger"}, trigger_data={})
    ended, _ = executions.create(workflow, phases={"webhook": "trigger"}, trigger_data={})
    Execution.update(status="completed", completed_at=utcnow() - datetime.timedelta(days=2)).where(
        Execution.id == ended.id).execute()
    for execution in (live, ended):
        for i in range(300):
            redis.xadd(events.stream_key(execution.id), {"type": "execution.progress", "event": "{}"})

    clock.trim_streams(redis, maxlen=50, ttl=86400)

    assert redis.xlen(events.stream_key(live.id)) < 300
    assert redis.exists(events.stream_key(ended.id)) == 0
