"""The ClickSign client against a local server speaking the Envelope API (3.0)."""
import base64
import json

import pytest
import requests

from integrations.errors import AuthExpired, BadResponse, PermissionDenied, RateLimited, Unavailable
from integrations.signatures.clicksign import ClickSignProvider
from tests.integrations.fake_clicksign import FakeClickSign
from tests.integrations.provider_servers import JSONAPI, in_days

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SIGNERS = [{"name": "Ana Souza", "email": "ana@acme.example"}, {"name": "Bruno Lima", "email": "bruno@acme.example"}]
SECRET = "973d92ca80c2206a0e65b35d2371d595"


@pytest.fixture
def clicksign(httpserver):
    return FakeClickSign(httpserver)


def client(fake, **options):
    return ClickSignProvider(token=fake.token, base_url=fake.base_url, correlation_id="corr-42", **options)


def send(provider, **overrides):
    options = {"name": "Contrato D-1042", "document": PDF, "content_type": "application/pdf", "signers": SIGNERS,
               "expires_at": in_days(7), "idempotency_key": "exec-1:node-sign:signature_envelope",
               "message": "Por favor, assine o contrato."}
    return provider.create_envelope(**{**options, **overrides})


def test_create_envelope_builds_activates_and_notifies_through_the_v3_flow(clicksign):
    ref = send(client(clicksign))

    envelope_id = ref.envelope_id
    assert clicksign.calls() == [
        ("POST", "/envelopes"), ("POST", f"/envelopes/{envelope_id}/documents"),
        ("POST", f"/envelopes/{envelope_id}/signers"), ("POST", f"/envelopes/{envelope_id}/signers"),
        *[("POST", f"/envelopes/{envelope_id}/requirements")] * 4,
        ("PATCH", f"/envelopes/{envelope_id}"), ("POST", f"/envelopes/{envelope_id}/notifications")]
    for seen in clicksign.requests:
        assert seen.headers["Authorization"] == "cs-access-token"
        assert seen.headers["Content-Type"] == JSONAPI and seen.headers["Accept"] == JSONAPI
        assert seen.headers["X-Correlation-ID"] == "corr-42"
    envelope = clicksign.envelopes[envelope_id]
    assert envelope["attributes"]["name"] == "Contrato D-1042"
    assert envelope["attributes"]["deadline_at"] == "2024-05-09T13:15:00+00:00"
    assert envelope["attributes"]["status"] == "running"
    [document] = envelope["documents"].values()
    assert (document["content"], document["mime"], document["filename"]) == (PDF, "application/pdf",
                                                                              "Contrato D-1042.pdf")
    assert document["metadata"] == {"docg_envelope_id": envelope_id,
                                    "docg_idempotency_key": "exec-1:node-sign:signature_envelope"}
    assert [(s["name"], s["email"]) for s in envelope["signers"].values()] == [
        ("Ana Souza", "ana@acme.example"), ("Bruno Lima", "bruno@acme.example")]
    requirements = sorted((r["signer"], r["action"], r.get("role") or r.get("auth")) for r in envelope["requirements"])
    assert requirements == sorted((signer_id, action, how) for signer_id in envelope["signers"]
                                  for action, how in (("agree", "sign"), ("provide_evidence", "email")))
    assert envelope["notifications"] == [{"message": "Por favor, assine o contrato."}]
    assert [(s.email, s.name, s.sign_url) for s in ref.signers] == [
        ("ana@acme.example", "Ana Souza", None), ("bruno@acme.example", "Bruno Lima", None)]
    assert [s.external_id for s in ref.signers] == list(envelope["signers"])
    assert ref.raw["document_id"] in envelope["documents"]


def test_document_goes_up_as_a_data_uri_of_its_own_type(clicksign):
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    send(client(clicksign), name="Proposta.docx", document=b"PK\x03\x04docx", content_type=docx)

    upload = clicksign.requests[1].body["data"]["attributes"]
    assert upload["filename"] == "Proposta.docx"
    assert upload["content_base64"] == "data:" + docx + ";base64," + base64.b64encode(b"PK\x03\x04docx").decode()


def test_a_failure_before_activation_deletes_the_draft_and_raises(clicksign):
    # Given ClickSign refuses the second signer
    clicksign.refuse("signers", 2, 422, "email - não é válido", "/data/attributes/email")

    # When the envelope is created
    with pytest.raises(BadResponse) as error:
        send(client(clicksign))

    # Then the half-built draft is deleted at ClickSign and the refusal surfaces
    assert clicksign.calls()[-1][0] == "DELETE"
    assert clicksign.envelopes == {}
    assert "422" in error.value.message_tech and "não é válido" not in error.value.message_tech  # status, never the body


