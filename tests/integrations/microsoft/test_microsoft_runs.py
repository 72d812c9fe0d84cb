"""Microsoft runs end to end: the real worker against a fake Microsoft Graph."""
import base64
import datetime
import io
import json

import pytest
from pptx import Presentation

from cli import sample
from storage.models import Connection
from tests import factories
from web.webhooks.triggers import expected_signature
from tests.integrations.microsoft.fake_graph import pdf_for
from tests.integrations.microsoft.office_files import DOCX, PPTX, contract_docx, docx_text, proposal_pptx

pytestmark = pytest.mark.e2e


def post_trigger(client, org, wf, payload):
    client.simulate_post(f"/api/v1/workflows/{wf['id']}/activate", headers=org.headers)
    body = json.dumps(payload).encode()
    signature = expected_signature(wf["webhook_secret"], body)
    resp = client.simulate_post(f"/api/v1/webhooks/triggers/{wf['id']}", body=body,
                                headers={"Content-Type": "application/json", "X-DocG-Signature": signature})
    assert resp.status_code == 202, resp.text
    return resp.json["execution_id"]


def render_node(node_type, connection_id, template_id, **config):
    return {"node_type": node_type, "label": "contract",
            "config": {"connection_id": connection_id, "template_item_id": template_id,
                       "output_name": "Contract {{trigger.client_name}}", **config}}


def outlook_node(connection_id):
    return {"node_type": "outlook", "label": "send",
            "config": {"connection_id": connection_id, "to": ["{{trigger.contact.email}}"],
                       "subject": "Your contract, {{trigger.contact.name}}", "body_type": "HTML",
                       "body": "<p>Hello {{trigger.contact.name}}, it is also at {{step.contract.url}}</p>"}}


