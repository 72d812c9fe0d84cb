"""What approvers and signers receive: the request in words, the e-mails, order and reminders."""
import datetime

import pytest

from actors import scheduled
from cli import sample
from storage.models import Approval, SandboxEnvelope
from tests import factories
from tests.actors.test_approvals import emails
from tests.support import wait_until

pytestmark = pytest.mark.e2e

SUMMARY = [{"label": "Client", "path": "client_name"}, "deal_id", {"label": "Owner", "value": "{{trigger.contact.name}}"}]


def review_workflow(client, org, approvers, name="Sales contract", **config):
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "review-documents", "label": "review step",
         "config": {"approvers": approvers, "summary_fields": SUMMARY, **config}}], name=name)


def set_locale(client, org, locale):
    assert client.simulate_patch("/api/v1/organization", json={"locale": locale},
                                 headers=org.headers).status_code == 200


def test_the_approval_link_says_who_asks_what_with_the_key_facts(client, org, worker, mailbox):
    ana, bia = emails(org, "ana"), emails(org, "bia")
    wf = review_workflow(client, org, [ana, bia])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    mail = mailbox.wait_for(ana)[0]
    token = factories.approval_token(mail)

    shown = client.simulate_get(f"/api/v1/approvals/{token}").json
    assert shown["workflow"]["name"] == "Sales contract" and shown["subject"] == "Acme Corp"
    assert shown["summary"] == [{"label": "Client", "value": "Acme Corp"}, {"label": "Deal id", "value": "D-1042"},
                                {"label": "Owner", "value": "Ana Souza"}]
    assert shown["state"] == "pending" and shown["locale"] == "en"
    assert shown["requested_at"] and shown["requested_by"].endswith("(" + shown["organization"]["name"] + ")")
    assert [(a["email"], a["status"], a["you"]) for a in shown["approvers"]] == [(ana, "pending", True),
                                                                                (bia, "pending", False)]
    [document] = shown["documents"]
    assert document["preview"] is None and document["download_url"].endswith(document["id"])  # a .docx: download

    # The e-mail says it in words: workflow and client, the facts, who asks, until when
    assert mail["Subject"] == "Approval requested: Sales contract for Acme Corp"
    body = mail.get_content()
    assert "review step" not in body and "Client: Acme Corp" in body and "Owner: Ana Souza" in body
    assert shown["requested_by"] in body and " UTC" in body


def test_in_portuguese_the_email_page_and_refusals_follow_the_organization(client, org, worker, mailbox):
    set_locale(client, org, "pt-BR")
    ana = emails(org, "ana")
    wf = review_workflow(client, org, [ana], name="Contrato de venda", reminder_hours=1 / 3600)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    mail = mailbox.wait_for(ana)[0]
    assert mail["Subject"] == "Aprovação solicitada: Contrato de venda de Acme Corp"
    assert mail["Content-Language"] == "pt-BR"
    assert "Dados principais:" in mail.get_content() and "Leia os documentos e decida aqui:" in mail.get_content()
    token = factories.approval_token(mail)

    # The clock's reminder is in Portuguese too, with the same link
    wait_until(lambda: scheduled.send_reminders() or Approval.get(Approval.approver_email == ana).reminder_sent_at,
               20, message="approval reminder")
    reminder = mailbox.wait_for(ana, count=2)[1]
    assert reminder["Subject"] == "Lembrete: aprovação solicitada: Contrato de venda de Acme Corp"
    assert reminder["X-DocG-Approval-Link"] == mail["X-DocG-Approval-Link"]

    # The page shell speaks Portuguese, under a strict CSP with nothing inline
    page = client.simulate_get(f"/approvals/{token}")
    assert page.status_code == 200 and '<html lang="pt-BR">' in page.text and "Aprovar" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<style" not in page.text and "onclick" not in page.text and "<script>" not in page.text

    # A used link refuses in Portuguese, or in English when the caller asks for it
    assert client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "rejected"}).status_code == 200
    used = client.simulate_get(f"/api/v1/approvals/{token}")
    assert used.status_code == 410 and used.json["error"]["code"] == "approval.link_used"
    assert used.json["error"]["message_human"].startswith(f"Este link já foi usado: {ana} rejeitou em ")
    assert used.json["error"]["details"]["state"] == "rejected"
    english = client.simulate_get(f"/api/v1/approvals/{token}", headers={"Accept-Language": "en"})
    assert english.json["error"]["message_human"].startswith(f"This link was already used: {ana} rejected it at ")

    # and the run's error, and its step's, read in Portuguese (English on request)
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "failed" and state["last_error_human"] == f"Rejeitado por {ana}."
    assert factories.steps(client, org, execution_id)[2]["error_human"] == f"Rejeitado por {ana}."
    english = client.simulate_get(f"/api/v1/executions/{execution_id}", headers={**org.headers, "Accept-Language": "en"})
    assert english.json["last_error_human"] == f"Rejected by {ana}."


