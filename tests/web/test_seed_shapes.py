"""The seeds' response shapes (testing-guide-v2.md F2-F10), on real runs and real services."""
import dataclasses
import io

import docx
import falcon
import falcon.testing
import jsonschema
import pytest
import redis as redis_lib

from cli import sample
from storage import tenancy
from tests import factories
from tests.actors.test_approvals import approval_workflow, emails
from tests.support import free_port
from web.resources import health

def conforms(body, component):
    """Validate `body` against a component of the served OpenAPI document."""
    from web.openapi import document

    jsonschema.Draft202012Validator({**document(), "$ref": f"#/components/schemas/{component}"}).validate(body)


ISSUE_KEYS = {"code", "domain", "message_human", "message_tech", "node_id", "severity"}


def post(client, org, path, body=None):
    return client.simulate_post(f"/api/v1{path}", json=body, headers=org.headers)


def get(client, org, path, **params):
    return client.simulate_get(f"/api/v1{path}", params=params, headers=org.headers)


def docx_with(*paragraphs):
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def warning_workflow(client, org, template_id):
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "local-docx", "label": "contract", "config": {"template_id": template_id}},
        {"node_type": "review-documents", "label": "review",
         "config": {"approvers": [f"boss@{org.id[:8]}.example"], "timeout_hours": 4}},
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "Ana", "email": "ana@elsewhere.example"}],
                    "expires_in_days": 0.5}},
        {"node_type": "email", "label": "send", "config": {"to": ["{{trigger.email}}"], "subject": "Contract"}},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": "http://crm.example/hook"}},
    ])


def test_workflow_preflight_answers_the_seed_shape_with_warnings_that_do_not_block(client, org, db):
    # Given an organization with its own email domain, and a workflow with several risky choices
    tenancy.set_email_domains(org.id, [f"{org.id[:8]}.example"])
    template_id = factories.template(client, org, docx_with("Dear {{ client_name }},",
                                                            "Discount: {{ discount | default('none') }}"))
    wf = warning_workflow(client, org, template_id)

    # When it is checked with data that lacks the defaulted field and sends outside the domain
    resp = post(client, org, f"/workflows/{wf['id']}/preflight",
                {"trigger_data": {"client_name": "Acme", "email": "buyer@customer.example"}})

    # Then it can run, and the warnings say what may go wrong (seed F2 shape, today's fields kept)
    assert resp.status_code == 200, resp.text
    body = resp.json
    assert body["can_execute"] is True and body["blocking"] == [] and body["recommended_actions"] == []
    codes = {w["code"]: w for w in body["warnings"]}
    assert set(codes) >= {"template.default_used", "delivery.external_recipient", "approval.short_expiry",
                          "signature.short_expiry", "delivery.insecure_url"}, codes
    assert all(set(w) == ISSUE_KEYS and w["severity"] == "warning" for w in body["warnings"])
    assert "discount" in codes["template.default_used"]["message_human"]
    outside = codes["delivery.external_recipient"]["message_human"]
    assert "buyer@customer.example" in outside or "ana@elsewhere.example" in outside
    assert {w["code"] for w in body["groups"]["template"]} >= {"template.default_used"}
    assert body["ok"] is True and body["warning_count"] == len(body["warnings"]) and "issues" in body
    conforms(body, "Preflight")


def test_a_template_over_the_size_limit_is_a_warning(client, org, db, services):
    from integrations import preflight

    # Given a template and a server whose large-template limit is below its size
    template_id = factories.template(client, org)
    small_limit = dataclasses.replace(services.settings, preflight_large_template_bytes=1024)
    node = {"node_id": "n1", "node_type": "local-docx", "label": "contract", "phase": "render",
            "config": {"template_id": template_id}}

    # When preflight checks the render step
    issues = preflight.check([node], trigger=sample.trigger_data(), organization_id=org.id, settings=small_limit)

    # Then it warns, like the seed's example, without blocking
    large = [i for i in issues if i.code == "template.large_file"]
    assert len(large) == 1 and large[0].severity == "warning" and large[0].domain == "template"
    assert large[0].message_tech.startswith("Template size: ")
    default = preflight.check([node], trigger=sample.trigger_data(), organization_id=org.id,
                              settings=services.settings)
    assert not [i for i in default if i.code == "template.large_file"]