def test_a_failure_after_activation_cancels_the_running_document(clicksign):
    # Given ClickSign cannot notify the signers
    clicksign.refuse("notifications", 1, 500, "Erro interno")

    # When the envelope is created
    with pytest.raises(Unavailable):
        send(client(clicksign))

    # Then the running envelope's document is canceled, so nobody signs an orphan
    [envelope] = clicksign.envelopes.values()
    assert [d["status"] for d in envelope["documents"].values()] == ["canceled"]


@pytest.mark.parametrize("status, body, expected", [
    (401, {"errors": [{"code": "unauthorized", "status": 401, "title": "Não autorizado",
                       "detail": "Access Token inválido"}]}, AuthExpired),
    (403, {"errors": [{"code": "forbidden", "status": 403, "title": "Verificação de conta",
                       "detail": "Conta bloqueada, entre em contato com ajuda@clicksign.com"}]}, PermissionDenied),
    (400, {"errors": [{"code": "bad_request", "status": 400, "source": {"pointer": "/data/attributes/locale"},
                       "detail": "locale deve estar em: pt-BR, en-US"}]}, BadResponse),
    (422, {"errors": [{"title": "deve ser maior ou igual a 2024-02-29 09:20:09 -0300", "code": "100",
                       "detail": "deadline_at - deve ser maior ou igual a 2024-02-29 09:20:09 -0300",
                       "source": {"pointer": "/data/attributes/deadline_at"}, "status": "422"}]}, BadResponse),
    (429, {"errors": [{"code": "too_many_requests", "status": 429, "detail": "Limite de requisições atingido"}]},
     RateLimited),
    (500, {"errors": [{"code": "internal_server_error", "status": 500, "detail": "Erro interno"}]}, Unavailable),
    (503, {"errors": [{"code": "service_unavailable", "status": 503, "title": "Verificação",
                       "detail": "Serviço indisponível"}]}, Unavailable),
])
def test_provider_errors_are_mapped_and_creation_is_not_retried(clicksign, httpserver, status, body, expected):
    headers = {"Retry-After": "30"} if status == 429 else None
    httpserver.expect_oneshot_request("/api/v3/envelopes", method="POST").respond_with_json(
        body, status=status, headers=headers, content_type=JSONAPI)

    with pytest.raises(expected) as error:
        send(client(clicksign))

    assert len(httpserver.log) == 1
    assert error.value.retryable == (expected in (RateLimited, Unavailable))
    if status == 429:
        assert error.value.retry_after == 30.0


def test_the_real_401_of_a_wrong_token_means_reconnect(clicksign):
    provider = ClickSignProvider(token="expired-token", base_url=clicksign.base_url)

    with pytest.raises(AuthExpired) as error:
        send(provider)
    assert error.value.code == "oauth_expired"


@pytest.mark.parametrize("body", [{"data": []}, {"data": {"type": "envelopes"}}, ["not", "an", "object"]])
def test_an_unexpected_answer_is_a_bad_response(clicksign, httpserver, body):
    httpserver.expect_oneshot_request("/api/v3/envelopes", method="POST").respond_with_json(
        body, status=201, content_type=JSONAPI)

    with pytest.raises(BadResponse):
        send(client(clicksign))


def test_cancel_cancels_the_running_document_and_is_harmless_twice(clicksign):
    # Given a running envelope
    provider = client(clicksign)
    ref = send(provider)

    # When it is canceled twice
    provider.cancel_envelope(ref.envelope_id)
    provider.cancel_envelope(ref.envelope_id)

    # Then its document was canceled once, with a JSON:API PATCH
    [document] = clicksign.envelopes[ref.envelope_id]["documents"].values()
    assert document["status"] == "canceled"
    patches = [s for s in clicksign.requests if s.method == "PATCH" and "/documents/" in s.path]
    assert len(patches) == 1
    assert patches[0].body["data"]["attributes"] == {"status": "canceled"}
    assert patches[0].body["data"]["id"] == ref.raw["document_id"]


def test_there_is_no_lookup_by_idempotency_key(clicksign):
    assert client(clicksign).find_envelope("exec-1:node-sign:signature_envelope") is None


def test_an_injected_session_still_gets_the_correlation_id(clicksign):
    with requests.Session() as session:
        send(client(clicksign, session=session))
    assert {s.headers["X-Correlation-ID"] for s in clicksign.requests} == {"corr-42"}