def test_expired_and_withdrawn_links_answer_what_happened(client, org, worker, mailbox):
    late, gone = emails(org, "late"), emails(org, "gone")
    expired = factories.start(client, org, review_workflow(client, org, [late], timeout_hours=1 / 3600)["id"],
                              sample.trigger_data())
    canceled = factories.start(client, org, review_workflow(client, org, [gone])["id"], sample.trigger_data())
    late_token = factories.approval_token(mailbox.wait_for(late)[0])
    gone_token = factories.approval_token(mailbox.wait_for(gone)[0])
    factories.wait_for_status(client, org, expired, "failed")
    factories.wait_for_status(client, org, canceled, "paused")
    assert client.simulate_post(f"/api/v1/executions/{canceled}/cancel", json={}, headers=org.headers).status_code == 200

    answer = client.simulate_get(f"/api/v1/approvals/{late_token}")
    assert answer.status_code == 410 and answer.json["error"]["details"]["state"] == "expired"
    assert answer.json["error"]["message_human"].startswith("This approval link expired at ")
    answer = client.simulate_get(f"/api/v1/approvals/{gone_token}")
    assert answer.status_code == 410 and answer.json["error"]["details"]["state"] == "withdrawn"
    assert answer.json["error"]["message_human"].startswith("This approval request was withdrawn at ")
    for token in (late_token, gone_token):
        assert client.simulate_post(f"/api/v1/approvals/{token}/decision",
                                    json={"decision": "approved"}).status_code == 410


def test_a_link_no_longer_needed_says_the_step_was_settled(client, org, worker, mailbox):
    ana, bia = emails(org, "ana"), emails(org, "bia")
    execution_id = factories.start(client, org, review_workflow(client, org, [ana, bia], strategy="any")["id"],
                                   sample.trigger_data())
    token_ana = factories.approval_token(mailbox.wait_for(ana)[0])
    token_bia = factories.approval_token(mailbox.wait_for(bia)[0])
    assert client.simulate_post(f"/api/v1/approvals/{token_ana}/decision",
                                json={"decision": "approved"}).status_code == 200
    factories.wait_for_status(client, org, execution_id)

    answer = client.simulate_get(f"/api/v1/approvals/{token_bia}")
    details = answer.json["error"]["details"]
    assert answer.status_code == 410 and details["state"] == "closed" and details["settled_at"]
    assert answer.json["error"]["message_human"] == ("This approval is no longer needed: the step was decided at "
                                                     f"{details['settled_at']}.")
    assert [(a["email"], a["status"]) for a in details["approvers"]] == [(ana, "approved"), (bia, "revoked")]


def sandbox_workflow(client, org, signers, **config):
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": s.split("+")[0].title(), "email": s}
                                                       for s in signers], **config}}], name="NDA")


