"""What a developer trying DocG runs into first: wrong URLs, ids, step types; the mail page."""
import email.message
import uuid

import pytest

from integrations.local import maildrop
from tests import factories

ADMIN = {"Authorization": "Bearer test-admin-token"}


def error_of(resp):
    return resp.json["error"]


def test_the_dashboard_url_without_a_slash_redirects_to_the_dashboard(client):
    assert client.simulate_get("/ops/dramatiq").status_code == 401
    resp = client.simulate_get("/ops/dramatiq", headers=ADMIN)
    assert resp.status_code == 308 and resp.headers["Location"].endswith("/ops/dramatiq/")
    assert client.simulate_get("/ops/dramatiq/", headers=ADMIN).status_code == 200


def test_an_unknown_route_answers_a_404_that_says_where_the_api_is(client):
    resp = client.simulate_get("/nowhere")
    assert resp.status_code == 404 and error_of(resp)["code"] == "route_not_found"
    assert "/api/v1/" in error_of(resp)["message_human"]


def test_an_api_path_without_the_prefix_names_the_right_url(client):
    # Given an approval decision posted where the approval page lives
    resp = client.simulate_post("/approvals/some-token/decision", json={"decision": "approved"})
    # Then the 404 names the API URL
    assert resp.status_code == 404
    assert "POST /api/v1/approvals/some-token/decision" in error_of(resp)["message_human"]
    assert "/api/v1/workflows" in error_of(client.simulate_get("/workflows"))["message_human"]


@pytest.mark.parametrize("value", ["acme", "1 OR 1=1", "x" * 500, "3f2b8c1e"])
def test_a_malformed_organization_id_is_a_400_saying_so(client, org, value):
    resp = client.simulate_get("/api/v1/workflows", headers={**org.headers, "X-Organization-ID": value})
    assert resp.status_code == 400 and error_of(resp)["code"] == "malformed_organization_id"
    assert "malformed" in error_of(resp)["message_human"]


def test_a_well_formed_organization_id_of_another_organization_is_still_403(client, org):
    resp = client.simulate_get("/api/v1/workflows", headers={**org.headers, "X-Organization-ID": str(uuid.uuid4())})
    assert resp.status_code == 403


def test_an_unknown_node_type_lists_the_valid_ones(client, org):
    resp = client.simulate_post("/api/v1/workflows", json={"name": "x", "nodes": [{"node_type": "emial"}]},
                                headers=org.headers)
    assert resp.status_code == 422
    human = error_of(resp)["message_human"]
    assert "emial" in human and "email" in human and "local-docx" in human and "GET /api/v1/apps" in human


@pytest.fixture
def caught(app):
    folder = maildrop.folder_of(app.settings.var_dir)
    folder.mkdir(parents=True, exist_ok=True)
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Cc"] = "docg@localhost", "ana@acme.example", "bo@acme.example"
    message["Subject"] = "Approve <the> contract"
    message["X-DocG-Approval-Link"] = "http://localhost:8000/approvals/tok"
    message.set_content("Please approve.")
    path = folder / f"20261201T000000-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(message.as_bytes())
    yield path
    path.unlink()


def test_the_mail_page_lists_caught_messages_and_downloads_them(client, caught):
    assert client.simulate_get("/ops/mail").status_code == 401
    listed = client.simulate_get("/ops/mail", headers={**ADMIN, "Accept": "application/json"}).json["messages"]
    mine = next(m for m in listed if m["name"] == caught.name)
    assert mine["subject"] == "Approve <the> contract"
    assert mine["recipients"] == ["ana@acme.example", "bo@acme.example"]
    assert mine["received_at"].endswith("Z") and mine["approval_link"].endswith("/approvals/tok")
    page = client.simulate_get("/ops/mail", headers=ADMIN)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Approve &lt;the&gt; contract" in page.text and f'href="/ops/mail/{caught.name}"' in page.text
    download = client.simulate_get(f"/ops/mail/{caught.name}", headers=ADMIN)
    assert download.status_code == 200 and download.content == caught.read_bytes()
    assert download.headers["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("name", ["../../etc/passwd", "..%2f..%2fsecret.eml", "nope.eml", ".eml"])
def test_the_mail_download_refuses_anything_but_a_caught_message(client, name):
    assert client.simulate_get(f"/ops/mail/{name}", headers=ADMIN).status_code == 404


EMAIL_AND_APPROVAL = [{"node_type": "webhook", "label": "deal"},
                      {"node_type": "email", "label": "notify", "config": {"to": ["ana@acme.example"]}},
                      {"node_type": "review-documents", "label": "review", "config": {"approvers": ["b@acme.example"]}}]


def _smtp_warnings(client, org):
    wf = factories.workflow(client, org, EMAIL_AND_APPROVAL)
    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", json={"trigger_data": {}},
                                headers=org.headers)
    assert resp.status_code == 200, resp.text
    return [i for i in resp.json["issues"] if i["code"] == "delivery.smtp_unreachable"], resp.json


def test_preflight_warns_when_the_smtp_server_does_not_answer(client, org, services, monkeypatch):
    # Given SMTP_URL naming a port where nothing listens
    import dataclasses

    from tests.support import free_port

    monkeypatch.setattr(services, "settings",
                        dataclasses.replace(services.settings, smtp_url=f"smtp://127.0.0.1:{free_port()}"))
    warnings, body = _smtp_warnings(client, org)
    assert {w["node_id"] for w in warnings} and all(w["severity"] == "warning" for w in warnings)
    assert "does not answer" in warnings[0]["message_human"] and body["ok"] is True


def test_preflight_is_quiet_when_the_smtp_server_answers(client, org, mailbox):
    warnings, _ = _smtp_warnings(client, org)
    assert warnings == []


def test_the_mail_page_links_only_web_addresses(client, caught):
    # Given a message whose approval header is a script URL (anyone on the machine may send to the catcher)
    caught.write_bytes(caught.read_bytes().replace(b"http://localhost:8000/approvals/tok", b"javascript:alert(1)"))
    page = client.simulate_get("/ops/mail", headers=ADMIN).text
    assert "javascript:" not in page
