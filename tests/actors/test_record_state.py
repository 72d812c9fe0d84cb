"""State that matches reality: canceled runs say what was withdrawn, metrics measure what they name."""
import datetime
import time

import pytest
import requests

from cli import sample
from storage.models import SignatureRequest
from tests import factories
from tests.actors.test_approvals import approval_workflow, emails
from tests.actors.test_signatures import sign_links, signature_workflow, signers_of
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def post(client, org, path, body=None):
    return client.simulate_post(f"/api/v1{path}", json=body or {}, headers=org.headers)


def test_a_canceled_signing_run_says_so_everywhere_and_its_sign_page_is_withdrawn(client, org, worker, web_server):
    ana, bia = signers_of(org, "ana", "bia")
    wf = signature_workflow(client, org, [ana, bia], f"c+{org.id[:8]}@acme.example")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    links = sign_links(client, org, execution_id)

    # When the run is canceled while it waits for signatures
    assert post(client, org, f"/executions/{execution_id}/cancel", {"reason": "deal lost"}).status_code == 200

    # Then its state finalises what it was waiting for
    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "canceled" and state["signature_state"] == "canceled"
    assert "waiting_for" not in (state["current_step"] or {})
    request = SignatureRequest.get(SignatureRequest.execution == execution_id)
    assert request.status == "canceled" and set(request.signers_status.values()) == {"canceled"}
    # and the terminal event comes last, carrying what was withdrawn
    history = factories.outbox_events(execution_id)
    assert history[-1][1] == "execution.canceled"
    from storage import outbox

    last = outbox.history(execution_id, len(history) - 1, 1)[0][2]
    assert request.envelope_id in last and '"reason": "deal lost"' in last

    # and every signer's page says the request was withdrawn, offering nothing to sign
    for url in links.values():
        page = requests.get(url, timeout=5)
        assert page.status_code == 410 and "withdrawn" in page.text and ">Sign<" not in page.text
        refused = requests.post(url, json={"action": "signed"}, timeout=5)
        assert refused.status_code == 410 and refused.json()["error"]["code"] == "signature.withdrawn"


def test_a_canceled_approval_run_revokes_its_links_which_say_withdrawn(client, org, worker, mailbox):
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "c"))
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    token = factories.approval_token(mailbox.wait_for(ana)[0])

    assert post(client, org, f"/executions/{execution_id}/cancel").status_code == 200

    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "canceled" and "waiting_for" not in (state["current_step"] or {})
    for response in (client.simulate_get(f"/api/v1/approvals/{token}"),
                     client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "approved"})):
        assert response.status_code == 410 and response.json["error"]["code"] == "approval.withdrawn"
        assert "withdrawn" in response.json["error"]["message_human"]


def test_preflight_measures_its_checks_and_the_review_wait_is_its_own_entry(client, org, worker, mailbox):
    # Given a run stopped by preflight for a missing field
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
        factories.render_node(template_id),
    ])
    execution_id = factories.start(client, org, wf["id"], {"other": 1})
    factories.wait_for_status(client, org, execution_id, "needs_review")
    held = time.monotonic()

    # When a person fixes it a while later and resumes
    wait_until(lambda: time.monotonic() - held > 1.5, 5, message="time in review")
    resumed = post(client, org, f"/executions/{execution_id}/resume", {"changes": {"trigger_data": sample.trigger_data()}})
    assert resumed.status_code == 200, resumed.text
    state = factories.wait_for_status(client, org, execution_id)

    # Then preflight's duration is its checks (not the review), and the review wait is measured apart
    metrics = state["phase_metrics"]
    assert state["status"] == "completed"
    assert metrics["needs_review"]["duration_ms"] >= 1500
    # (the preflight entry is the re-check after the resume: it starts after the review began, and spans its checks)
    assert metrics["preflight"]["started_at"] > metrics["needs_review"]["started_at"]
    assert 0 <= metrics["preflight"]["duration_ms"] < metrics["needs_review"]["duration_ms"]
    began, ended = (datetime.datetime.fromisoformat(metrics["preflight"][k]) for k in ("started_at", "completed_at"))
    assert abs((ended - began).total_seconds() * 1000 - metrics["preflight"]["duration_ms"]) <= 1


def test_a_delivery_moves_the_run_through_sending_to_sent_with_its_events(client, org, worker, mailbox, httpserver):
    # Given a run whose delivery phase is an email and then an outgoing webhook
    from storage.db import database

    httpserver.expect_request("/notify").respond_with_data("ok")
    to = f"d+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "email", "label": "send", "config": {"to": [to], "subject": "hi", "body": "hello"}},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": httpserver.url_for("/notify")}},
    ])

    # When it runs
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then it went running -> sending (at the email, once) -> sent (after the last delivery step) -> completed
    assert state["status"] == "completed" and state["delivery_state"] == "sent"
    changes = database.execute_sql(
        "SELECT event->'data'->>'from', event->'data'->>'to', event->'data'->>'reason' FROM execution_events "
        "WHERE execution_id = %s AND event_type = 'execution.status_changed' ORDER BY seq", (execution_id,)).fetchall()
    assert changes == [("queued", "running", "started"), ("running", "sending", "step send"),
                       ("sending", "sent", "notify done"), ("sent", "completed", "all steps done")]
    started = database.execute_sql(
        "SELECT event->>'status', event->'data'->>'label' FROM execution_events WHERE execution_id = %s "
        "AND event_type = 'step.started' ORDER BY seq", (execution_id,)).fetchall()
    assert started == [("running", "deal"), ("sending", "send"), ("sending", "notify")]
    logs = [(row["domain"], row["message_human"]) for row in client.simulate_get(
        f"/api/v1/executions/{execution_id}/logs", headers=org.headers).json["logs"]]
    assert ("delivery", "Started “send”.") in logs and ("delivery", "Started “notify”.") in logs
    assert len(mailbox.wait_for(to)) == 1
