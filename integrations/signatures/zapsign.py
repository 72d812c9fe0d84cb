"""ZapSign client on API v1 (https://docs.zapsign.com.br/english).

Endpoints used:

- POST /api/v1/docs/     create the document with its signers in one call
                         (https://docs.zapsign.com.br/english/documentos/criar-documento):
                         `base64_pdf` or `base64_docx`, `external_id`, `date_limit_to_sign`,
                         `allow_refuse_signature`, `signature_order_active`, `reminder_every_n_days`,
                         `signers[]` (with `order_group`); the answer carries the
                         document `token` and each signer's `token` and `sign_url`
- GET  /api/v1/docs/{token}/  detail: `signed_file` is the signed PDF, a link that
                         expires after 60 minutes, so it is fetched at once
- GET  /api/v1/docs/signer-log/{token}?download_pdf=true  the audit trail as a PDF
                         (https://docs.zapsign.com.br/english/documentos/document-audit-trail)
- POST /api/v1/refuse/   cancel an in-progress document (`doc_token`, `rejected_reason`;
                         https://docs.zapsign.com.br/english/documentos/reject-document);
                         it needs `allow_refuse_signature` set at creation

Every call sends `Authorization: Bearer <api_token>`. Production is
https://api.zapsign.com.br, the sandbox https://sandbox.api.zapsign.com.br.

Webhooks (https://docs.zapsign.com.br/english/webhooks/eventos) post the
document with an `event_type`: doc_signed (with `signer_who_signed`),
doc_refused, doc_expired, doc_viewed, doc_deleted, doc_created, ... ZapSign
does not sign them; a webhook can carry custom headers
(https://docs.zapsign.com.br/english/webhooks/create-webhook), so we
configure our secret in `X-DocG-Webhook-Secret` and compare it in constant time.

NOTE: ZapSign keeps `external_id` (we send the idempotency key) and echoes it
in webhooks, but it neither dedupes creations on it nor lets documents be
listed by it (GET /api/v1/docs/ filters by status, folder, dates and signer
email), so `find_envelope` returns None; the step's side-effect ledger is what
keeps a retried step from creating a second document.
"""
import base64
import datetime
import hmac
import json
import math

from integrations.errors import BadResponse, InvalidConfig, Unavailable
from integrations.http import Session, raise_for_status
from integrations.signatures.base import EnvelopeRef, SignatureEvent, SignatureProvider, SignedFiles, SignerRef
from integrations.signatures.downloads import download

PRODUCTION_URL = "https://api.zapsign.com.br/api/v1"
SANDBOX_URL = "https://sandbox.api.zapsign.com.br/api/v1"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILE_FIELDS = {"application/pdf": "base64_pdf", DOCX: "base64_docx"}
REFUSED = ("refused", "rejected", "recusado", "recusou")
LANGS = {"en": "en", "pt-BR": "pt-br"}


def header(headers, name):
    """Return a header's value whatever the case of its name, or ''."""
    wanted = name.lower()
    return next((str(value) for key, value in headers.items() if str(key).lower() == wanted), "")