def test_webhook_fills_a_word_template_in_onedrive_and_outlook_sends_the_pdf(client, org, db, worker, graph,
                                                                              connect):
    # Given a Word template in OneDrive, a destination folder and a Microsoft connection
    template = graph.add_file("Contract template.docx", contract_docx(), parent=graph.add_folder("Templates").id,
                              mime=DOCX)
    folder = graph.add_folder("Contracts")
    connection_id = connect(graph.credentials())
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name", "contact.email"]}},
        render_node("microsoft-word", connection_id, template.id, folder_item_id=folder.id, pdf=True),
        outlook_node(connection_id),
    ])

    # When the deal webhook arrives
    execution_id = post_trigger(client, org, wf, sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then the filled .docx was uploaded into the folder, with the deal's values
    assert state["status"] == "completed", state
    uploaded = graph.children(folder.id)["Contract Acme Corp.docx"]
    text = docx_text(uploaded.content)
    assert "between DocG Ltd. and Acme Corp" in text and "Ana Souza <ana@acme.example>" in text
    assert "12,500.00 USD, due in 30 days" in text and "Reference: D-1042" in text and "{{" not in text
    put = next(seen for seen in graph.requests if seen.method == "PUT")
    assert put.path == f"/me/drive/items/{folder.id}:/Contract Acme Corp.docx:/content"
    assert put.query == {"@microsoft.graph.conflictBehavior": "rename"} and put.headers["Content-Type"] == DOCX

    # and Graph converted that upload to PDF, which became the run's document
    steps = factories.steps(client, org, execution_id)
    output = steps[1]["data_out"]
    assert output["item_id"] == uploaded.id and output["item_name"] == "Contract Acme Corp.docx"
    assert output["name"] == "Contract Acme Corp.pdf" and output["content_type"] == "application/pdf"
    assert output["url"].endswith("/Contract Acme Corp.docx")
    pdf = pdf_for("Contract Acme Corp.docx", uploaded.content)
    stored = client.simulate_get(f"/api/v1/executions/{execution_id}/documents/{output['document_id']}",
                                 headers=org.headers)
    assert stored.content == pdf and stored.headers["Content-Type"] == "application/pdf"

    # and Outlook sent it to the contact, as a base64 file attachment, with our Message-ID
    [mail] = graph.mail
    message = mail["message"]
    assert message["toRecipients"] == [{"emailAddress": {"address": "ana@acme.example"}}]
    assert message["subject"] == "Your contract, Ana Souza"
    assert message["body"] == {"contentType": "HTML",
                               "content": f"<p>Hello Ana Souza, it is also at {output['url']}</p>"}
    [attachment] = message["attachments"]
    assert (attachment["name"], attachment["contentType"], attachment["content"]) == (
        "Contract Acme Corp.pdf", "application/pdf", pdf)
    assert base64.b64decode(attachment["contentBytes"]) == pdf
    sent = steps[2]["data_out"]
    assert sent["sent"] is True and sent["to"] == ["ana@acme.example"]
    assert sent["attachments"] == ["Contract Acme Corp.pdf"]
    assert message["internetMessageId"] == sent["internet_message_id"]
    assert sent["internet_message_id"] == f"<{execution_id}.{steps[2]['node_id']}.outlook_send@docg>"

    # and every Graph call carried the token, the run's calls its correlation id; downloads carried no token
    assert {seen.headers["Authorization"] for seen in graph.requests} == {"Bearer graph-access-1"}
    preflight_calls = [("GET", f"/me/drive/items/{template.id}"), ("GET", f"/me/drive/items/{folder.id}"),
                       ("GET", "/me")]
    assert graph.calls()[:3] == preflight_calls
    assert {seen.headers["X-Correlation-ID"] for seen in graph.requests[3:]} == {state["correlation_id"]}
    assert graph.downloads and all("Authorization" not in seen.headers for seen in graph.downloads)
    assert {"name": "X-Correlation-ID", "value": state["correlation_id"]} in message["internetMessageHeaders"]


def test_a_powerpoint_template_is_filled_and_saved_next_to_it(client, org, db, worker, graph, connect):
    # Given a .pptx template in a OneDrive folder and no destination folder
    decks = graph.add_folder("Decks")
    template = graph.add_file("Proposal.pptx", proposal_pptx(), parent=decks.id, mime=PPTX)
    connection_id = connect(graph.credentials())
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        render_node("microsoft-powerpoint", connection_id, template.id, output_name="Proposal {{trigger.deal_id}}"),
    ])

    # When the run goes through
    state = factories.wait_for_status(client, org, post_trigger(client, org, wf, sample.trigger_data()))

    # Then the filled presentation sits next to the template and is the run's document
    assert state["status"] == "completed", state
    uploaded = graph.children(decks.id)["Proposal D-1042.pptx"]
    slide = Presentation(io.BytesIO(uploaded.content)).slides[0]
    texts = [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
    assert texts == ["Proposal for Acme Corp", "Contact: Ana Souza — total 12,500.00 USD"]
    assert slide.notes_slide.notes_text_frame.text == "Call ana@acme.example"
    output = factories.steps(client, org, state["id"])[1]["data_out"]
    assert (output["name"], output["content_type"], output["item_id"]) == ("Proposal D-1042.pptx", PPTX, uploaded.id)
    assert not [seen for seen in graph.requests if seen.query.get("format")]


def test_a_retried_render_converts_again_but_never_uploads_twice(client, org, db, worker, graph, connect):
    # Given Graph throttles the first PDF conversion (509: not retried by the transport, so the hop is)
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    graph.fail_next("GET", r"/content\?format=pdf", 509, "bandwidthLimitExceeded", "Bandwidth limit exceeded.",
                    {"Retry-After": "1"})
    wf = factories.workflow(client, org, [render_node("microsoft-word", connect(graph.credentials()), template.id,
                                                      pdf=True)])

    # When the run goes through
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then the second attempt reused the recorded upload: one file in OneDrive, two conversions asked
    assert state["status"] == "completed", state
    [step] = factories.steps(client, org, execution_id)
    assert step["attempt"] == 2
    assert [seen.method for seen in graph.requests].count("PUT") == 1
    assert list(graph.children("root")) == ["Contract.docx", "Contract Acme Corp.docx"]
    assert len([seen for seen in graph.requests if seen.query.get("format") == "pdf"]) == 2


def test_a_dry_run_fills_the_template_but_writes_nothing_to_onedrive(client, org, db, worker, graph, connect):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    wf = factories.workflow(client, org, [render_node("microsoft-word", connect(graph.credentials()), template.id,
                                                      pdf=True)])

    execution_id = factories.start(client, org, wf["id"], sample.trigger_data(), dry_run=True)
    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "completed", state
    output = factories.steps(client, org, execution_id)[0]["data_out"]
    assert (output["name"], output["item_id"], output["url"]) == ("Contract Acme Corp.docx", None, None)
    preview = client.simulate_get(f"/api/v1/executions/{execution_id}/documents/{output['document_id']}",
                                  headers=org.headers)
    assert "Acme Corp" in docx_text(preview.content)
    assert {seen.method for seen in graph.requests} == {"GET"} and list(graph.children("root")) == ["Contract.docx"]


def test_an_expired_token_is_refreshed_persisted_and_the_run_goes_on(client, org, db, worker, graph, connect):
    # Given a connection whose access token expired an hour ago
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).isoformat()
    graph.access_tokens.clear()  # Graph no longer accepts it either
    connection_id = connect(graph.credentials(access_token="graph-access-expired", expires_at=past))
    wf = factories.workflow(client, org, [render_node("microsoft-word", connection_id, template.id)])

    # When a run starts
    state = factories.wait_for_status(client, org, factories.start(client, org, wf["id"], sample.trigger_data()))

    # Then the token endpoint was asked once, with the stored refresh token, before any Graph call
    assert state["status"] == "completed", state
    [refresh] = graph.token_requests
    assert (refresh["grant_type"], refresh["refresh_token"]) == ("refresh_token", "graph-refresh-1")
    # and the new token was used for every Graph call and persisted for the next run
    [new_token] = graph.access_tokens
    assert {seen.headers["Authorization"] for seen in graph.requests} == {f"Bearer {new_token}"}
    stored = Connection.get_by_id(connection_id)
    assert stored.credentials["access_token"] == new_token
    assert stored.credentials["refresh_token"] in graph.refresh_tokens
    assert stored.token_expires_at > datetime.datetime.now(datetime.timezone.utc)
    assert "Contract Acme Corp.docx" in graph.children("root")


