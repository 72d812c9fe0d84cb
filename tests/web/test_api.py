"""The REST API through the real app: auth, tenancy, errors, CRUD, runs."""
import json

import pytest

from cli import sample
from tests import factories

NODES = [{"node_type": "webhook", "label": "deal", "config": {"required_fields": ["name"]}}]


def error_of(resp):
    return resp.json["error"]


def test_auth_is_required_and_tokens_are_bound_to_their_organization(client, org, other_org):
    assert client.simulate_get("/api/v1/workflows").status_code == 401
    assert client.simulate_get("/api/v1/workflows", headers={"Authorization": "Bearer nope",
                                                              "X-Organization-ID": org.id}).status_code == 401
    missing_org = client.simulate_get("/api/v1/workflows", headers={"Authorization": f"Bearer {org.token}"})
    assert missing_org.status_code == 401
    crossed = client.simulate_get("/api/v1/workflows", headers={**org.headers, "X-Organization-ID": other_org.id})
    assert crossed.status_code == 403 and error_of(crossed)["code"] == "forbidden"
    assert set(error_of(crossed)) == {"code", "message_human", "message_tech"}


def test_workflow_crud_round_trip(client, org):
    created = factories.workflow(client, org, NODES, name="Contracts")
    assert created["status"] == "draft" and created["nodes"][0]["label"] == "deal"
    assert created["webhook_secret"]
    wf_url = f"/api/v1/workflows/{created['id']}"

    updated = client.simulate_put(wf_url, json={"name": "Contracts v2", "nodes": NODES * 1}, headers=org.headers)
    assert updated.status_code == 200 and updated.json["name"] == "Contracts v2"
    activated = client.simulate_post(f"{wf_url}/activate", headers=org.headers)
    assert activated.json["status"] == "active"
    listed = client.simulate_get("/api/v1/workflows", headers=org.headers).json["workflows"]
    assert [w["id"] for w in listed] == [created["id"]]

    assert client.simulate_delete(wf_url, headers=org.headers).status_code == 204
    assert client.simulate_get(wf_url, headers=org.headers).status_code == 404


def test_other_organizations_rows_are_not_found(client, org, other_org):
    wf = factories.workflow(client, org, NODES)
    execution_id = factories.start(client, org, wf["id"], {"name": "x"})
    template_id = factories.template(client, org)
    for path in (f"/api/v1/workflows/{wf['id']}", f"/api/v1/workflows/{wf['id']}/runs",
                 f"/api/v1/executions/{execution_id}", f"/api/v1/executions/{execution_id}/steps",
                 f"/api/v1/templates/{template_id}"):
        resp = client.simulate_get(path, headers=other_org.headers)
        assert resp.status_code == 404, path
        assert error_of(resp)["code"] == "not_found"
    assert client.simulate_post(f"/api/v1/workflows/{wf['id']}/executions", json={},
                                headers=other_org.headers).status_code == 404
    assert client.simulate_delete(f"/api/v1/workflows/{wf['id']}", headers=other_org.headers).status_code == 404


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "malformed_json"),
    (b"\xff\xfe", 400, "malformed_json"),
    (b"[]", 422, "invalid_fields"),
    (json.dumps({"name": ""}).encode(), 422, "invalid_fields"),
    (json.dumps({"name": "x", "nodes": [{"node_type": "nope"}]}).encode(), 422, "invalid_fields"),
    (json.dumps({"name": "x", "nodes": [{"node_type": "webhook", "label": "a"},
                                        {"node_type": "webhook", "label": "a"}]}).encode(), 422, "invalid_fields"),
    (json.dumps({"name": "x", "extra": 1}).encode(), 422, "invalid_fields"),
    (json.dumps({"name": 5}).encode(), 422, "invalid_fields"),
])
def test_bad_bodies_get_clear_json_errors(client, org, body, status, code):
    resp = client.simulate_post("/api/v1/workflows", body=body,
                                headers={**org.headers, "Content-Type": "application/json"})
    assert resp.status_code == status, resp.text
    assert error_of(resp)["code"] == code
    assert error_of(resp)["message_human"]


def test_bodies_over_one_mebibyte_are_refused(client, org):
    big = json.dumps({"name": "x", "description": "a" * (1024 * 1024)}).encode()
    resp = client.simulate_post("/api/v1/workflows", body=big, headers={**org.headers,
                                                                         "Content-Type": "application/json"})
    assert resp.status_code == 413 and error_of(resp)["code"] == "payload_too_large"
    assert client.simulate_get("/api/v1/workflows", headers=org.headers).json["workflows"] == []


@pytest.mark.parametrize("path", ["/api/v1/executions/not-a-uuid", "/api/v1/workflows/%00",
                                  "/api/v1/templates/00000000-0000-0000-0000-000000000000", "/api/v1/nowhere"])
def test_unknown_ids_and_routes_are_404_json(client, org, path):
    resp = client.simulate_get(path, headers=org.headers)
    assert resp.status_code == 404 and "error" in resp.json


def test_wrong_method_is_405_json(client, org):
    resp = client.simulate_patch("/api/v1/workflows", headers=org.headers)
    assert resp.status_code == 405 and "error" in resp.json