def test_sse_health_says_healthy_connected_or_unhealthy_disconnected_with_503(client):
    assert client.simulate_get("/api/v1/sse/health").json == {"status": "healthy", "redis": "connected",
                                                             "mode": "streams"}
    app = falcon.App()
    app.add_route("/sse/health", health.SseHealth(redis_lib.Redis(port=free_port(), socket_connect_timeout=1)))
    down = falcon.testing.TestClient(app).simulate_get("/sse/health")
    assert down.status_code == 503
    assert down.json == {"status": "unhealthy", "redis": "disconnected", "mode": "streams"}


def test_get_workflow_can_be_put_back_unchanged_and_node_ids_keep_their_identity(client, org, db):
    # Given a workflow read with GET
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          {"node_type": "outgoing-webhook", "label": "notify",
                                           "config": {"url": "https://crm.example/hook"}}])
    read = get(client, org, f"/workflows/{wf['id']}").json
    conforms(read, "Workflow")

    # When it is sent back unchanged, it is accepted and nothing changes
    same = client.simulate_put(f"/api/v1/workflows/{wf['id']}", json=read, headers=org.headers)
    assert same.status_code == 200, same.text
    assert [(n["id"], n["position"]) for n in same.json["nodes"]] == [(n["id"], n["position"]) for n in read["nodes"]]

    # When the nodes are reordered with their ids (positions agreeing) and one is added
    deal, notify = read["nodes"]
    reordered = {"nodes": [{**notify, "position": 0}, {**deal, "position": 1},
                           {"node_type": "webhook", "label": "extra"}]}
    moved = client.simulate_put(f"/api/v1/workflows/{wf['id']}", json=reordered, headers=org.headers)

    # Then each node keeps its id at its new place, and the new one gets a new id
    assert moved.status_code == 200, moved.text
    nodes = moved.json["nodes"]
    assert [(n["id"], n["label"], n["position"]) for n in nodes[:2]] == [(notify["id"], "notify", 0),
                                                                        (deal["id"], "deal", 1)]
    assert nodes[2]["id"] not in (deal["id"], notify["id"])

    # And a position that disagrees with the order, or another workflow's node id, is a 422 naming the field
    wrong = client.simulate_put(f"/api/v1/workflows/{wf['id']}", json={"nodes": [{**deal, "position": 3}]},
                                headers=org.headers)
    assert wrong.status_code == 422 and wrong.json["error"]["details"][0]["field"] == "nodes/0/position"
    other = factories.workflow(client, org, [{"node_type": "webhook", "label": "x"}])["nodes"][0]
    foreign = client.simulate_put(f"/api/v1/workflows/{wf['id']}", json={"nodes": [other]}, headers=org.headers)
    assert foreign.status_code == 422 and foreign.json["error"]["details"][0]["field"] == "nodes/0/id"


