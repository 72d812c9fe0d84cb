"""Controls through the real API and worker: review, cancel, retry, dry run."""
import threading

import pytest
from werkzeug import Response

from cli import sample
from storage.models import GeneratedDocument, SandboxEnvelope
from tests import factories
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def post(client, org, path, body=None):
    return client.simulate_post(f"/api/v1{path}", json=body if body is not None else {}, headers=org.headers)


def test_review_then_resume_with_changes(client, org, worker, mailbox):
    # Given a run blocked by preflight: a required field is missing and an address is bad
    to = f"review+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
        {"node_type": "email", "label": "send", "config": {"to": ["not-an-email"], "subject": "{{trigger.client_name}}"}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"deal_id": 1})
    state = factories.wait_for_status(client, org, execution_id, "needs_review")
    preflight = client.simulate_get(f"/api/v1/executions/{execution_id}/preflight", headers=org.headers).json
    codes = {i["code"] for group in preflight["preflight_summary"]["groups"].values() for i in group}
    assert codes == {"missing_required_field", "unresolved_variables", "delivery.invalid_email"}
    assert {a["action"] for a in state["recommended_actions"]} == {"fill_required", "map_fields", "fix_recipients"}

    # When only part is fixed, the run stays in review
    partly = post(client, org, f"/executions/{execution_id}/resume", {"changes": {"trigger_data": {"client_name": "Acme"}}})
    assert partly.status_code == 200 and partly.json["status"] == "needs_review"

    # and when the rest is fixed, it continues and completes
    fixed = post(client, org, f"/executions/{execution_id}/resume", {"changes": {"nodes": {"send": {"to": [to]}}}})
    assert fixed.status_code == 200 and fixed.json["status"] in ("ready", "running", "completed")
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert mailbox.wait_for(to)[0]["Subject"] == "Acme"

    # Then resuming again is refused: the state does not allow it
    again = post(client, org, f"/executions/{execution_id}/resume")
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"


def test_preflight_a_workflow_without_running_it(client, org, db):
    template_id = factories.template(client, org)
    deleted_id = factories.template(client, org, name="gone.docx")
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "local-docx", "label": "ghost", "config": {"template_id": deleted_id}},
        {"node_type": "storage", "label": "archive", "config": {"folder": "../../etc"}},
        {"node_type": "outgoing-webhook", "label": "hook", "config": {"url": "ftp://x", "payload": {"a": "{{step.nope.x}}"}}},
        {"node_type": "request-signatures", "label": "sign", "config": {"provider": "sandbox", "signers": []}},
    ])
    assert client.simulate_delete(f"/api/v1/templates/{deleted_id}", headers=org.headers).status_code == 204
    resp = post(client, org, f"/workflows/{wf['id']}/preflight", {"trigger_data": {"client_name": "Acme"}})
    assert resp.status_code == 200 and resp.json["ok"] is False
    by_code = {i["code"]: i for i in resp.json["issues"]}
    assert set(by_code) == {"template.unmapped_tags", "template.not_found", "storage.invalid_folder",
                            "delivery.invalid_url", "unresolved_variables", "signature.no_signers"}
    assert by_code["template.not_found"]["domain"] == "template"
    assert by_code["storage.invalid_folder"]["domain"] == "permissions"
    assert all({"code", "domain", "message_human", "message_tech", "node_id", "severity"} <= set(i)
               for i in resp.json["issues"])
    good = post(client, org, f"/workflows/{wf['id']}/preflight", {"trigger_data": sample.trigger_data()})
    assert good.json["blocking_count"] >= 1
    assert client.simulate_get(f"/api/v1/workflows/{wf['id']}/runs", headers=org.headers).json["runs"] == []


def approval_run(client, org, mailbox):
    approver = f"cancel+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "review-documents", "label": "review", "config": {"approvers": [approver]}},
        {"node_type": "webhook", "label": "after"},
    ])
    execution_id = factories.start(client, org, wf["id"], {"x": 1})
    factories.wait_for_status(client, org, execution_id, "paused")
    return execution_id, factories.approval_token(mailbox.wait_for(approver)[0])


def test_cancel_withdraws_a_wait(client, org, worker, mailbox, redis):
    execution_id, link = approval_run(client, org, mailbox)

    resp = post(client, org, f"/executions/{execution_id}/cancel", {"reason": "deal lost"})

    assert resp.status_code == 200 and resp.json["status"] == "canceled"
    assert client.simulate_get(f"/api/v1/approvals/{link}").status_code == 410
    assert client.simulate_post(f"/api/v1/approvals/{link}/decision", json={"decision": "approved"}).status_code == 410
    assert [s["status"] for s in factories.steps(client, org, execution_id)] == ["success", "skipped", "pending"]
    assert factories.stream_types(redis, execution_id)[-1] == "execution.canceled"
    assert post(client, org, f"/executions/{execution_id}/cancel").status_code == 409
    audit = client.simulate_get(f"/api/v1/executions/{execution_id}/audit", headers=org.headers).json["events"]
    assert "execution.canceled" in [e["action"] for e in audit]


