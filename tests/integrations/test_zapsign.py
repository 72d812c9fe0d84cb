"""The ZapSign client against a local server speaking ZapSign's API v1."""
import base64
import json
import time

import pytest
from werkzeug import Response

from integrations.errors import AuthExpired, BadResponse, InvalidConfig, RateLimited, Timeout, Unavailable
from integrations.signatures.zapsign import ZapSignProvider
from tests.integrations.fake_zapsign import FakeZapSign
from tests.integrations.provider_servers import in_days

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SIGNERS = [{"name": "Ana Souza", "email": "ana@acme.example"}, {"name": "Bruno Lima", "email": "bruno@acme.example"}]
SECRET = "whsec-2f9c1d7e8a"


@pytest.fixture
def zapsign(httpserver):
    return FakeZapSign(httpserver)


def client(fake, **options):
    return ZapSignProvider(token=fake.token, base_url=fake.base_url, correlation_id="corr-7", **options)


def send(provider, **overrides):
    options = {"name": "Contrato D-1042", "document": PDF, "content_type": "application/pdf", "signers": SIGNERS,
               "expires_at": in_days(7), "idempotency_key": "exec-1:node-sign:signature_envelope"}
    return provider.create_envelope(**{**options, **overrides})


def test_create_envelope_posts_the_pdf_and_signers_in_one_call(zapsign):
    ref = send(client(zapsign), message="Por favor, assine o contrato.")

    [seen] = zapsign.requests
    assert (seen.method, seen.path) == ("POST", "/docs/")
    assert seen.headers["Authorization"] == "Bearer zs-api-token"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Correlation-ID"] == "corr-7"
    body = seen.body
    assert base64.b64decode(body["base64_pdf"]) == PDF and "base64_docx" not in body
    assert (body["name"], body["external_id"], body["lang"]) == ("Contrato D-1042",
                                                                 "exec-1:node-sign:signature_envelope", "pt-br")
    assert body["date_limit_to_sign"] == "2024-05-09T13:15:00.000000Z"
    assert body["allow_refuse_signature"] is True
    assert [(s["name"], s["email"], s["send_automatic_email"], s["auth_mode"], s["custom_message"])
            for s in body["signers"]] == [
        ("Ana Souza", "ana@acme.example", True, "assinaturaTela-tokenEmail", "Por favor, assine o contrato."),
        ("Bruno Lima", "bruno@acme.example", True, "assinaturaTela-tokenEmail", "Por favor, assine o contrato.")]
    doc = zapsign.docs[ref.envelope_id]
    assert [(s.email, s.name, s.external_id, s.sign_url) for s in ref.signers] == [
        (s["email"], s["name"], s["token"], f"https://app.zapsign.com.br/verificar/{s['token']}")
        for s in doc["signers"]]
    assert ref.raw == {"status": "pending", "open_id": 1}


def test_a_docx_goes_up_as_base64_docx_and_other_types_are_refused_before_any_call(zapsign):
    send(client(zapsign), document=b"PK\x03\x04docx", content_type=DOCX)
    assert base64.b64decode(zapsign.requests[0].body["base64_docx"]) == b"PK\x03\x04docx"

    with pytest.raises(InvalidConfig) as error:
        send(client(zapsign), content_type="image/png")
    assert error.value.code == "signature.unsupported_document"
    assert len(zapsign.requests) == 1


@pytest.mark.parametrize("status, body, expected", [
    (401, {"detail": "Token inválido."}, AuthExpired),
    (400, {"detail": "base64 mal formatado."}, BadResponse),
    (402, {"detail": "Plano de API necessário."}, BadResponse),
    (404, {"detail": "Não encontrado."}, BadResponse),
    (429, {"detail": "Request was throttled. Expected available in 42 seconds."}, RateLimited),
    (500, {"detail": "Erro interno."}, Unavailable),
])
def test_provider_errors_are_mapped_and_creation_is_not_retried(zapsign, httpserver, status, body, expected):
    headers = {"Retry-After": "42"} if status == 429 else None
    httpserver.expect_oneshot_request("/api/v1/docs/", method="POST").respond_with_json(
        body, status=status, headers=headers)

    with pytest.raises(expected) as error:
        send(client(zapsign))

    assert len(httpserver.log) == 1
    assert error.value.retryable == (expected in (RateLimited, Unavailable))
    if status == 429:
        assert error.value.retry_after == 42.0


def test_the_real_401_of_a_wrong_token_means_reconnect(zapsign):
    with pytest.raises(AuthExpired):
        send(ZapSignProvider(token="revoked", base_url=zapsign.base_url))


