"""The Google clients against one local server that speaks Drive, Docs, Slides, Forms and Gmail."""
import base64
import json
import types

import pytest
from werkzeug import Response

from integrations import oauth
from integrations.errors import AuthExpired, BadResponse, IntegrationError, PermissionDenied, RateLimited, Unavailable
from integrations.google import provider
from integrations.google.client import api_root
from integrations.google.documents import Docs, Slides
from integrations.google.drive import DOCUMENT, FOLDER, PRESENTATION, Drive, search_query
from integrations.google.forms import Forms, flatten
from integrations.google.gmail import Gmail, build_message
from integrations.google.render import replacements_for
from integrations.http import Session
from tests.integrations.google.fake_google import ACCESS_TOKEN, api_error, drive_error

CORRELATION = "corr-google-7"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def session():
    http = Session(correlation_id=CORRELATION, timeout=5, retries=0)
    http.headers["Authorization"] = f"Bearer {ACCESS_TOKEN}"
    return http


def client(cls, google):
    return cls(session(), google.base_url)


def scope_insufficient():
    """Google's 403 for a token granted without a scope the call needs."""
    return Response(json.dumps({"error": {"code": 403, "message": "Request had insufficient authentication scopes.",
                                          "status": "PERMISSION_DENIED", "details": [
                                              {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                               "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}), 403,
                    content_type="application/json")


def test_base_url_replaces_scheme_and_host_of_every_google_api():
    assert api_root("drive") == "https://www.googleapis.com/drive/v3"
    assert api_root("gmail") == "https://gmail.googleapis.com/gmail/v1"
    local = {api: api_root(api, "http://127.0.0.1:8765/") for api in
             ("drive", "upload", "docs", "slides", "forms", "gmail")}
    assert local == {"drive": "http://127.0.0.1:8765/drive/v3", "upload": "http://127.0.0.1:8765/upload/drive/v3",
                     "docs": "http://127.0.0.1:8765/v1", "slides": "http://127.0.0.1:8765/v1",
                     "forms": "http://127.0.0.1:8765/v1", "gmail": "http://127.0.0.1:8765/gmail/v1"}


def test_oauth_asks_google_for_offline_access_and_every_scope():
    settings = types.SimpleNamespace(google_client_id="cid.apps.googleusercontent.com", google_client_secret="s")
    url = oauth.authorize_url(provider(), settings, "state-1", "https://docg.example/cb")
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert "access_type=offline" in url and "prompt=consent" in url
    for scope in ("drive", "documents", "presentations", "forms.responses.readonly", "gmail.send", "gmail.compose"):
        assert f"https%3A%2F%2Fwww.googleapis.com%2Fauth%2F{scope}" in url


def test_copy_then_merge_a_doc_whose_tags_span_style_runs(google):
    google.add("tpl-doc", "Contrato modelo", DOCUMENT, text=["Contrato com {{client_name}} ({{ trigger.deal_id }}).",
                                                              "Total: {{step.quote.total}}"])
    google.add("fld-1", "Contratos", FOLDER)
    drive, docs = client(Drive, google), client(Docs, google)

    text = docs.text("tpl-doc")
    replacements = replacements_for(text, {"client_name": "Acme", "trigger": {"deal_id": "D-1"},
                                           "step": {"quote": {"total": 1250.5}}})
    copy = drive.copy("tpl-doc", name="Contrato Acme", folder_id="fld-1", app_properties={"docgKey": "e:n:copy"})
    replaced = docs.replace_all(copy.id, replacements)

    assert replacements == {"{{client_name}}": "Acme", "{{ trigger.deal_id }}": "D-1", "{{step.quote.total}}": "1250.5"}
    assert replaced.occurrences == 3 and replaced.requests == 3
    assert google.text_of(copy.id) == "Contrato com Acme (D-1).\nTotal: 1250.5"
    assert google.text_of("tpl-doc").startswith("Contrato com {{client_name}}")
    assert (copy.name, copy.parents, copy.mime_type) == ("Contrato Acme", ("fld-1",), DOCUMENT)
    assert google.files[copy.id]["appProperties"] == {"docgKey": "e:n:copy"}
    [copy_call] = google.seen("POST", r"/drive/v3/files/tpl-doc/copy")
    assert copy_call.args["supportsAllDrives"] == "true"
    [update] = google.seen("POST", r"/v1/documents/.+:batchUpdate")
    assert update.json()["requests"][0] == {"replaceAllText": {"containsText": {"text": "{{client_name}}",
                                                                                "matchCase": True},
                                                               "replaceText": "Acme"}}
    for seen in google.requests:
        assert seen.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert seen.headers["X-Correlation-ID"] == CORRELATION


def test_a_tag_without_value_is_refused_before_anything_is_copied(google):
    google.add("tpl-doc", "Modelo", DOCUMENT, text=["Olá {{client_name}}, {{ missing.value }}"])
    with pytest.raises(IntegrationError) as raised:
        replacements_for(client(Docs, google).text("tpl-doc"), {"client_name": "Acme"})
    assert raised.value.code == "template.unmapped_tags" and "missing.value" in raised.value.message_human


def test_slides_merge_and_export_as_pdf(google):
    google.add("tpl-deck", "Proposta", PRESENTATION, text=["Proposta para {{client_name}}", "Valor {{amount}}"])
    slides, drive = client(Slides, google), client(Drive, google)

    replacements = replacements_for(slides.text("tpl-deck"), {"client_name": "Acme", "amount": "9.900"})
    assert slides.replace_all("tpl-deck", replacements).occurrences == 2
    pdf = drive.export("tpl-deck", "application/pdf")

    assert pdf.startswith(b"%PDF") and b"Proposta para Acme" in pdf and b"Valor 9.900" in pdf
    assert google.seen("GET", r"/drive/v3/files/tpl-deck/export")[0].args["mimeType"] == "application/pdf"


def test_multipart_upload_sends_metadata_and_media_in_one_request(google):
    google.add("fld-1", "Contratos", FOLDER)
    uploaded = client(Drive, google).upload(name="Contrato.pdf", content=PDF, content_type="application/pdf",
                                            folder_id="fld-1", app_properties={"docgKey": "k"})

    [seen] = google.seen("POST", r"/upload/drive/v3/files")
    assert seen.args["uploadType"] == "multipart" and seen.args["supportsAllDrives"] == "true"
    assert seen.headers["Content-Type"].startswith("multipart/related; boundary=")
    stored = google.files[uploaded.id]
    assert (stored["name"], stored["parents"], stored["content"], stored["mimeType"]) == (
        "Contrato.pdf", ["fld-1"], PDF, "application/pdf")
    assert uploaded.url == f"https://docs.google.com/open?id={uploaded.id}"


def test_large_files_use_a_resumable_upload_session(google):
    drive = client(Drive, google)
    drive.multipart_limit = 16
    uploaded = drive.upload(name="big.pdf", content=PDF * 3, content_type="application/pdf", folder_id="root")

    assert [(s.method, s.args.get("uploadType")) for s in google.requests] == [("POST", "resumable"),
                                                                               ("PUT", "resumable")]
    assert google.requests[0].headers["X-Upload-Content-Length"] == str(len(PDF * 3))
    assert google.files[uploaded.id]["content"] == PDF * 3


def test_upload_to_a_missing_folder_is_folder_not_found(google):
    with pytest.raises(IntegrationError) as raised:
        client(Drive, google).upload(name="a.pdf", content=PDF, content_type="application/pdf", folder_id="gone")
    assert raised.value.code == "drive.folder_not_found"


def test_listing_follows_next_page_tokens_and_escapes_the_search(google):
    for n in range(230):
        google.add(f"fld-{n:03d}", f"Pasta {n:03d}", FOLDER)
    google.add("doc-1", "Pasta de contratos", DOCUMENT)
    drive = client(Drive, google)

    folders = list(drive.list_files(search_query([FOLDER])))
    assert len(folders) == 230 and folders[0].name == "Pasta 000"
    assert [s.args.get("pageToken") for s in google.requests] == [None, "100", "200"]
    assert "mimeType = 'application/vnd.google-apps.folder'" in google.requests[0].args["q"]

    google.add("fld-q", "D'Ávila", FOLDER)
    assert [f.id for f in drive.list_files(search_query([FOLDER], "d'ávila"))] == ["fld-q"]
    assert "name contains 'd\\'ávila'" in google.requests[-1].args["q"]


@pytest.mark.parametrize("response, error, code", [
    (drive_error(403, "insufficientFilePermissions", "The user does not have sufficient permissions for this file."),
     PermissionDenied, "drive.insufficient_permissions"),
    (drive_error(404, "notFound", "File not found: x.", "fileId"), IntegrationError, "template.not_found"),
    (drive_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded."), RateLimited, "rate_limit"),
    (api_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), RateLimited, "rate_limit"),
    (api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), AuthExpired,
     "oauth_expired"),
    (scope_insufficient(), AuthExpired, "oauth_expired"),
    (drive_error(403, "exportSizeLimitExceeded", "This file is too large to be exported."), IntegrationError,
     "render.export_too_large"),
    (api_error(500, "INTERNAL", "Internal error encountered."), Unavailable, "connection_error"),
    (drive_error(400, "badRequest", "Invalid Value", "fileId"), BadResponse, "bad_response"),
])
def test_google_errors_map_to_codes_people_can_act_on(google, response, error, code):
    google.add("tpl-doc", "Modelo", DOCUMENT)
    google.fail("GET", "/drive/v3/files/tpl-doc", response)
    with pytest.raises(error) as raised:
        client(Drive, google).file("tpl-doc")
    assert raised.value.code == code and raised.value.message_tech


def test_sharing_grants_a_user_permission_with_or_without_notification(google):
    google.add("f-contract", "Contrato.pdf", "application/pdf")
    drive = client(Drive, google)

    granted = drive.share("f-contract", "ana@acme.example", role="commenter", message="Segue o contrato.")
    quiet = drive.share("f-contract", "legal@acme.example", role="reader", notify=False, message="ignored")

    first, second = google.seen("POST", "/drive/v3/files/f-contract/permissions")
    assert first.json() == {"role": "commenter", "type": "user", "emailAddress": "ana@acme.example"}
    assert first.args == {"supportsAllDrives": "true", "sendNotificationEmail": "true",
                          "fields": "id,type,role,emailAddress", "emailMessage": "Segue o contrato."}
    assert second.args["sendNotificationEmail"] == "false" and "emailMessage" not in second.args
    assert first.headers["X-Correlation-ID"] == CORRELATION
    assert granted == {"email": "ana@acme.example", "permission_id": granted["permission_id"], "role": "commenter"}
    assert [(p["emailAddress"], p["role"], p["notified"]) for p in google.files["f-contract"]["permissions"]] == [
        ("ana@acme.example", "commenter", True), ("legal@acme.example", "reader", False)]
    assert quiet["permission_id"] != granted["permission_id"]


@pytest.mark.parametrize("response, error, code", [
    (api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), AuthExpired,
     "oauth_expired"),
    (drive_error(403, "insufficientFilePermissions", "The user does not have sufficient permissions for this file."),
     PermissionDenied, "drive.insufficient_permissions"),
    (drive_error(404, "notFound", "File not found: f-contract.", "fileId"), IntegrationError, "drive.file_not_found"),
    (drive_error(403, "sharingRateLimitExceeded", "Rate limit exceeded for sharing."), RateLimited, "rate_limit"),
])
def test_sharing_errors_map_to_codes_people_can_act_on(google, response, error, code):
    google.add("f-contract", "Contrato.pdf", "application/pdf")
    google.fail("POST", "/drive/v3/files/f-contract/permissions", response)
    with pytest.raises(error) as raised:
        client(Drive, google).share("f-contract", "ana@acme.example", role="reader")
    assert raised.value.code == code and not google.files["f-contract"]["permissions"]


def test_a_rate_limited_share_carries_retry_after(google):
    google.add("f-contract", "Contrato.pdf", "application/pdf")
    google.fail("POST", "/drive/v3/files/f-contract/permissions",
                Response(json.dumps({"error": {"code": 429, "message": "Too many requests", "status":
                                               "RESOURCE_EXHAUSTED"}}), 429, headers={"Retry-After": "30"},
                         content_type="application/json"))
    with pytest.raises(RateLimited) as raised:
        client(Drive, google).share("f-contract", "ana@acme.example", role="reader")
    assert raised.value.retryable and raised.value.retry_after == 30.0
    assert len(google.seen("POST", "/drive/v3/files/f-contract/permissions")) == 1  # a creating call: not retried


def test_gmail_sends_the_raw_mime_with_attachments(google):
    message = build_message(to=["ana@acme.example"], cc=["ops@acme.example"], subject="Seu contrato",
                            body="Segue o contrato.", attachments=[("Contrato.pdf", "application/pdf", PDF)],
                            correlation_id=CORRELATION)
    sent = client(Gmail, google).send(message)

    [received] = google.sent
    assert sent.id and sent.label_ids == ("SENT",)
    assert (received["To"], received["Cc"], received["Subject"]) == ("ana@acme.example", "ops@acme.example",
                                                                     "Seu contrato")
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "Contrato.pdf" and attachment.get_content() == PDF
    raw = google.seen("POST", r"/gmail/v1/users/me/messages/send")[0].json()["raw"]
    assert "+" not in raw and "/" not in raw and base64.urlsafe_b64decode(raw + "==")


def test_a_gmail_draft_carries_the_same_raw_mime_inside_message(google):
    message = build_message(to=["ana@acme.example"], cc=[], subject="Contrato para revisão", body="Revise, por favor.",
                            attachments=[("Contrato.pdf", "application/pdf", PDF)], correlation_id=CORRELATION)

    draft = client(Gmail, google).create_draft(message)

    [request] = google.seen("POST", r"/gmail/v1/users/me/drafts")
    assert list(request.json()) == ["message"] and list(request.json()["message"]) == ["raw"]
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["X-Correlation-ID"] == CORRELATION
    saved = google.drafts[draft["id"]]
    assert (saved["To"], saved["Subject"], saved["X-Correlation-ID"]) == ("ana@acme.example", "Contrato para revisão",
                                                                          CORRELATION)
    assert saved.get_body(("plain",)).get_content().strip() == "Revise, por favor."
    [attachment] = list(saved.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type(), attachment.get_content()) == (
        "Contrato.pdf", "application/pdf", PDF)
    assert draft["message"]["labelIds"] == ["DRAFT"] and not google.sent


@pytest.mark.parametrize("response, error, code", [
    (api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), AuthExpired,
     "oauth_expired"),
    (scope_insufficient(), AuthExpired, "oauth_expired"),
    (api_error(403, "PERMISSION_DENIED", "Mail service not enabled"), PermissionDenied, "permission_denied"),
    (Response(json.dumps({"error": {"code": 429, "message": "User-rate limit exceeded.",
                                    "status": "RESOURCE_EXHAUSTED"}}), 429, headers={"Retry-After": "12"},
              content_type="application/json"), RateLimited, "rate_limit"),
])
def test_gmail_draft_errors_map_to_codes_people_can_act_on(google, response, error, code):
    google.fail("POST", "/gmail/v1/users/me/drafts", response)
    message = build_message(to=["ana@acme.example"], cc=[], subject="s", body="b")
    with pytest.raises(error) as raised:
        client(Gmail, google).create_draft(message)
    assert raised.value.code == code and not google.drafts
    if code == "rate_limit":
        assert raised.value.retry_after == 12.0
        assert len(google.seen("POST", "/gmail/v1/users/me/drafts")) == 1  # a creating call: not retried


def test_a_form_response_is_keyed_by_question_title(google):
    google.add_form("form-1", "Pedido de contrato", [
        ("q-name", "Nome do cliente"), ("q-mail", "E-mail do cliente"), ("q-items", "Serviços"),
        ("Aceites", [("q-terms", "Termos"), ("q-lgpd", "LGPD")])],
        {"resp-1": {"q-name": "Acme Ltda", "q-mail": "ana@acme.example", "q-items": ["Setup", "Suporte"],
                    "q-terms": "Yes"}})
    forms = client(Forms, google)

    output = flatten(forms.form("form-1"), forms.response("form-1", "resp-1"))

    assert output["answers"] == {"Nome do cliente": "Acme Ltda", "E-mail do cliente": "ana@acme.example",
                                 "Serviços": ["Setup", "Suporte"], "Aceites [Termos]": "Yes"}
    assert output["nome_do_cliente"] == "Acme Ltda" and output["e_mail_do_cliente"] == "ana@acme.example"
    assert output["servicos"] == ["Setup", "Suporte"] and output["aceites_termos"] == "Yes"
    assert (output["response_id"], output["form_title"], output["respondent_email"]) == (
        "resp-1", "Pedido de contrato", "ana@acme.example")
    with pytest.raises(IntegrationError) as raised:
        forms.response("form-1", "resp-404")
    assert raised.value.code == "forms.response_not_found"