def test_org_audit_reads_workflow_connection_and_template_changes_with_filters(client, org, other_org, db):
    # Given changes to a workflow, a connection and a template
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    client.simulate_put(f"/api/v1/workflows/{wf['id']}", json={"name": "renamed"}, headers=org.headers)
    connection = post(client, org, "/connections", {"provider": "zapsign", "credentials": {"api_token": "t"}}).json
    client.simulate_delete(f"/api/v1/connections/{connection['id']}", headers=org.headers)
    template_id = factories.template(client, org)
    replaced = client.simulate_put(f"/api/v1/templates/{template_id}", body=sample.contract_template(),
                                   headers={**org.headers, "Content-Type": "application/octet-stream"})
    assert replaced.status_code == 200, replaced.text
    factories.workflow(client, other_org, [{"node_type": "webhook", "label": "theirs"}])

    # When the organization's audit is read, then every change is there, in order, and only this org's
    page = get(client, org, "/audit").json
    conforms(page, "AuditPage")
    conforms(connection, "Connection")
    conforms(replaced.json, "Template")
    events = page["events"]
    assert [e["action"] for e in events] == ["workflow.created", "workflow.updated", "connection.created",
                                             "connection.deleted", "template.version_updated"]
    assert {e["organization_id"] for e in events} == {org.id} and all(e["timestamp"] for e in events)

    # and each filter narrows it
    assert [e["action"] for e in get(client, org, "/audit", target_type="connection").json["events"]] == [
        "connection.created", "connection.deleted"]
    assert [e["action"] for e in get(client, org, "/audit", target_id=wf["id"]).json["events"]] == [
        "workflow.created", "workflow.updated"]
    version = get(client, org, "/audit", action="template.version_updated").json["events"]
    assert [(e["target_type"], e["target_id"]) for e in version] == [("template", template_id)]
    assert get(client, org, "/audit", actor_type="user").json["events"] == events
    assert get(client, org, "/audit", actor_type="system").json["events"] == []
    middle = events[2]["timestamp"]
    assert [e["id"] for e in get(client, org, "/audit", since=middle).json["events"]] == [e["id"] for e in events[2:]]
    assert [e["id"] for e in get(client, org, "/audit", until=middle).json["events"]] == [e["id"] for e in events[:2]]

    # and pages follow the cursor; the last page has no next cursor
    first = get(client, org, "/audit", limit=3).json
    rest = get(client, org, "/audit", limit=3, cursor=first["next_cursor"]).json
    assert first["has_more"] and [e["id"] for e in first["events"] + rest["events"]] == [e["id"] for e in events]
    assert rest["has_more"] is False and rest["next_cursor"] is None
    assert get(client, org, "/audit", actor_type="robot").status_code == 422
    assert get(client, org, "/audit", since="yesterday").status_code == 422
    assert get(client, org, "/audit", action="a\u0000b").status_code == 422


