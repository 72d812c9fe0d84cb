"""Google runs end to end: the real worker against one fake Google server."""
import datetime
import json

import pytest

from integrations.base import NodeContext, load_apps
from storage import connections
from storage.models import Connection, Execution
from tests import factories
from web.webhooks.triggers import expected_signature
from tests.integrations.google.fake_google import ACCESS_TOKEN, DOCUMENT, FOLDER, PRESENTATION, REFRESH_TOKEN

pytestmark = pytest.mark.e2e
DEAL = {"deal_id": "D-1042", "client_name": "Acme Corp", "amount": "12,500.00", "currency": "USD",
        "contact": {"name": "Ana Souza", "email": "ana@acme.example"}}
TEMPLATE = ["Contrato entre DocG Ltda. e {{ client_name }}, representada por {{ contact.name }}.",
            "Valor: {{ amount }} {{ currency }}. Referência: {{trigger.deal_id}}."]


def in_hours(hours):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)).isoformat()


def google_connection(org, google, **extra):
    credentials = google.credentials(expires_at=in_hours(1), **extra)
    return str(connections.create(org.id, provider="google", auth_type="oauth2", credentials=credentials).id)


def docs_node(connection_id, **config):
    return {"node_type": "google-docs", "label": "contract",
            "config": {"connection_id": connection_id, "template_id": "tpl-contract", "folder_id": "fld-contracts",
                       "output_name": "Contrato {{trigger.client_name}}", "pdf": True, **config}}


def post_trigger(client, wf, payload):
    body = json.dumps(payload).encode()
    signature = expected_signature(wf["webhook_secret"], body)
    resp = client.simulate_post(f"/api/v1/webhooks/triggers/{wf['id']}", body=body,
                                headers={"Content-Type": "application/json", "X-DocG-Signature": signature})
    assert resp.status_code == 202, resp.text
    return resp.json["execution_id"]


def issues_of(client, org, execution_id):
    preflight = client.simulate_get(f"/api/v1/executions/{execution_id}/preflight", headers=org.headers).json
    issues = [issue for group in preflight["preflight_summary"]["groups"].values() for issue in group]
    return {(i["code"], i["node_id"]) for i in issues}, preflight["recommended_actions"]


@pytest.fixture
def account(google):
    google.add("fld-contracts", "Contratos", FOLDER)
    google.add("tpl-contract", "Contrato modelo", DOCUMENT, text=TEMPLATE)
    return google