@pytest.mark.parametrize("body", [
    {"token": None, "signers": []}, {"token": "abc"}, {"token": "abc", "signers": [{"name": "Ana"}]},
    {"token": "abc", "signers": [{"email": "ana@acme.example"}, {"email": "bruno@acme.example"}]},
])
def test_an_unexpected_answer_is_a_bad_response(zapsign, httpserver, body):
    httpserver.expect_oneshot_request("/api/v1/docs/", method="POST").respond_with_json(body)

    with pytest.raises(BadResponse):
        send(client(zapsign))


def test_a_provider_that_hangs_times_out_as_a_retryable_error(zapsign, httpserver):
    httpserver.expect_oneshot_request("/api/v1/docs/", method="POST").respond_with_handler(
        lambda request: time.sleep(0.3) or Response("{}", content_type="application/json"))

    with pytest.raises(Timeout) as error:
        send(client(zapsign, timeout=0.1))
    assert error.value.retryable


def test_cancel_refuses_the_document(zapsign):
    # Given a document in progress
    provider = client(zapsign)
    ref = send(provider)

    # When it is canceled
    provider.cancel_envelope(ref.envelope_id)

    # Then ZapSign refused it with our reason
    cancel = zapsign.requests[-1]
    assert (cancel.method, cancel.path) == ("POST", "/refuse/")
    assert cancel.body == {"doc_token": ref.envelope_id, "rejected_reason": "Canceled by the sender."}
    assert zapsign.docs[ref.envelope_id]["status"] == "refused"


def test_canceling_a_finished_document_is_refused_by_zapsign(zapsign):
    provider = client(zapsign)
    ref = send(provider)
    provider.cancel_envelope(ref.envelope_id)

    with pytest.raises(BadResponse):
        provider.cancel_envelope(ref.envelope_id)


def test_there_is_no_lookup_by_external_id(zapsign):
    assert client(zapsign).find_envelope("exec-1:node-sign:signature_envelope") is None


def test_the_configured_secret_header_verifies_in_any_case():
    body = b'{"event_type": "doc_signed"}'
    assert ZapSignProvider.verify_webhook({"X-DocG-Webhook-Secret": SECRET}, body, SECRET)
    assert ZapSignProvider.verify_webhook({"x-docg-webhook-secret": SECRET}, body, SECRET)

    assert not ZapSignProvider.verify_webhook({"X-DocG-Webhook-Secret": "guess"}, body, SECRET)
    assert not ZapSignProvider.verify_webhook({"X-DocG-Webhook-Secret": SECRET}, body, "rotated-secret")
    assert not ZapSignProvider.verify_webhook({"Content-Type": "application/json"}, body, SECRET)
    assert not ZapSignProvider.verify_webhook({"X-DocG-Webhook-Secret": ""}, body, "")


def test_the_secret_header_name_is_a_class_attribute():
    class Custom(ZapSignProvider):
        webhook_secret_header = "X-Zapsign-Webhook-Secret"

    assert Custom.verify_webhook({"X-Zapsign-Webhook-Secret": SECRET}, b"{}", SECRET)
    assert not Custom.verify_webhook({"X-DocG-Webhook-Secret": SECRET}, b"{}", SECRET)


def test_signatures_then_completion_map_to_signed_and_completed(zapsign):
    # Given a document with two signers
    ref = send(client(zapsign))

    # When Ana signs, then Bruno signs
    first = ZapSignProvider.parse_webhook(zapsign.act(ref.envelope_id, "ana@acme.example", "doc_signed"))
    last = ZapSignProvider.parse_webhook(zapsign.act(ref.envelope_id, "bruno@acme.example", "doc_signed",
                                                     at="2024-05-04T09:00:00.000000Z"))

    # Then Ana's webhook is one signature, Bruno's a signature and the completion
    assert [(e.kind, e.signer_email, e.envelope_id) for e in first] == [
        ("signed", "ana@acme.example", ref.envelope_id)]
    assert [(e.kind, e.signer_email) for e in last] == [("signed", "bruno@acme.example"), ("completed", None)]
    assert first[0].occurred_at == "2024-05-03T12:00:00.000000Z"
    keys = [e.event_key for e in first + last]
    assert len(set(keys)) == 3 and all(k.startswith(ref.envelope_id + ":") for k in keys)
    assert first[0].raw["external_id"] == "exec-1:node-sign:signature_envelope"


def test_a_redelivered_webhook_has_the_same_event_key(zapsign):
    ref = send(client(zapsign))
    body = zapsign.act(ref.envelope_id, "ana@acme.example", "doc_signed")

    assert ZapSignProvider.parse_webhook(body)[0].event_key == ZapSignProvider.parse_webhook(body)[0].event_key