def test_a_signed_webhook_verifies_on_raw_bytes_with_any_header_case(clicksign):
    ref = send(client(clicksign))
    headers, body = clicksign.webhook(ref.envelope_id, "sign", SECRET, signer_email="ana@acme.example")

    assert ClickSignProvider.verify_webhook(headers, body, SECRET)
    assert ClickSignProvider.verify_webhook({k.lower(): v for k, v in headers.items()}, body, SECRET)
    assert ClickSignProvider.verify_webhook({k.upper(): v.upper() for k, v in headers.items()}, body, SECRET)


def test_tampered_body_wrong_secret_or_missing_header_fail(clicksign):
    ref = send(client(clicksign))
    headers, body = clicksign.webhook(ref.envelope_id, "sign", SECRET, signer_email="ana@acme.example")
    tampered = body.replace(b"ana@acme.example", b"eve@evil.example")

    assert not ClickSignProvider.verify_webhook(headers, tampered, SECRET)
    assert not ClickSignProvider.verify_webhook(headers, body, "another-secret")
    assert not ClickSignProvider.verify_webhook(headers, body, "")
    assert not ClickSignProvider.verify_webhook({"Content-Type": "application/json"}, body, SECRET)
    assert not ClickSignProvider.verify_webhook({**headers, "Content-Hmac": "sha256=" + "0" * 64}, body, SECRET)


@pytest.mark.parametrize("name, kind, signer", [
    ("sign", "signed", "ana@acme.example"), ("refusal", "declined", "bruno@acme.example"),
    ("close", "completed", None), ("auto_close", "completed", None), ("deadline", "expired", None),
    ("cancel", "canceled", None),
])
def test_webhook_events_map_to_our_kinds_on_our_envelope(clicksign, name, kind, signer):
    ref = send(client(clicksign))
    _, body = clicksign.webhook(ref.envelope_id, name, SECRET, signer_email=signer)

    [event] = ClickSignProvider.parse_webhook(body)

    assert (event.envelope_id, event.kind, event.signer_email) == (ref.envelope_id, kind, signer)
    assert event.occurred_at == "2024-05-02T10:15:00.000-03:00"
    assert event.event_key.startswith(ref.raw["document_id"] + ":" + name + ":")
    assert event.raw == json.loads(body)


def test_event_keys_tell_notifications_apart_and_repeat_for_a_redelivery(clicksign):
    ref = send(client(clicksign))
    keys = [ClickSignProvider.parse_webhook(clicksign.webhook(ref.envelope_id, "sign", SECRET, signer_email=e)[1])[0]
            .event_key for e in ("ana@acme.example", "bruno@acme.example", "ana@acme.example")]

    assert keys[0] != keys[1] and keys[0] == keys[2]


@pytest.mark.parametrize("name", ["upload", "add_signer", "remove_signer", "document_closed", "update_deadline"])
def test_other_events_are_ignored(clicksign, name):
    ref = send(client(clicksign))
    assert ClickSignProvider.parse_webhook(clicksign.webhook(ref.envelope_id, name, SECRET)[1]) == []


def test_a_body_without_an_event_is_a_bad_response():
    with pytest.raises(BadResponse):
        ClickSignProvider.parse_webhook(b'{"document": {"key": "x"}}')
    with pytest.raises(BadResponse):
        ClickSignProvider.parse_webhook(b"not json")


def test_sequential_signing_puts_each_signer_in_their_own_group(clicksign):
    # Given an envelope created in order, in English, with reminders every 30 hours
    ref = send(client(clicksign), sequential=True, locale="en", reminder_hours=30)

    # Then each signer has a group (1, 2), ClickSign notifies the first group only, and reminds every 2 days
    envelope = clicksign.envelopes[ref.envelope_id]
    assert [(s["email"], s["group"]) for s in envelope["signers"].values()] == [("ana@acme.example", 1),
                                                                                 ("bruno@acme.example", 2)]
    assert envelope["notified"][0] == ["ana@acme.example"]
    assert (envelope["attributes"]["locale"], envelope["attributes"]["remind_interval"]) == ("en-US", 2)


def test_without_sequential_every_signer_is_notified_at_once(clicksign):
    ref = send(client(clicksign), reminder_hours=24 * 30)
    envelope = clicksign.envelopes[ref.envelope_id]
    assert all("group" not in s for s in envelope["signers"].values())
    assert envelope["notified"][0] == ["ana@acme.example", "bruno@acme.example"]
    assert (envelope["attributes"]["locale"], envelope["attributes"]["remind_interval"]) == ("pt-BR", 14)