def test_webhook_renders_a_google_doc_saves_it_to_drive_and_sends_it_with_gmail(client, org, db, worker, account,
                                                                                services):
    google = account
    connection_id = google_connection(org, google)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name", "contact.email"]}},
        docs_node(connection_id),
        {"node_type": "google-drive", "label": "archive",
         "config": {"connection_id": connection_id, "folder_id": "fld-contracts"}},
        {"node_type": "gmail", "label": "send",
         "config": {"connection_id": connection_id, "to": ["{{trigger.contact.email}}"],
                    "subject": "Contrato {{trigger.deal_id}}", "body": "Olá! Veja também {{step.contract.url}}",
                    "attach_documents": True}},
    ])
    client.simulate_post(f"/api/v1/workflows/{wf['id']}/activate", headers=org.headers)

    # When the deal webhook arrives
    execution_id = post_trigger(client, wf, DEAL)
    state = factories.wait_for_status(client, org, execution_id)

    # Then the template was copied into the folder and its tags replaced with the deal's values
    assert state["status"] == "completed", state
    [copy_call] = google.seen("POST", r"/drive/v3/files/tpl-contract/copy")
    assert copy_call.json()["name"] == "Contrato Acme Corp" and copy_call.json()["parents"] == ["fld-contracts"]
    assert copy_call.json()["appProperties"]["docgKey"].startswith(execution_id)
    [update] = google.seen("POST", r"/v1/documents/.+:batchUpdate")
    replaced = {r["replaceAllText"]["containsText"]["text"]: r["replaceAllText"]["replaceText"]
                for r in update.json()["requests"]}
    assert replaced == {"{{ client_name }}": "Acme Corp", "{{ contact.name }}": "Ana Souza",
                        "{{ amount }}": "12,500.00", "{{ currency }}": "USD", "{{trigger.deal_id}}": "D-1042"}
    steps = factories.steps(client, org, execution_id)
    doc_out = steps[1]["data_out"]
    assert google.text_of(doc_out["google_file_id"]) == ("Contrato entre DocG Ltda. e Acme Corp, representada por "
                                                         "Ana Souza.\nValor: 12,500.00 USD. Referência: D-1042.")
    assert google.seen("GET", rf"/drive/v3/files/{doc_out['google_file_id']}/export")[0].args["mimeType"] == \
        "application/pdf"

    # And the PDF was uploaded to the folder and mailed as an attachment
    [upload] = google.seen("POST", r"/upload/drive/v3/files")
    [stored] = [f for f in google.files.values() if f["content"]]
    assert stored["name"] == "Contrato Acme Corp.pdf" and stored["parents"] == ["fld-contracts"]
    assert stored["content"].startswith(b"%PDF") and b"Acme Corp" in stored["content"]
    assert steps[2]["data_out"]["files"] == [{"id": stored["id"], "name": "Contrato Acme Corp.pdf",
                                              "url": f"https://docs.google.com/open?id={stored['id']}",
                                              "document_id": doc_out["document_id"]}]
    [message] = google.sent
    assert (message["To"], message["Subject"]) == ("ana@acme.example", "Contrato D-1042")
    assert doc_out["url"] in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Contrato Acme Corp.pdf" and attachment.get_content() == stored["content"]
    assert steps[3]["data_out"]["message_id"] and steps[3]["data_out"]["attachments"] == ["Contrato Acme Corp.pdf"]

    # And every call was authenticated; the run's calls carry its correlation id
    correlation = state["correlation_id"]
    assert {s.headers["Authorization"] for s in google.requests} == {f"Bearer {ACCESS_TOKEN}"}
    for seen in google.requests:
        assert seen.headers["X-Correlation-ID"] == correlation or seen.headers["X-Correlation-ID"].startswith(
            "preflight-")
    assert {s.headers["X-Correlation-ID"] for s in [copy_call, update, upload, *google.seen("POST", r"/gmail.*")]} \
        == {correlation}

    # When the render and send nodes are delivered again, the ledger keeps Google from a second copy or email
    execution = Execution.get_by_id(execution_id)
    for step in (steps[1], steps[3]):
        ctx = NodeContext(execution_id=execution_id, organization_id=org.id, workflow_id=wf["id"],
                          correlation_id=correlation, node_id=step["node_id"], node_type=step["node_type"],
                          label=step["label"], position=step["position"], config=step["data_in"],
                          run=execution.execution_context, settings=services.settings, services=services)
        load_apps().action(step["node_type"]).run(ctx)
    assert len(google.seen("POST", r"/drive/v3/files/tpl-contract/copy")) == 1 and len(google.sent) == 1


def test_a_form_response_fills_a_google_slides_deck(client, org, db, worker, google):
    google.add_form("form-1", "Pedido de proposta", [("q-name", "Nome do cliente"), ("q-plan", "Plano")],
                    {"resp-9": {"q-name": "Acme Ltda", "q-plan": "Enterprise"}})
    google.add("tpl-deck", "Proposta modelo", PRESENTATION,
               text=["Proposta para {{step.form.nome_do_cliente}}", "Plano {{ step.form.answers.Plano }}"])
    connection_id = google_connection(org, google)
    wf = factories.workflow(client, org, [
        {"node_type": "google-forms", "label": "form", "config": {"connection_id": connection_id, "form_id": "form-1",
                                                                  "response_id": "{{trigger.response_id}}"}},
        {"node_type": "google-slides", "label": "deck",
         "config": {"connection_id": connection_id, "template_id": "tpl-deck", "output_name": "Proposta"}},
    ])

    execution_id = factories.start(client, org, wf["id"], {"response_id": "resp-9"})
    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "completed", state
    form_out, deck_out = [s["data_out"] for s in factories.steps(client, org, execution_id)]
    assert form_out["answers"] == {"Nome do cliente": "Acme Ltda", "Plano": "Enterprise"}
    assert google.text_of(deck_out["google_file_id"]) == "Proposta para Acme Ltda\nPlano Enterprise"
    assert deck_out["name"] == "Proposta.pptx" and deck_out["replaced"] == 2
    assert deck_out["content_type"] == "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    assert google.seen("GET", r"/v1/forms/form-1/responses/resp-9")


@pytest.mark.parametrize("how", ["expired", "rejected"])
def test_an_old_access_token_is_refreshed_persisted_and_the_run_goes_on(client, org, db, worker, account, how):
    google = account
    credentials = google.credentials(expires_at=in_hours(-1 if how == "expired" else 1))
    if how == "rejected":
        google.tokens.clear()  # Google no longer takes the token although it has not expired yet
    connection = connections.create(org.id, provider="google", auth_type="oauth2", credentials=credentials)
    wf = factories.workflow(client, org, [docs_node(str(connection.id), pdf=False)])

    execution_id = factories.start(client, org, wf["id"], DEAL)
    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "completed", state
    [refresh] = google.seen("POST", "/token")
    form = dict(pair.split("=", 1) for pair in refresh.body.decode().split("&"))
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == REFRESH_TOKEN.replace("/", "%2F")
    stored = Connection.get_by_id(connection.id)
    new_token = stored.credentials["access_token"]
    assert new_token.startswith("ya29.a0-refreshed-") and stored.credentials["refresh_token"] == REFRESH_TOKEN
    assert stored.token_expires_at > datetime.datetime.now(datetime.timezone.utc)
    after = google.requests[google.requests.index(refresh) + 1:]
    assert after and {s.headers["Authorization"] for s in after} == {f"Bearer {new_token}"}
    assert google.seen("POST", r"/drive/v3/files/tpl-contract/copy")