def test_cancel_during_a_node_stops_before_the_next(client, org, worker, httpserver):
    gate, calls = threading.Event(), []
    httpserver.expect_request("/slow").respond_with_handler(lambda r: (gate.wait(20), Response("ok"))[1])
    httpserver.expect_request("/next").respond_with_handler(lambda r: (calls.append(1), Response("ok"))[1])
    wf = factories.workflow(client, org, [
        {"node_type": "outgoing-webhook", "label": "slow", "config": {"url": httpserver.url_for("/slow")}},
        {"node_type": "outgoing-webhook", "label": "next", "config": {"url": httpserver.url_for("/next")}},
    ])
    execution_id = factories.start(client, org, wf["id"])
    wait_until(lambda: factories.steps(client, org, execution_id)[0]["status"] == "running", 30, message="running")

    assert post(client, org, f"/executions/{execution_id}/cancel").json["status"] == "canceled"
    gate.set()

    wait_until(lambda: factories.steps(client, org, execution_id)[0]["status"] == "success", 30, message="node done")
    assert factories.run_state(client, org, execution_id)["status"] == "canceled"
    assert factories.steps(client, org, execution_id)[1]["status"] == "pending" and calls == []


def test_cancel_withdraws_the_envelope_at_the_provider(client, org, worker, db):
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "A", "email": "a@acme.example"}]}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")

    post(client, org, f"/executions/{execution_id}/cancel")

    wait_until(lambda: SandboxEnvelope.get(SandboxEnvelope.idempotency_key.startswith(execution_id)).status
               == "canceled", 30, message="envelope withdrawn")


def test_retry_from_a_step_reuses_earlier_outputs(client, org, worker, httpserver, db):
    # Given a run that rendered a document and then failed on its webhook
    failing = {"status": 404}
    received = []

    def hook(request):
        received.append(request.get_json())
        return Response("x", status=failing["status"])

    httpserver.expect_request("/hook").respond_with_handler(hook)
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "outgoing-webhook", "label": "notify",
         "config": {"url": httpserver.url_for("/hook"), "payload": {"doc": "{{step.contract.document_id}}"}}},
    ])
    first = factories.start(client, org, wf["id"], sample.trigger_data())
    assert factories.wait_for_status(client, org, first)["status"] == "failed"

    # When a person previews and retries from the webhook step
    preview = client.simulate_get(f"/api/v1/executions/{first}/retry-preview?from_step=notify", headers=org.headers)
    assert [s["label"] for s in preview.json["reused"]] == ["deal", "contract"]
    assert preview.json["reused"][1]["effects"] == ["document"]
    assert [s["label"] for s in preview.json["repeated"]] == ["notify"]
    failing["status"] = 200
    retried = post(client, org, f"/executions/{first}/retry", {"from_step": "notify"})
    assert retried.status_code == 202
    second = retried.json["execution_id"]

    # Then the new run reuses the document and only calls the webhook again
    state = factories.wait_for_status(client, org, second)
    assert state["status"] == "completed" and state["retry_of"] == first
    assert [s["status"] for s in factories.steps(client, org, second)] == ["skipped", "skipped", "success"]
    copied = GeneratedDocument.get(GeneratedDocument.execution == second)
    assert received[-1] == {"doc": factories.steps(client, org, first)[1]["data_out"]["document_id"]}
    assert copied.sha256 == GeneratedDocument.get(GeneratedDocument.execution == first).sha256
    assert post(client, org, f"/executions/{first}/retry", {"from_step": "nope"}).status_code == 404


def test_manual_signature_on_a_completed_run(client, org, worker, web_server):
    import requests

    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [factories.render_node(template_id)])
    first = factories.start(client, org, wf["id"], sample.trigger_data())
    assert factories.wait_for_status(client, org, first)["status"] == "completed"

    resp = post(client, org, f"/executions/{first}/request-signature",
                {"signers": [{"name": "Ana", "email": "ana@acme.example"}]})
    assert resp.status_code == 202
    second = resp.json["execution_id"]
    factories.wait_for_status(client, org, second, "signing")
    signer = factories.steps(client, org, second)[-1]["data_out"]["signers"][0]
    assert requests.post(signer["sign_url"], json={"action": "signed"}, timeout=10).status_code == 200
    state = factories.wait_for_status(client, org, second)
    assert state["status"] == "completed" and state["signature_state"] == "signed"
    assert post(client, org, f"/executions/{second}/request-signature", {"signers": []}).status_code == 422


def test_dry_run_renders_a_preview_and_touches_nothing_outside(client, org, worker, mailbox, files_root):
    to = f"dry+{org.id[:8]}@acme.example"
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "storage", "label": "archive", "config": {"folder": "dry"}},
        {"node_type": "email", "label": "send", "config": {"to": [to]}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data(), dry_run=True)

    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "completed" and state["dry_run"] is True
    assert [s["status"] for s in factories.steps(client, org, execution_id)] == ["success", "success", "pending", "pending"]
    docs = client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers).json["documents"]
    assert len(docs) == 1 and docs[0]["is_preview"] is True
    download = client.simulate_get(docs[0]["download_url"], headers=org.headers)
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert not (files_root / org.id / "dry").exists()
    assert mailbox.messages(to) == []


def test_until_phase_stops_cleanly_after_that_phase(client, org, worker, mailbox):
    to = f"until+{org.id[:8]}@acme.example"
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "email", "label": "send", "config": {"to": [to]}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data(), until_phase="render")

    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "completed" and state["until_phase"] == "render" and state["progress"] == 100
    assert "render" in state["phase_metrics"] and "delivery" not in state["phase_metrics"]
    assert [s["status"] for s in factories.steps(client, org, execution_id)] == ["success", "success", "pending"]
    assert mailbox.messages(to) == []