def test_start_answers_at_once_with_a_queued_execution(client, org, db):
    wf = factories.workflow(client, org, NODES)
    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/executions",
                                json={"trigger_data": {"name": "Ana"}, "until_phase": "trigger"}, headers=org.headers)
    assert resp.status_code == 202
    assert resp.json["status"] == "queued"
    state = factories.run_state(client, org, resp.json["execution_id"])
    for field in ("status", "progress", "current_step", "preflight_summary", "delivery_state", "signature_state",
                  "last_error_human", "last_error_tech", "recommended_actions", "started_at", "completed_at",
                  "phase_metrics", "correlation_id", "workflow_id"):
        assert field in state
    assert state["until_phase"] == "trigger"
    runs = client.simulate_get(f"/api/v1/workflows/{wf['id']}/runs", headers=org.headers).json["runs"]
    assert [r["id"] for r in runs] == [resp.json["execution_id"]]


@pytest.mark.parametrize("body", [{"until_phase": "lunch"}, {"dry_run": "yes"}, {"trigger_data": []}])
def test_invalid_start_options_are_422(client, org, body):
    wf = factories.workflow(client, org, NODES)
    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/executions", json=body, headers=org.headers)
    assert resp.status_code == 422


def test_templates_upload_raw_or_base64(client, org):
    content = sample.contract_template()
    raw = client.simulate_post("/api/v1/templates?name=raw.docx", body=content,
                               headers={**org.headers, "Content-Type": "application/octet-stream"})
    assert raw.status_code == 201 and raw.json["size"] == len(content)
    fake = client.simulate_post("/api/v1/templates?name=fake.docx", body=b"PK\x03\x04 fake",
                                headers={**org.headers, "Content-Type": "application/octet-stream"})
    assert fake.status_code == 422 and fake.json["error"]["code"] == "template.invalid"
    bad = client.simulate_post("/api/v1/templates", json={"name": "x", "content": "***"}, headers=org.headers)
    assert bad.status_code == 422
    listed = client.simulate_get("/api/v1/templates", headers=org.headers).json["templates"]
    assert [t["name"] for t in listed] == ["raw.docx"]


def test_health_reports_each_dependency(client):
    resp = client.simulate_get("/health")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "db": "ok", "redis": "ok", "broker": "ok"}
    healthy = {"status": "healthy", "redis": "connected", "mode": "streams"}
    assert client.simulate_get("/api/v1/sse/health").json == healthy


def test_dramatiq_dashboard_renders_behind_the_admin_token(client, broker):
    assert client.simulate_get("/ops/dramatiq/").status_code == 401
    assert client.simulate_get("/ops/dramatiq/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    admin = {"Authorization": "Bearer test-admin-token"}
    index = client.simulate_get("/ops/dramatiq/", headers=admin)
    assert index.status_code == 200 and "pipeline" in index.text
    for view in ("/ops/dramatiq/queues/pipeline", "/ops/dramatiq/queues/pipeline/delayed",
                 "/ops/dramatiq/queues/pipeline/failed"):
        page = client.simulate_get(view, headers=admin)
        assert page.status_code == 200, (view, page.text[:300])


def test_metrics_are_prometheus_text_behind_the_admin_token(client):
    assert client.simulate_get("/metrics").status_code == 401
    resp = client.simulate_get("/metrics", headers={"Authorization": "Bearer test-admin-token"})
    assert resp.status_code == 200
    assert "docg_queue_messages" in resp.text and "docg_sse_clients" in resp.text


def test_trigger_webhooks_are_verified_active_and_deduplicated(client, org, db):
    import json as json_module
    import time

    from web.webhooks.triggers import expected_signature

    wf = factories.workflow(client, org, NODES)
    url = f"/api/v1/webhooks/triggers/{wf['id']}"
    body = json_module.dumps({"name": "Ana"}).encode()
    now = int(time.time())
    signature = expected_signature(wf["webhook_secret"], body, now)
    headers = {"Content-Type": "application/json", "X-DocG-Signature": signature, "Idempotency-Key": "evt-1"}

    assert client.simulate_post(url, body=body, headers={**headers, "X-DocG-Signature": f"t={now},v1=00"}).status_code == 401
    assert client.simulate_post(url, body=body + b" ", headers=headers).status_code == 401
    inactive = client.simulate_post(url, body=body, headers=headers)
    assert inactive.status_code == 422 and inactive.json["error"]["code"] == "workflow.inactive"

    client.simulate_post(f"/api/v1/workflows/{wf['id']}/activate", headers=org.headers)
    first = client.simulate_post(url, body=body, headers=headers)
    assert first.status_code == 202
    replayed = client.simulate_post(url, body=body, headers=headers)
    assert replayed.status_code == 409 and replayed.json["error"]["code"] == "webhook.replayed"
    retried = {**headers, "X-DocG-Signature": expected_signature(wf["webhook_secret"], body, now + 1)}
    again = client.simulate_post(url, body=body, headers=retried)
    assert again.status_code == 200 and again.json == {"duplicate": True, "execution_id": first.json["execution_id"]}
    state = factories.run_state(client, org, first.json["execution_id"])
    assert state["trigger_type"] == "webhook"
    assert client.simulate_post("/api/v1/webhooks/triggers/nope", body=body, headers=headers).status_code == 401


SEED_APPS = {"hubspot", "google-docs", "google-slides", "google-drive", "google-forms", "microsoft-word",
             "microsoft-powerpoint", "gmail", "outlook", "clicksign", "zapsign", "storage-s3", "ai", "stripe"}


def test_the_catalogue_lists_the_fourteen_apps_and_docs_are_current(client, org):
    from cli import appsdoc
    from tests.support import ROOT

    apps = {a["key"]: a for a in client.simulate_get("/api/v1/apps", headers=org.headers).json["apps"]}
    assert SEED_APPS <= set(apps)
    assert all(apps[key]["actions"] for key in SEED_APPS)
    assert (ROOT / "docs" / "apps.md").read_text() == appsdoc.render() + "\n", "run: docg apps doc --write docs/apps.md"