@pytest.mark.e2e
class TestOnRuns:
    """Shapes that need a real run: a real `dramatiq` worker moves it."""

    def blocked_run(self, client, org, hook="http://crm.example/hook"):
        wf = factories.workflow(client, org, [
            {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
            {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": hook}}])
        execution_id = factories.start(client, org, wf["id"], {"deal_id": 1})
        factories.wait_for_status(client, org, execution_id, "needs_review")
        return execution_id

    def test_execution_preflight_logs_and_steps_answer_the_seed_shapes(self, client, org, worker):
        execution_id = self.blocked_run(client, org)

        # The recorded preflight has the seed F2 shape next to today's fields
        preflight = get(client, org, f"/executions/{execution_id}/preflight").json
        conforms(preflight, "Preflight")
        conforms(factories.run_state(client, org, execution_id), "RunState")
        assert preflight["can_execute"] is False and preflight["status"] == "needs_review"
        assert [i["code"] for i in preflight["blocking"]] == ["missing_required_field"]
        assert [w["code"] for w in preflight["warnings"]] == ["delivery.insecure_url"]
        assert [a["action"] for a in preflight["recommended_actions"]] == ["fill_required"]
        assert preflight["groups"] == preflight["preflight_summary"]["groups"]

        # Log rows (F5): execution_id, timestamp, message_tech; a limit above 100 is capped, not refused
        logs = get(client, org, f"/executions/{execution_id}/logs", limit=1000)
        assert logs.status_code == 200 and logs.json["has_more"] is False and logs.json["next_cursor"] is None
        row = logs.json["logs"][0]
        assert row["execution_id"] == execution_id and row["timestamp"] and row["message_tech"] == row["details_tech"]
        one = get(client, org, f"/executions/{execution_id}/logs", limit=1).json
        assert one["has_more"] is True and one["next_cursor"]

        # Step rows (F7): execution_id and step_index
        steps = factories.steps(client, org, execution_id)
        assert [(s["execution_id"], s["step_index"]) for s in steps] == [(execution_id, 0), (execution_id, 1)]

        # Audit rows (F6): timestamp and organization_id
        audit = get(client, org, f"/executions/{execution_id}/audit", limit=500).json
        assert audit["events"][0]["organization_id"] == org.id and audit["events"][0]["timestamp"]
        assert audit["next_cursor"] is None

    def test_resume_takes_the_seed_body_and_answers_success(self, client, org, worker):
        # Given a run in review because a required field is missing
        execution_id = self.blocked_run(client, org)

        # When the reviewer approves with the seed's flat changes
        resp = post(client, org, f"/executions/{execution_id}/resume",
                    {"approved": True, "changes": {"client_name": "Acme"}})

        # Then the answer is the run state with success and the signal, and the run goes on
        assert resp.status_code == 200, resp.text
        assert resp.json["success"] is True and resp.json["signal"] == "signal_sent"
        assert resp.json["id"] == execution_id and resp.json["status"] in ("ready", "running", "completed", "failed")

        # And declining a review cancels the run
        declined = self.blocked_run(client, org)
        resp = post(client, org, f"/executions/{declined}/resume", {"approved": False})
        assert resp.status_code == 200 and resp.json["status"] == "canceled" and resp.json["success"] is True

    def test_retry_with_corrected_trigger_data_from_a_step(self, client, org, worker, httpserver):
        # Given a run stopped for review and canceled (NOTE: its hook answers, so that the retried run does not
        # spend its hop retries on a name that does not resolve)
        httpserver.expect_request("/hook").respond_with_data("ok")
        execution_id = self.blocked_run(client, org, httpserver.url_for("/hook"))
        post(client, org, f"/executions/{execution_id}/cancel", {"reason": "fix data"})

        # When it is retried with the seed's body: corrected data, from the first step
        resp = post(client, org, f"/executions/{execution_id}/retry",
                    {"trigger_data": {"deal_id": 1, "client_name": "Acme"}, "from_step": 0})

        # Then a new run starts with that data and gets past the check that stopped the first one
        assert resp.status_code == 202, resp.text
        retried = resp.json["execution_id"]
        state = factories.wait_for_status(client, org, retried, ("completed", "failed", "needs_review"))
        assert state["retry_of"] == execution_id
        preflight = get(client, org, f"/executions/{retried}/preflight").json
        assert preflight["blocking"] == [] and preflight["can_execute"] is True
        audit = get(client, org, f"/executions/{execution_id}/audit").json["events"]
        assert audit[-1]["action"] == "execution.retried" and audit[-1]["metadata"]["trigger_data_replaced"] is True

    def test_decision_answers_success_and_the_execution_status(self, client, org, worker, mailbox):
        # Given a run paused for one approver
        ana = emails(org, "ana")
        wf = approval_workflow(client, org, [ana], emails(org, "customer"))
        execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
        factories.wait_for_status(client, org, execution_id, "paused")
        token = factories.approval_token(mailbox.wait_for(ana)[0])

        # When ana approves
        resp = client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "approved"})

        # Then the answer has the seed's success and execution_status, and today's fields
        assert resp.status_code == 200, resp.text
        assert resp.json["success"] is True and resp.json["decision"] == "approved" and resp.json["approver"] == ana
        assert resp.json["execution_status"] in ("ready", "running", "sending", "sent", "completed")

        # And the finished run's state, steps, logs and audit conform to the documented schemas
        conforms(factories.wait_for_status(client, org, execution_id), "RunState")
        conforms(get(client, org, f"/executions/{execution_id}/steps").json, "StepList")
        conforms(get(client, org, f"/executions/{execution_id}/logs").json, "LogPage")
        conforms(get(client, org, f"/executions/{execution_id}/audit").json, "AuditPage")
        conforms(get(client, org, f"/executions/{execution_id}/documents").json, "DocumentList")
        conforms(get(client, org, f"/executions/{execution_id}/preflight").json, "Preflight")

    def test_a_run_waiting_for_signatures_conforms_to_the_run_state_schema(self, client, org, worker, web_server):
        from tests.actors.test_signatures import signature_workflow, signers_of

        # Given a run that waits for a signer (signature_state "signing")
        wf = signature_workflow(client, org, signers_of(org, "ana"), "x@acme.example")
        execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
        state = factories.wait_for_status(client, org, execution_id, "signing")

        # Then its state and steps are what the document says, and so is the canceled run
        assert state["signature_state"] == "signing"
        conforms(state, "RunState")
        conforms(get(client, org, f"/executions/{execution_id}/steps").json, "StepList")
        conforms(post(client, org, f"/executions/{execution_id}/cancel", {"reason": "test"}).json, "RunState")