def test_a_view_names_the_signer_who_opened_the_link(zapsign):
    ref = send(client(zapsign))
    zapsign.act(ref.envelope_id, "ana@acme.example", "doc_viewed", at="2024-05-03T08:00:00.000000Z")
    body = zapsign.act(ref.envelope_id, "bruno@acme.example", "doc_viewed", at="2024-05-03T09:30:00.000000Z")

    [event] = ZapSignProvider.parse_webhook(body)
    assert (event.kind, event.signer_email, event.occurred_at) == ("viewed", "bruno@acme.example",
                                                                   "2024-05-03T09:30:00.000000Z")


def test_a_signer_refusal_is_declined_by_that_signer(zapsign):
    ref = send(client(zapsign))

    [event] = ZapSignProvider.parse_webhook(zapsign.act(ref.envelope_id, "bruno@acme.example", "doc_refused"))

    assert (event.kind, event.signer_email, event.envelope_id) == ("declined", "bruno@acme.example", ref.envelope_id)


def test_our_own_cancel_comes_back_as_canceled(zapsign):
    provider = client(zapsign)
    ref = send(provider)
    provider.cancel_envelope(ref.envelope_id)

    [event] = ZapSignProvider.parse_webhook(zapsign.event(ref.envelope_id, "doc_refused"))

    assert (event.kind, event.signer_email) == ("canceled", None)


@pytest.mark.parametrize("event_type, fields, kind, at", [
    ("doc_expired", {"expiration_date": "2024-05-09T23:59:59.000999+00:00"}, "expired",
     "2024-05-09T23:59:59.000999+00:00"),
    ("doc_deleted", {"deleted": True, "deleted_at": "2024-05-05T10:00:00.000000Z"}, "canceled",
     "2024-05-05T10:00:00.000000Z"),
])
def test_document_level_endings(zapsign, event_type, fields, kind, at):
    ref = send(client(zapsign))

    [event] = ZapSignProvider.parse_webhook(zapsign.event(ref.envelope_id, event_type, **fields))

    assert (event.kind, event.envelope_id, event.signer_email, event.occurred_at) == (kind, ref.envelope_id, None, at)
    assert event.event_key == f"{ref.envelope_id}:{event_type}"


@pytest.mark.parametrize("event_type", ["doc_created", "created_signer", "signature_notification_sent",
                                        "doc_read_confirmation", "doc_expiration_alert"])
def test_other_events_are_ignored(zapsign, event_type):
    ref = send(client(zapsign))
    assert ZapSignProvider.parse_webhook(zapsign.event(ref.envelope_id, event_type)) == []


def test_email_bounce_is_ignored_and_garbage_is_a_bad_response():
    bounce = {"event_type": "email_bounce", "email": "ana@acme.example", "token": "853fda7d-0000",
              "type": "link_email", "status": "dropped", "delivered": False}
    assert ZapSignProvider.parse_webhook(json.dumps(bounce).encode()) == []
    with pytest.raises(BadResponse):
        ZapSignProvider.parse_webhook(b'{"token": "abc"}')
    with pytest.raises(BadResponse):
        ZapSignProvider.parse_webhook(b"<html>")


def test_sequential_signing_turns_on_zapsigns_signing_order(zapsign):
    # Given an envelope created with the signers in order, in English
    ref = send(client(zapsign), sequential=True, locale="en")

    # Then ZapSign gets the order switched on and one group per signer, and asks only the first
    body = zapsign.requests[0].body
    assert body["signature_order_active"] is True and body["lang"] == "en"
    assert [(s["email"], s["order_group"]) for s in body["signers"]] == [("ana@acme.example", 1),
                                                                         ("bruno@acme.example", 2)]
    assert zapsign.invited(ref.envelope_id) == ["ana@acme.example"]
    with pytest.raises(ValueError):
        zapsign.act(ref.envelope_id, "bruno@acme.example", "doc_signed")
    zapsign.act(ref.envelope_id, "ana@acme.example", "doc_signed")
    assert zapsign.invited(ref.envelope_id) == ["bruno@acme.example"]


def test_without_sequential_no_order_is_sent_and_everyone_is_asked_at_once(zapsign):
    ref = send(client(zapsign))
    body = zapsign.requests[0].body
    assert "signature_order_active" not in body and all("order_group" not in s for s in body["signers"])
    assert zapsign.invited(ref.envelope_id) == ["ana@acme.example", "bruno@acme.example"]


@pytest.mark.parametrize(("hours", "days"), [(24, 1), (30, 2), (1, 1), (168, 7)])
def test_reminder_hours_become_zapsigns_reminder_every_n_days(zapsign, hours, days):
    ref = send(client(zapsign), reminder_hours=hours)
    assert zapsign.requests[0].body["reminder_every_n_days"] == days
    assert zapsign.docs[ref.envelope_id]["reminder_every_n_days"] == days


def test_without_reminder_hours_no_reminder_is_asked(zapsign):
    send(client(zapsign))
    assert "reminder_every_n_days" not in zapsign.requests[0].body
