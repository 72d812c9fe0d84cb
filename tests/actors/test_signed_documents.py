"""The signed original comes back: sandbox, ClickSign and ZapSign runs store the signed PDF and audit trail."""
import hashlib
import io
import json

import pypdf
import pytest
import requests

from cli import sample
from integrations.local import pdf
from storage.models import Connection
from tests import factories
from tests.integrations.fake_clicksign import FakeClickSign
from tests.integrations.fake_zapsign import FakeZapSign

pytestmark = pytest.mark.e2e
SIGNERS = [{"name": "Ana", "email": "ana@acme.example"}, {"name": "Bruno", "email": "bruno@acme.example"}]


def documents_of(client, org, execution_id):
    resp = client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers)
    assert resp.status_code == 200, resp.text
    return {d["kind"]: d for d in resp.json["documents"]}


def download(client, org, document):
    resp = client.simulate_get(document["download_url"], headers=org.headers)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith(document["content_type"])
    return resp.content


def pdf_text(content):
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def attachments(message):
    return {part.get_filename(): part.get_payload(decode=True) for part in message.walk() if part.get_filename()}


def test_a_sandbox_signed_run_stores_the_signed_pdf_with_its_signature_page(client, org, worker, web_server,
                                                                            mailbox, redis):
    # Given a run that renders, asks two people to sign, then e-mails the result
    ana, bia = (f"{n}+{org.id[:8]}@acme.example" for n in ("ana", "bia"))
    customer = f"signed+{org.id[:8]}@acme.example"
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "Ana Souza", "email": ana},
                                                       {"name": "Bia Lima", "email": bia}]}},
        {"node_type": "email", "label": "send", "config": {"to": [customer], "subject": "signed"}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    links = {s["email"]: s["sign_url"] for s in factories.steps(client, org, execution_id)[2]["data_out"]["signers"]}
    original = download(client, org, documents_of(client, org, execution_id)["generated"])

    # When both sign
    for email in (ana, bia):
        assert requests.post(links[email], json={"action": "signed"}, timeout=10).status_code == 200

    # Then the run completes with the signed PDF and the audit trail stored, each with its kind
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed", state
    docs = documents_of(client, org, execution_id)
    assert set(docs) == {"generated", "signed", "audit_trail"}
    assert docs["generated"]["superseded"] and docs["signed"]["source_document_id"] == docs["generated"]["id"]
    signed = download(client, org, docs["signed"])
    text = pdf_text(signed)
    assert "Signature page" in text and "Ana Souza" in text and ana in text and "Bia Lima" in text and bia in text
    assert hashlib.sha256(original).hexdigest() in text
    if pdf.soffice() is not None:  # the .docx original is converted and comes first
        assert "Acme Corp" in text and text.index("Acme Corp") < text.index("Signature page")
    assert "signed at 20" in text  # each signer's time
    trail = json.loads(download(client, org, docs["audit_trail"]))
    assert {s["email"] for s in trail["signers"]} == {ana, bia}
    output = factories.steps(client, org, execution_id)[2]["data_out"]
    assert output["signed_document_id"] == docs["signed"]["id"] == output["document_id"]
    assert "signature.documents_stored" in factories.stream_types(redis, execution_id)

    # and the later e-mail step sends the signed version, not the original
    sent = attachments(mailbox.wait_for(customer)[0])
    assert docs["signed"]["name"] in sent and docs["generated"]["name"] not in sent

    # and fetching again (a redelivered message) stores nothing twice and changes nothing
    from actors.signed import collect
    from storage.models import SignatureRequest

    request = SignatureRequest.get(SignatureRequest.execution == execution_id)
    collect(str(request.id))
    assert documents_of(client, org, execution_id) == docs
    assert factories.stream_types(redis, execution_id).count("signature.documents_stored") == 1
    assert factories.run_state(client, org, execution_id)["status"] == "completed"


def provider_run(client, org, provider, fake, credentials):
    connection = Connection.create(organization=org.id, provider=provider, auth_type="api_key",
                                   credentials={**credentials, "base_url": fake.base_url}, key_id="test")
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        factories.render_node(template_id),
        {"node_type": provider, "label": "sign", "config": {"connection_id": str(connection.id), "signers": SIGNERS}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    return execution_id, factories.steps(client, org, execution_id)[1]["data_out"]["envelope_id"]


def post_webhook(web_server, provider, body, headers):
    return requests.post(f"{web_server.base}/api/v1/webhooks/signature/{provider}", data=body, headers=headers,
                         timeout=10)


def test_clicksign_signed_file_and_events_are_stored_after_a_failed_first_download(client, org, worker, web_server,
                                                                                  httpserver):
    # Given a ClickSign run whose signed-file link fails the first time it is used (expired)
    fake = FakeClickSign(httpserver)
    fake.fail_downloads = 1
    execution_id, envelope_id = provider_run(client, org, "clicksign", fake, {"access_token": fake.token})

    # When every signer signed (ClickSign closes the document: auto_close)
    for signer in SIGNERS:
        headers, body = fake.webhook(envelope_id, "sign", "cs-webhook-secret", signer_email=signer["email"])
        assert post_webhook(web_server, "clicksign", body, headers).json()["accepted"] == 1

    # Then the run stores ClickSign's signed PDF and the document's events, after retrying the download
    state = factories.wait_for_status(client, org, execution_id, timeout=90)
    assert state["status"] == "completed", state
    docs = documents_of(client, org, execution_id)
    assert download(client, org, docs["signed"]) == fake.signed_pdf(envelope_id)
    assert docs["audit_trail"]["content_type"] == "application/json"
    events = json.loads(download(client, org, docs["audit_trail"]))
    assert [e["attributes"]["name"] for e in events["data"]][-1] == "close"
    assert fake.downloads == 2
    assert ("GET", f"/envelopes/{envelope_id}/documents/{fake.document_id(envelope_id)}/events") in fake.calls()


def test_zapsign_signed_file_and_audit_trail_are_stored_after_a_failed_first_download(client, org, worker,
                                                                                     web_server, httpserver):
    fake = FakeZapSign(httpserver)
    fake.fail_downloads = 1
    execution_id, token = provider_run(client, org, "zapsign", fake, {"api_token": fake.token})
    headers = {"Content-Type": "application/json", "X-DocG-Webhook-Secret": "zs-webhook-secret"}

    for signer in SIGNERS:
        body = fake.act(token, signer["email"], "doc_signed")
        assert post_webhook(web_server, "zapsign", body, headers).json()["accepted"] >= 1

    state = factories.wait_for_status(client, org, execution_id, timeout=90)
    assert state["status"] == "completed", state
    docs = documents_of(client, org, execution_id)
    assert download(client, org, docs["signed"]) == fake.signed_pdf(token)
    assert docs["audit_trail"]["content_type"] == "application/pdf"
    assert download(client, org, docs["audit_trail"]) == fake.audit_trail_pdf(token)
    assert fake.downloads == 2
    # each attempt asked ZapSign for a fresh link (links expire after 60 minutes)
    assert fake.calls().count(("GET", f"/docs/{token}/")) >= 2


def test_when_the_signed_file_cannot_be_had_the_run_goes_on_with_the_original_and_says_so(client, org, worker,
                                                                                         web_server, httpserver):
    # Given a ZapSign document that the provider no longer shows (deleted there after signing)
    fake = FakeZapSign(httpserver)
    execution_id, token = provider_run(client, org, "zapsign", fake, {"api_token": fake.token})
    fake.details_gone = True
    headers = {"Content-Type": "application/json", "X-DocG-Webhook-Secret": "zs-webhook-secret"}
    for signer in SIGNERS:
        assert post_webhook(web_server, "zapsign", fake.act(token, signer["email"], "doc_signed"),
                            headers).json()["accepted"] >= 1

    # Then the run is not stuck: it completes with the original, and its logs say what is missing
    state = factories.wait_for_status(client, org, execution_id, timeout=60)
    assert state["status"] == "completed" and state["signature_state"] == "signed"
    assert set(documents_of(client, org, execution_id)) == {"generated"}
    logs = client.simulate_get(f"/api/v1/executions/{execution_id}/logs", headers=org.headers,
                               params={"level": "error"}).json
    assert any("signed document could not be downloaded" in entry["message_human"] for entry in logs["logs"])