def zapsign_date(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ZapSignProvider(SignatureProvider):
    """Send documents for signature through ZapSign."""

    key = "zapsign"
    lang = "pt-br"
    auth_mode = "assinaturaTela-tokenEmail"
    cancel_reason = "Canceled by the sender."
    webhook_secret_header = "X-DocG-Webhook-Secret"

    def __init__(self, *, token, base_url=PRODUCTION_URL, correlation_id=None, timeout=15.0, session=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or Session(correlation_id=correlation_id, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                        "Content-Type": "application/json"}
        if session is not None and correlation_id:
            self.headers["X-Correlation-ID"] = str(correlation_id)

    def create_envelope(self, *, name, document, content_type, signers, expires_at, idempotency_key, message=None,
                        locale=None, sequential=False, reminder_hours=None, sender=""):
        """Create the document with its signers; ZapSign e-mails each of them.

        `sequential` turns on `signature_order_active` with one `order_group`
        per signer (1, 2, ...): ZapSign invites a group once the previous one
        signed. `reminder_hours` becomes `reminder_every_n_days`, rounded up
        to whole days: ZapSign re-sends to pending signers itself, and only
        takes the setting when the document is created.
        """
        field = FILE_FIELDS.get(content_type)
        if field is None:
            raise InvalidConfig("ZapSign signs PDF or DOCX documents only.", f"content_type={content_type!r}",
                                code="signature.unsupported_document")
        people = []
        for position, signer in enumerate(signers):
            person = {"name": signer.get("name") or signer["email"], "email": signer["email"],
                      "auth_mode": self.auth_mode, "send_automatic_email": True, "lock_email": True}
            if sequential:
                person["order_group"] = position + 1
            if message:
                person["custom_message"] = message
            people.append(person)
        payload = {"name": name[:255], field: base64.b64encode(document).decode("ascii"),
                   "external_id": idempotency_key, "lang": LANGS.get(locale, self.lang),
                   "date_limit_to_sign": zapsign_date(expires_at), "allow_refuse_signature": True, "signers": people}
        if sequential:
            payload["signature_order_active"] = True
        if reminder_hours:
            payload["reminder_every_n_days"] = max(1, math.ceil(float(reminder_hours) / 24))
        created = self._json(self._send("POST", "/docs/", payload, what="document creation"),
                             what="document creation")
        token, answered = created.get("token"), created.get("signers")
        if not isinstance(token, str) or not token or not isinstance(answered, list) or len(answered) != len(people):
            raise BadResponse("ZapSign answered the document creation with an unexpected body.",
                              f"token={token!r} signers={answered!r:.300}")
        return EnvelopeRef(envelope_id=token, signers=self._signers(people, answered),
                           raw={"status": created.get("status"), "open_id": created.get("open_id")})

    @staticmethod
    def _signers(people, answered):
        """Pair the signers ZapSign returned with ours, by e-mail, else by position."""
        by_email = {str(s.get("email") or "").lower(): s for s in answered if isinstance(s, dict)}
        refs = []
        for person, fallback in zip(people, answered):
            found = by_email.get(person["email"].lower()) or fallback
            if not isinstance(found, dict) or not found.get("token"):
                raise BadResponse("ZapSign answered a signer without a token.", f"signer: {found!r:.300}")
            refs.append(SignerRef(email=person["email"], name=person["name"], external_id=found["token"],
                                  sign_url=found.get("sign_url") or None))
        return refs

    def cancel_envelope(self, envelope_id):
        """Refuse the document at ZapSign so nobody can sign it any more."""
        self._send("POST", "/refuse/", {"doc_token": envelope_id, "rejected_reason": self.cancel_reason},
                   what="document cancellation")

    def fetch_signed(self, envelope_id):
        """Download the signed PDF (fresh 60-minute link from the detail) and the audit trail PDF."""
        detail = self._json(self._send("GET", f"/docs/{envelope_id}/", None, what="document detail"),
                            what="document detail")
        if detail.get("status") != "signed" or not detail.get("signed_file"):
            raise Unavailable("ZapSign is still preparing the signed document; DocG will try again.",
                              f"doc {envelope_id} status {detail.get('status')!r}")
        signed = download(self.http, detail["signed_file"], what="ZapSign signed document", timeout=self.timeout)
        trail = self._send("GET", f"/docs/signer-log/{envelope_id}?download_pdf=true", None, what="audit trail")
        content_type = trail.headers.get("Content-Type", "").split(";")[0].strip() or "application/pdf"
        return SignedFiles(signed=signed, audit_trail=trail.content, audit_trail_type=content_type)

    def _send(self, method, path, payload, *, what):
        body = None if payload is None else json.dumps(payload).encode()
        response = self.http.request(method, f"{self.base_url}{path}", data=body, headers=self.headers,
                                     timeout=self.timeout)
        return raise_for_status(response, what=f"ZapSign {what}")

    @staticmethod
    def _json(response, *, what):
        try:
            payload = response.json()
        except ValueError as ex:
            raise BadResponse(f"ZapSign answered the {what} with something that is not JSON.",
                              f"{response.status_code} {response.reason}") from ex
        if not isinstance(payload, dict):
            raise BadResponse(f"ZapSign answered the {what} with an unexpected body.", f"body: {payload!r:.300}")
        return payload

    @classmethod
    def verify_webhook(cls, headers, body, secret):
        """Compare the configured secret header with `secret` in constant time.

        ZapSign has no body signature, so the raw body is not part of the check.
        """
        given = header(headers, cls.webhook_secret_header)
        return bool(secret) and bool(given) and hmac.compare_digest(given.encode(), secret.encode())

    @classmethod
    def parse_webhook(cls, body):
        """Map doc_signed, doc_viewed, doc_refused, doc_expired and doc_deleted.

        ZapSign sends no event id; keys join the document token, the event
        type and the signer (a signer signs once; a view is the signer with
        the latest `last_view_at`, keyed by that time).
        A refusal names no signer; when no single signer carries a refused
        status (as after our own cancel) it ends the envelope as canceled,
        since the document can no longer be signed.
        """
        try:
            doc = json.loads(body)
        except ValueError as ex:
            raise BadResponse("The ZapSign webhook is not JSON.", str(ex)) from ex
        if not isinstance(doc, dict) or not isinstance(doc.get("event_type"), str):
            raise BadResponse("The ZapSign webhook has no event_type.", f"body: {body[:300]!r}")
        kind, token = doc["event_type"], doc.get("token")
        if kind not in ("doc_signed", "doc_viewed", "doc_refused", "doc_expired", "doc_deleted"):
            return []
        if not isinstance(token, str) or not token:
            raise BadResponse("The ZapSign webhook has no document token.", f"event_type: {kind}")

        def event(key, what, signer=None, at=None):
            return SignatureEvent(event_key=f"{token}:{key}", envelope_id=token, kind=what,
                                  signer_email=(signer or {}).get("email") or None, occurred_at=at, raw=doc)

        signers = [s for s in doc.get("signers") or [] if isinstance(s, dict)]
        if kind == "doc_signed":
            events = []
            signer = doc.get("signer_who_signed") or {}
            if signer.get("token") or signer.get("email"):
                events.append(event(f"doc_signed:{signer.get('token') or signer['email']}", "signed", signer,
                                    signer.get("signed_at")))
            if doc.get("status") == "signed":
                events.append(event("completed", "completed", at=doc.get("last_update_at")))
            return events
        if kind == "doc_viewed":
            viewed = [s for s in signers if s.get("last_view_at") and (s.get("token") or s.get("email"))]
            if not viewed:
                return []
            signer = max(viewed, key=lambda s: s["last_view_at"])
            at = signer["last_view_at"]
            return [event(f"doc_viewed:{signer.get('token') or signer['email']}:{at}", "viewed", signer, at)]
        if kind == "doc_refused":
            refused = [s for s in signers if str(s.get("status") or "").lower() in REFUSED]
            at = doc.get("last_update_at")
            if len(refused) == 1 and refused[0].get("email"):
                return [event("doc_refused", "declined", refused[0], at)]
            return [event("doc_refused", "canceled", at=at)]
        if kind == "doc_expired":
            return [event("doc_expired", "expired", at=doc.get("expiration_date"))]
        return [event("doc_deleted", "canceled", at=doc.get("deleted_at"))]