@pytest.mark.parametrize("how", ["revoked", "refresh_refused"])
def test_a_revoked_connection_stops_the_run_in_review_with_reconnect(client, org, db, worker, account, how):
    google = account
    connection = connections.create(org.id, provider="google", auth_type="oauth2",
                                    credentials=google.credentials(expires_at=in_hours(-1)))
    if how == "revoked":
        connections.mark(connection.id, "revoked")
    else:
        google.refresh_tokens.clear()  # the user removed DocG's access in their Google account
    wf = factories.workflow(client, org, [docs_node(str(connection.id))])

    execution_id = factories.start(client, org, wf["id"], DEAL)
    state = factories.wait_for_status(client, org, execution_id, "needs_review")

    node_id = wf["nodes"][0]["id"]
    issues, actions = issues_of(client, org, execution_id)
    assert ("oauth_expired", node_id) in issues
    assert {"action": "reconnect_provider", "target_node_id": node_id} in [
        {"action": a["action"], "target_node_id": a["target_node_id"]} for a in state["recommended_actions"]]
    assert not google.seen("POST", r"/drive/v3/files/.+/copy")
    if how == "refresh_refused":
        assert google.seen("POST", "/token") and not google.seen("GET", r"/drive/v3/files/.+")


def test_no_access_to_the_template_or_folder_is_a_permissions_issue(client, org, db, worker, account):
    google = account
    google.denied.add("tpl-contract")
    connection_id = google_connection(org, google)
    wf = factories.workflow(client, org, [
        docs_node(connection_id),
        {"node_type": "google-drive", "label": "archive", "config": {"connection_id": connection_id,
                                                                     "folder_id": "fld-deleted"}},
    ])

    execution_id = factories.start(client, org, wf["id"], DEAL)
    factories.wait_for_status(client, org, execution_id, "needs_review")

    docs_id, drive_id = (node["id"] for node in wf["nodes"])
    issues, actions = issues_of(client, org, execution_id)
    assert issues == {("drive.insufficient_permissions", docs_id), ("drive.folder_not_found", drive_id)}
    assert {(a["action"], a["target_node_id"]) for a in actions} == {("fix_permissions", docs_id),
                                                                      ("select_folder", drive_id)}
    assert [s.path for s in google.seen("GET", r"/drive/v3/files/.+")] == [
        "/drive/v3/files/fld-contracts", "/drive/v3/files/tpl-contract", "/drive/v3/files/fld-deleted"]
    assert not google.seen("POST", r"/drive/v3/files/.+/copy")



def test_the_saved_contract_is_shared_with_the_client_once(client, org, db, worker, account, services):
    # Given a workflow that renders a contract, saves it to Drive and shares it
    google = account
    connection_id = google_connection(org, google)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        docs_node(connection_id),
        {"node_type": "google-drive", "label": "archive",
         "config": {"connection_id": connection_id, "folder_id": "fld-contracts"}},
        {"node_type": "google-drive-share", "label": "share",
         "config": {"connection_id": connection_id, "emails": ["{{trigger.contact.email}}", "legal@acme.example"],
                    "role": "commenter", "message": "Contrato {{trigger.deal_id}} para revisão."}},
    ])

    # When it runs
    execution_id = factories.start(client, org, wf["id"], DEAL)
    state = factories.wait_for_status(client, org, execution_id)

    # Then the uploaded PDF was shared with both people, who were notified with the message
    assert state["status"] == "completed", state
    [stored] = [f for f in google.files.values() if f["content"]]
    assert [(p["emailAddress"], p["role"], p["notified"], p["message"]) for p in stored["permissions"]] == [
        ("ana@acme.example", "commenter", True, "Contrato D-1042 para revisão."),
        ("legal@acme.example", "commenter", True, "Contrato D-1042 para revisão.")]
    shares = google.seen("POST", rf"/drive/v3/files/{stored['id']}/permissions")
    assert {s.headers["X-Correlation-ID"] for s in shares} == {state["correlation_id"]}
    assert all(s.args["supportsAllDrives"] == "true" for s in shares)
    step = factories.steps(client, org, execution_id)[3]
    assert step["data_out"]["file_id"] == stored["id"] and step["data_out"]["url"] == (
        f"https://docs.google.com/open?id={stored['id']}")
    assert step["data_out"]["shared_with"] == ["ana@acme.example", "legal@acme.example"]

    # When the hop is delivered again, nobody is granted (or emailed) twice
    assert factories.redeliver(services, org, execution_id, step) == step["data_out"]
    assert len(google.seen("POST", r"/drive/v3/files/.+/permissions")) == 2 and len(stored["permissions"]) == 2


