"""Deliveries whose outcome is unknown: a worker dies after the effect left, before it was recorded.

Each test runs a real worker armed with DOCG_FAULT=after_effect (it exits
like kill -9 right after the e-mail or webhook left) and a healthy worker
that gets the redelivered hop.
"""
import signal

import pytest
from werkzeug import Response

from storage.models import SideEffect
from tests import factories
from tests.support import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("quiet_pipeline")]  # the armed worker's first hop is ours


def die_after_the_effect(spawn_worker, client, org, wf, trigger=None):
    dying = spawn_worker(env={"DOCG_FAULT": "after_effect"})
    execution_id = factories.start(client, org, wf["id"], trigger or {"x": 1})
    wait_until(lambda: not dying.children() or dying.proc.poll() is not None, 60, message="armed worker died")
    dying.kill(signal.SIGKILL)
    dying.proc.wait(10)
    return execution_id


def test_an_email_of_unknown_outcome_goes_to_review_and_resume_does_not_resend(client, org, db, mailbox,
                                                                               spawn_worker):
    # Given a worker that dies right after the SMTP server accepted the e-mail
    to = f"unknown+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          {"node_type": "email", "label": "send", "config": {"to": [to]}},
                                          {"node_type": "webhook", "label": "after"}])
    execution_id = die_after_the_effect(spawn_worker, client, org, wf)
    assert len(mailbox.wait_for(to)) == 1

    # When the redelivered hop finds the e-mail in flight with no outcome (default on_unknown_outcome: review)
    spawn_worker()
    state = factories.wait_for_status(client, org, execution_id, "needs_review", timeout=90)

    # Then a person is asked to confirm, and nothing was sent again
    assert state["last_error_tech"].startswith("[email.unknown_outcome]") and state["delivery_state"] == "unknown"
    assert [a["label"] for a in state["recommended_actions"]] == ["Confirm whether the e-mail was received"]
    assert len(mailbox.messages(to)) == 1

    # When they resume it, the run goes on without resending
    resumed = client.simulate_post(f"/api/v1/executions/{execution_id}/resume", json={}, headers=org.headers)
    assert resumed.status_code == 200, resumed.text
    assert factories.wait_for_status(client, org, execution_id, timeout=60)["status"] == "completed"
    assert len(mailbox.messages(to)) == 1
    entry = SideEffect.get(SideEffect.execution == execution_id)
    assert entry.status == "done" and entry.result["outcome"] == "confirmed"


def test_an_email_set_to_resend_is_sent_again_with_the_same_message_id(client, org, db, mailbox, spawn_worker):
    to = f"resend+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "email", "label": "send", "config": {"to": [to], "on_unknown_outcome": "resend"}}])
    execution_id = die_after_the_effect(spawn_worker, client, org, wf)

    spawn_worker()

    assert factories.wait_for_status(client, org, execution_id, timeout=90)["status"] == "completed"
    sent = mailbox.wait_for(to, count=2)
    assert len(sent) == 2 and sent[0]["Message-ID"] == sent[1]["Message-ID"]


def test_a_webhook_of_unknown_outcome_is_resent_with_the_same_idempotency_key(client, org, db, spawn_worker,
                                                                              httpserver):
    keys = []

    def record(request):
        keys.append(request.headers.get("Idempotency-Key"))
        return Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(record)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "hook", "config": {"url": httpserver.url_for("/hook")}}])
    execution_id = die_after_the_effect(spawn_worker, client, org, wf)
    assert len(keys) == 1

    spawn_worker()

    assert factories.wait_for_status(client, org, execution_id, timeout=90)["status"] == "completed"
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