@pytest.mark.parametrize("revoked", ["connection marked revoked", "refresh answered invalid_grant"])
def test_a_revoked_connection_stops_the_run_in_review_with_reconnect(client, org, db, worker, graph, connect,
                                                                     revoked):
    template = graph.add_file("Contract.docx", contract_docx(), mime=DOCX)
    if revoked == "connection marked revoked":
        connection_id = connect(graph.credentials(), status="revoked")
    else:
        connection_id = connect(graph.credentials(expires_at="2020-01-01T00:00:00+00:00"))
        graph.revoke()
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          render_node("microsoft-word", connection_id, template.id),
                                          outlook_node(connection_id)])

    state = factories.wait_for_status(client, org, post_trigger(client, org, wf, sample.trigger_data()),
                                      "needs_review")

    assert state["last_error_tech"].startswith("[oauth_expired]")
    assert {(a["action"], a["params"]["issue_code"]) for a in state["recommended_actions"]} == {
        ("reconnect_provider", "oauth_expired")}
    assert {a["target_node_id"] for a in state["recommended_actions"]} == {
        s["node_id"] for s in factories.steps(client, org, state["id"])[1:]}
    assert graph.requests == [] and graph.mail == []
    assert Connection.get_by_id(connection_id).status == "revoked"
    assert len(graph.token_requests) == (revoked == "refresh answered invalid_grant")