def test_preflight_catches_bad_emails_and_a_missing_saved_file(client, org, db, worker, account):
    connection_id = google_connection(org, account)
    wf = factories.workflow(client, org, [
        docs_node(connection_id),
        {"node_type": "google-drive-share", "label": "share",
         "config": {"connection_id": connection_id, "emails": ["not-an-email"]}},
        {"node_type": "google-drive-share", "label": "share-again",
         "config": {"connection_id": connection_id, "emails": "ana@acme.example"}},
    ])

    execution_id = factories.start(client, org, wf["id"], DEAL)
    factories.wait_for_status(client, org, execution_id, "needs_review")

    issues, _ = issues_of(client, org, execution_id)
    assert issues == {("delivery.invalid_email", wf["nodes"][1]["id"]), ("drive.no_file", wf["nodes"][2]["id"])}
    assert not account.seen("POST", r"/drive/v3/files/.+/permissions")


def test_the_contract_waits_in_gmail_drafts_for_a_lawyer_and_is_drafted_once(client, org, db, worker, account,
                                                                               services):
    # Given a workflow that renders the contract as PDF and leaves the email to the client as a Gmail draft
    connection_id = google_connection(org, account)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        docs_node(connection_id),
        {"node_type": "gmail-create-draft", "label": "review",
         "config": {"connection_id": connection_id, "to": ["{{trigger.contact.email}}"], "cc": ["legal@acme.example"],
                    "subject": "Contrato {{trigger.deal_id}}", "body": "Olá {{trigger.contact.name}}, segue."}},
    ])

    # When it runs
    execution_id = factories.start(client, org, wf["id"], DEAL)
    state = factories.wait_for_status(client, org, execution_id)

    # Then one draft holds the email with the PDF attached, and nothing was sent
    assert state["status"] == "completed", state
    [(draft_id, draft)] = account.drafts.items()
    assert (draft["To"], draft["Cc"], draft["Subject"]) == ("ana@acme.example", "legal@acme.example", "Contrato D-1042")
    assert draft.get_body(("plain",)).get_content().strip() == "Olá Ana Souza, segue."
    steps = factories.steps(client, org, execution_id)
    [attachment] = list(draft.iter_attachments())
    assert attachment.get_filename() == "Contrato Acme Corp.pdf" and attachment.get_content().startswith(b"%PDF")
    assert not account.sent and not account.seen("POST", r"/gmail/v1/users/me/messages/send")
    # and the step hands on the draft, its message and a link to open it
    output = steps[2]["data_out"]
    assert output["draft_id"] == draft_id and output["message_id"]
    assert output["url"] == f"https://mail.google.com/mail/#drafts?compose={output['message_id']}"
    assert output["attachments"] == ["Contrato Acme Corp.pdf"]
    [request] = account.seen("POST", r"/gmail/v1/users/me/drafts")
    assert request.headers["X-Correlation-ID"] == state["correlation_id"]
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"

    # When the hop is delivered again, no second draft appears
    assert factories.redeliver(services, org, execution_id, steps[2]) == output
    assert len(account.seen("POST", r"/gmail/v1/users/me/drafts")) == 1 and len(account.drafts) == 1


def test_a_google_grant_without_gmail_compose_blocks_drafts_but_mail_google_com_covers_it(client, org, db, account):
    def preflight(scope):
        connection_id = google_connection(org, account, scope=scope)
        wf = factories.workflow(client, org, [
            {"node_type": "gmail-create-draft", "label": "review",
             "config": {"connection_id": connection_id, "to": ["ana@acme.example"], "subject": "x"}}])
        resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", json={"trigger_data": DEAL},
                                    headers=org.headers)
        return resp.json

    scope = "https://www.googleapis.com/auth/"
    blocked = preflight(f"{scope}drive {scope}documents {scope}gmail.send")
    assert [i["code"] for i in blocked["issues"]] == ["oauth.missing_scope"]
    assert f"{scope}gmail.compose" in blocked["issues"][0]["message_human"]
    assert [a["action"] for a in blocked["recommended_actions"]] == ["reconnect_provider"]
    assert "oauth.missing_scope" not in [i["code"] for i in preflight(f"{scope}drive https://mail.google.com/")["issues"]]
