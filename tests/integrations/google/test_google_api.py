"""The Google apps through DocG's API: catalogue, dynamic data, connection test, preflight."""
import datetime

import pytest

from integrations.connections import handle_for
from integrations.errors import AuthExpired
from integrations.google.drive import Drive
from storage import connections
from storage.models import Connection
from tests import factories
from tests.integrations.google.fake_google import DOCUMENT, FOLDER, FORM, PRESENTATION


def google_connection(org, google, hours=1):
    expires_at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)).isoformat()
    return connections.create(org.id, provider="google", auth_type="oauth2",
                              credentials=google.credentials(expires_at=expires_at))


def options(client, org, app, provider, connection, **params):
    resp = client.simulate_get(f"/api/v1/apps/{app}/dynamic/{provider}", headers=org.headers,
                               params={"connection_id": str(connection.id), **params})
    assert resp.status_code == 200, resp.text
    return resp.json["options"]


def test_the_catalogue_lists_five_google_apps_on_one_provider(client, org):
    apps = {app["key"]: app for app in client.simulate_get("/api/v1/apps", headers=org.headers).json["apps"]}

    google = {key: apps[key] for key in ("google-docs", "google-slides", "google-drive", "google-forms", "gmail")}
    assert {app["provider"] for app in google.values()} == {"google"}
    assert [a["key"] for app in google.values() for a in app["actions"]] == [
        "google-docs", "google-slides", "google-drive", "google-drive-share", "google-forms", "gmail",
        "gmail-create-draft"]
    assert google["google-forms"]["triggers"] == ["google-forms"]
    assert google["google-drive"]["dynamic"] == ["folders", "templates"]
    assert "POST https://gmail.googleapis.com/gmail/v1/users/me/messages/send" in google["gmail"]["actions"][0][
        "endpoints"]


def test_dynamic_folders_templates_and_questions_come_from_google(client, org, db, google):
    for n in range(120):
        google.add(f"fld-{n:03d}", f"Clientes {n:03d}", FOLDER)
    google.add("doc-1", "Contrato padrão", DOCUMENT)
    google.add("deck-1", "Proposta padrão", PRESENTATION)
    google.add("form-file", "Pedido", FORM)
    google.add_form("form-file", "Pedido", [("q-1", "Nome do cliente")], {})
    connection = google_connection(org, google)

    folders = options(client, org, "google-drive", "folders", connection)
    assert len(folders) == 120 and folders[0]["value"] == "fld-000" and folders[0]["label"] == "Clientes 000"
    assert [s.args.get("pageToken") for s in google.seen("GET", "/drive/v3/files")] == [None, "100"]
    assert [o["value"] for o in options(client, org, "google-drive", "folders", connection, search="119")] == [
        "fld-119"]
    assert [o["value"] for o in options(client, org, "google-docs", "templates", connection)] == ["doc-1"]
    assert [o["value"] for o in options(client, org, "google-slides", "templates", connection)] == ["deck-1"]
    assert [o["value"] for o in options(client, org, "google-drive", "templates", connection)] == ["doc-1", "deck-1"]
    assert [o["value"] for o in options(client, org, "google-forms", "forms", connection)] == ["form-file"]
    assert options(client, org, "google-forms", "questions", connection, form_id="form-file") == [
        {"value": "q-1", "label": "Nome do cliente", "key": "nome_do_cliente"}]
    assert all(s.headers["X-Correlation-ID"].startswith("dynamic-") for s in google.requests)


def test_the_connection_test_reads_the_google_account(client, org, db, google):
    connection = google_connection(org, google)

    resp = client.simulate_post(f"/api/v1/connections/{connection.id}/test", headers=org.headers)

    assert resp.status_code == 200 and resp.json["detail"] == {"account": "ana@acme.example", "name": "Ana Souza"}
    [seen] = google.requests
    assert (seen.path, seen.args) == ("/drive/v3/about", {"fields": "user"})


def test_preflight_reports_each_google_problem_on_its_node(client, org, db, google):
    google.add("tpl-doc", "Contrato", DOCUMENT, text=["{{ client_name }} {{ unknown_tag }} {{ step.later.x }}"])
    google.add("tpl-not-slides", "Contrato", DOCUMENT)
    connection_id = str(google_connection(org, google).id)
    wf = factories.workflow(client, org, [
        {"node_type": "google-forms", "label": "form", "config": {"connection_id": connection_id,
                                                                  "form_id": "form-deleted"}},
        {"node_type": "google-docs", "label": "doc", "config": {"connection_id": connection_id,
                                                                "template_id": "tpl-doc"}},
        {"node_type": "google-slides", "label": "deck", "config": {"connection_id": connection_id,
                                                                   "template_id": "tpl-not-slides"}},
        {"node_type": "google-docs", "label": "later", "config": {"connection_id": connection_id,
                                                                  "template_id": "{{trigger.template}}"}},
        {"node_type": "gmail", "label": "send", "config": {"connection_id": connection_id, "to": ["not-an-email"]}},
    ])

    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", headers=org.headers,
                                json={"trigger_data": {"client_name": "Acme"}})

    ids = {node["label"]: node["id"] for node in wf["nodes"]}
    found = {(issue["code"], issue["node_id"]) for issue in resp.json["issues"]}
    assert found == {("forms.form_not_found", ids["form"]), ("template.unmapped_tags", ids["doc"]),
                     ("template.not_found", ids["deck"]), ("unresolved_variables", ids["later"]),
                     ("delivery.invalid_email", ids["send"])}
    unmapped = next(i for i in resp.json["issues"] if i["code"] == "template.unmapped_tags")
    assert "unknown_tag" in unmapped["message_human"] and "step.later.x" in unmapped["message_human"]
    assert not any("trigger.template" in s.path or "%7B" in s.path for s in google.requests)


def test_a_refused_refresh_marks_the_connection_revoked(org, db, google, services):
    connection = google_connection(org, google, hours=-1)
    google.refresh_tokens.clear()

    with pytest.raises(AuthExpired):
        Drive.for_connection(handle_for(connection.id, org.id, services.settings), "corr-1").about()

    assert Connection.get_by_id(connection.id).status == "revoked"