def test_the_contract_waits_in_outlook_drafts_for_a_lawyer_and_is_drafted_once(client, org, db, worker, graph,
                                                                                 connect, services):
    # Given a Word template and a workflow that leaves the email with the PDF as an Outlook draft
    template = graph.add_file("Contract template.docx", contract_docx(), mime=DOCX)
    connection_id = connect(graph.credentials())
    review = {**outlook_node(connection_id), "node_type": "outlook-create-draft", "label": "review"}
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          render_node("microsoft-word", connection_id, template.id, pdf=True),
                                          review])

    # When the deal webhook arrives
    execution_id = post_trigger(client, org, wf, sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then one draft holds the email and the PDF, and nothing was sent
    assert state["status"] == "completed", state
    steps = factories.steps(client, org, execution_id)
    [(draft_id, draft)] = graph.drafts.items()
    assert draft["toRecipients"] == [{"emailAddress": {"address": "ana@acme.example"}}]
    assert draft["subject"] == "Your contract, Ana Souza" and draft["body"]["contentType"] == "HTML"
    [attachment] = draft["attachments"]
    uploaded = graph.children("root")["Contract Acme Corp.docx"]
    assert (attachment["name"], attachment["content"]) == ("Contract Acme Corp.pdf",
                                                           pdf_for("Contract Acme Corp.docx", uploaded.content))
    assert graph.mail == [] and ("POST", "/me/sendMail") not in graph.calls()
    # and the step hands on the draft's id and the link that opens it in Outlook on the web
    output = steps[2]["data_out"]
    assert output["draft_id"] == draft_id and output["url"].startswith("https://outlook.office365.com/owa/?ItemID=")
    assert output["attachments"] == ["Contract Acme Corp.pdf"]
    assert draft["internetMessageId"] == output["internet_message_id"] == (
        f"<{execution_id}.{steps[2]['node_id']}.outlook_draft@docg>")
    assert draft["headers"]["X-Correlation-ID"] == state["correlation_id"]
    assert draft["headers"]["Authorization"] == "Bearer graph-access-1"

    # When the hop is delivered again, no second draft appears
    assert factories.redeliver(services, org, execution_id, steps[2]) == output
    assert [call for call in graph.calls() if call == ("POST", "/me/messages")] == [("POST", "/me/messages")]
    assert len(graph.drafts) == 1


def test_the_uploaded_contract_gets_one_expiring_edit_link_for_the_organisation(client, org, db, worker, graph,
                                                                                 connect, services):
    # Given a workflow that uploads the filled contract (kept as PDF in DocG) and links to the .docx in OneDrive
    template = graph.add_file("Contract template.docx", contract_docx(), mime=DOCX)
    folder = graph.add_folder("Contracts")
    connection_id = connect(graph.credentials())
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        render_node("microsoft-word", connection_id, template.id, folder_item_id=folder.id, pdf=True),
        {"node_type": "onedrive-share-link", "label": "link",
         "config": {"connection_id": connection_id, "type": "edit", "scope": "organization", "expires_in_days": 7}},
    ])

    # When it runs
    execution_id = post_trigger(client, org, wf, sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then Graph was asked once for an edit link to the uploaded .docx (in the drive it reported), expiring in a week
    assert state["status"] == "completed", state
    uploaded = graph.children(folder.id)["Contract Acme Corp.docx"]
    [request] = [seen for seen in graph.requests if seen.path.endswith("/createLink")]
    assert (request.method, request.path) == ("POST", f"/drives/{graph.me_drive}/items/{uploaded.id}/createLink")
    body = json.loads(request.body)
    assert (body["type"], body["scope"]) == ("edit", "organization")
    expires = datetime.datetime.strptime(body["expirationDateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    in_a_week = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
    assert abs((expires - in_a_week).total_seconds()) < 120
    assert request.headers["X-Correlation-ID"] == state["correlation_id"]
    assert request.headers["Authorization"] == "Bearer graph-access-1"
    # and the step hands on the link
    step = factories.steps(client, org, execution_id)[2]
    [permission] = graph.links.values()
    assert step["data_out"] == {"url": permission["link"]["webUrl"], "permission_id": permission["id"],
                                "expires_at": body["expirationDateTime"], "type": "edit", "scope": "organization",
                                "item_id": uploaded.id}

    # When the hop is delivered again, Graph is not asked again and the same link and expiry are handed on
    assert factories.redeliver(services, org, execution_id, step) == step["data_out"]
    assert len([seen for seen in graph.requests if seen.path.endswith("/createLink")]) == 1