def test_the_sandbox_emails_each_signer_their_own_link(client, org, worker, web_server, mailbox):
    ana, bia = emails(org, "ana"), emails(org, "bia")
    execution_id = factories.start(client, org, sandbox_workflow(client, org, [ana, bia])["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")

    links = {s["email"]: s["sign_url"] for s in factories.steps(client, org, execution_id)[2]["data_out"]["signers"]}
    for person in (ana, bia):
        [mail] = mailbox.wait_for(person)
        assert mail["X-DocG-Signing-Link"] == links[person]
        assert mail["Subject"] == "Please sign: Contract Acme Corp.docx"
        assert links[person] in mail.get_content() and mail.get_content().startswith("Hello ")

    envelope_id, token = links[ana].rsplit("/", 2)[1:]
    shown = client.simulate_get(f"/api/v1/sandbox/envelopes/{envelope_id}/signers/{token}").json
    assert shown["state"] == "open" and shown["signer"]["email"] == ana
    assert shown["document"]["name"] == "Contract Acme Corp.docx" and shown["document"]["preview"] is None
    download = client.simulate_get(shown["document"]["download_url"])
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert client.simulate_get(f"/api/v1/sandbox/envelopes/{envelope_id}/signers/forged").status_code == 404


def test_inviting_again_sends_nothing_and_a_canceled_run_withdraws_the_signing_link(client, org, worker, web_server,
                                                                                  mailbox, services):
    from integrations.signatures import sandbox, sandbox_mail

    ana = emails(org, "ana")
    execution_id = factories.start(client, org, sandbox_workflow(client, org, [ana])["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    [invitation] = mailbox.wait_for(ana)
    envelope_id, token = invitation["X-DocG-Signing-Link"].rsplit("/", 2)[1:]

    # Given the invitation went out, a redelivered invite sends nothing more
    assert sandbox.invite_due(envelope_id, sandbox_mail.sender(services.settings)) == 0
    assert len(mailbox.messages(ana)) == 1

    # When the run is canceled, the signing page says the request was withdrawn
    assert client.simulate_post(f"/api/v1/executions/{execution_id}/cancel", json={},
                                headers=org.headers).status_code == 200
    api = f"/api/v1/sandbox/envelopes/{envelope_id}/signers/{token}"
    wait_until(lambda: client.simulate_get(api).json["state"] == "withdrawn", 20, message="withdrawn envelope")
    refused = client.simulate_post(api, json={"action": "signed"})
    assert refused.status_code == 410 and refused.json["error"]["code"] == "signature.withdrawn"


def test_sequential_sandbox_signing_invites_the_next_signer_after_the_previous_signed(client, org, worker,
                                                                                    web_server, mailbox):
    set_locale(client, org, "pt-BR")
    ana, bia = emails(org, "ana"), emails(org, "bia")
    wf = sandbox_workflow(client, org, [ana, bia], sequential=True, reminder_hours=1 / 3600)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    [invitation] = mailbox.wait_for(ana)
    assert invitation["Subject"] == "Assinatura solicitada: Contract Acme Corp.docx"
    assert mailbox.messages(bia) == []

    # bia may not sign before ana
    links = {s["email"]: s["sign_url"] for s in factories.steps(client, org, execution_id)[2]["data_out"]["signers"]}
    api = {person: "/api/v1/sandbox/envelopes/{}/signers/{}".format(*links[person].rsplit("/", 2)[1:])
           for person in (ana, bia)}
    assert client.simulate_get(api[bia]).json["state"] == "waiting"
    early = client.simulate_post(api[bia], json={"action": "signed"})
    assert early.status_code == 409 and early.json["error"]["code"] == "signature.not_your_turn"
    assert early.json["error"]["message_human"].startswith("Ainda não é a sua vez")

    # A reminder goes to ana only (bia has not been asked yet)
    envelope = SandboxEnvelope.get_by_id(api[ana].split("/")[5])
    wait_until(lambda: scheduled.remind_signers() or len(mailbox.messages(ana)) >= 2, 20, message="reminder")
    assert mailbox.wait_for(ana, count=2)[1]["Subject"] == "Lembrete: assine Contract Acme Corp.docx"
    assert mailbox.messages(bia) == []

    # When ana signs, bia gets her invitation, and the run completes once she signs
    assert client.simulate_post(api[ana], json={"action": "signed"}).status_code == 200
    [bia_invitation] = mailbox.wait_for(bia)
    assert bia_invitation["X-DocG-Signing-Link"] == links[bia]
    assert client.simulate_post(api[bia], json={"action": "signed"}).status_code == 200
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert client.simulate_get(api[ana]).json["state"] == "signed"
    assert envelope.sequential and envelope.locale == "pt-BR"


def test_a_pdf_is_previewed_page_by_page_and_bad_pages_are_clear_errors(client, org, db):
    from storage import approvals, documents
    from storage.models import Execution
    from tests.web.pdfs import two_page_pdf

    # Given a paused run's approval with a PDF document (written by hand, two pages)
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution = Execution.get_by_id(factories.start(client, org, wf["id"], {"n": 1}))
    node_id = factories.steps(client, org, str(execution.id))[0]["node_id"]
    documents.save_generated(organization_id=org.id, execution_id=execution.id, node_id=node_id, name="Deal.pdf",
                             content_type="application/pdf", content=two_page_pdf())
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    _, token = approvals.issue(execution, node_id, "x@acme.example", strategy="any", quorum=None,
                               expires_at=expires, auto_approve=False, reminder_hours=None)

    [document] = client.simulate_get(f"/api/v1/approvals/{token}").json["documents"]
    assert document["preview"]["total_pages"] == 2 and len(document["preview"]["pages"]) == 2
    image = client.simulate_get(document["preview"]["pages"][1])
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content[:8] == b"\x89PNG\r\n\x1a\n"
    for bad in ("3", "0", "-1", "x", "99999999999999999999"):
        answer = client.simulate_get(f"{document['download_url']}/pages/{bad}")
        assert answer.status_code == 404 and answer.json["error"]["code"] == "document.no_preview", bad
