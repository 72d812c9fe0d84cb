"""ClickSign client on the Envelope API (API 3.0, JSON:API, docs v3.x).

Endpoints used (https://developers.clicksign.com/docs/introducao-a-documentacao,
reference at https://developers.clicksign.com/reference/api-criar-envelope):

- POST   /api/v3/envelopes                            create the envelope (status draft)
- POST   /api/v3/envelopes/{id}/documents             upload; `content_base64` is a data URI
- POST   /api/v3/envelopes/{id}/signers               one per signer
- POST   /api/v3/envelopes/{id}/requirements          per signer: qualification
                                                      (action agree, role sign) and
                                                      authentication (provide_evidence, email)
- PATCH  /api/v3/envelopes/{id}                       activate (status running)
- POST   /api/v3/envelopes/{id}/notifications         ask the signers to sign
- GET    /api/v3/envelopes/{id}/documents, then
  PATCH  /api/v3/envelopes/{id}/documents/{doc}       cancel (status canceled)
- DELETE /api/v3/envelopes/{id}                       drop a draft a failed creation left
- GET    /api/v3/envelopes/{id}/documents/{doc}       `links.files.signed`: the signed PDF (a link
                                                      valid 5 minutes, there seconds after closing)
- GET    /api/v3/envelopes/{id}/documents/{doc}/events  the document's events (audit trail, JSON)

Every call sends the account's access token as `Authorization` (no "Bearer"
prefix, per the reference's security scheme) and `application/vnd.api+json`.

Webhooks (https://developers.clicksign.com/docs/eventos) describe document
events: `{"event": {"name", "data", "occurred_at"}, "document": {"key",
"metadata", ...}}`, signed with HMAC-SHA256 of the raw body in
`Content-Hmac: sha256=<hex>` using the webhook's secret.

NOTE: API 3.0 offers no idempotency key and no external id to find an
envelope by (listing filters only by name, status and dates), so
`find_envelope` cannot help: the step's side-effect ledger is what keeps a
retried step from creating a second envelope. Our envelope id and the
idempotency key travel in the document `metadata`, which ClickSign echoes in
every webhook; that is how an event finds its envelope.
"""
import base64
import datetime
import hashlib
import hmac
import json

from integrations.errors import BadResponse, IntegrationError, Unavailable
from integrations.http import Session, raise_for_status
from integrations.signatures.base import EnvelopeRef, SignatureEvent, SignatureProvider, SignedFiles, SignerRef
from integrations.signatures.downloads import download

PRODUCTION_URL = "https://app.clicksign.com/api/v3"
SANDBOX_URL = "https://sandbox.clicksign.com/api/v3"
JSONAPI = "application/vnd.api+json"
HMAC_HEADER = "Content-Hmac"
ENVELOPE_KEY, IDEMPOTENCY_KEY = "docg_envelope_id", "docg_idempotency_key"
EXTENSIONS = {
    "application/pdf": ".pdf", "application/msword": ".doc", "text/plain": ".txt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "image/png": ".png", "image/jpeg": ".jpg",
}
EVENT_KINDS = {"sign": "signed", "refusal": "declined", "close": "completed", "auto_close": "completed",
               "deadline": "expired", "cancel": "canceled"}
SIGNER_EVENTS = ("sign", "refusal")
LOCALES = {"en": "en-US", "pt-BR": "pt-BR"}
#: the reminder intervals (days) ClickSign offers; up to three reminders are sent
REMIND_INTERVALS = (1, 2, 3, 7, 14)


def remind_interval(hours):
    """The shortest interval ClickSign offers that is not sooner than `hours`."""
    days = hours / 24
    return next((d for d in REMIND_INTERVALS if d >= days), REMIND_INTERVALS[-1])


def header(headers, name):
    """Return a header's value whatever the case of its name, or ''."""
    wanted = name.lower()
    return next((str(value) for key, value in headers.items() if str(key).lower() == wanted), "")


def rfc3339(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def filename_for(name, content_type):
    extension = EXTENSIONS.get(content_type, "")
    return name if not extension or name.lower().endswith(extension) else f"{name}{extension}"


class ClickSignProvider(SignatureProvider):
    """Send documents for signature through ClickSign envelopes."""

    key = "clicksign"
    locale = "pt-BR"
    auth = "email"

    def __init__(self, *, token, base_url=PRODUCTION_URL, correlation_id=None, timeout=15.0, session=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or Session(correlation_id=correlation_id, timeout=timeout)
        self.headers = {"Authorization": token, "Accept": JSONAPI, "Content-Type": JSONAPI}
        if session is not None and correlation_id:
            self.headers["X-Correlation-ID"] = str(correlation_id)

    def create_envelope(self, *, name, document, content_type, signers, expires_at, idempotency_key, message=None,
                        locale=None, sequential=False, reminder_hours=None, sender=""):
        """Create, fill, activate and notify an envelope; drop it if a step fails.

        The creation takes several calls; when one fails the half-built
        envelope is deleted (draft) or canceled (already running) before the
        error is raised, so a retry starts clean. `sequential` puts each
        signer in their own signing `group` (1, 2, ...): ClickSign notifies a
        group once the previous one signed. `reminder_hours` becomes the
        envelope's `remind_interval` (days, rounded up to what ClickSign offers).
        """
        attributes = {"name": name[:255], "locale": LOCALES.get(locale, self.locale), "auto_close": True,
                      "deadline_at": rfc3339(expires_at)}
        if reminder_hours:
            attributes["remind_interval"] = remind_interval(reminder_hours)
        if message:
            attributes["default_message"] = message
        envelope = self._create("/envelopes", "envelopes", attributes, what="envelope creation")
        envelope_id = envelope["id"]
        state = {"document_id": None, "running": False}
        try:
            return self._fill(envelope, state, name=name, document=document, content_type=content_type,
                              signers=signers, idempotency_key=idempotency_key, message=message,
                              sequential=sequential)
        except IntegrationError:
            self._abandon(envelope_id, state)
            raise

    def _fill(self, envelope, state, *, name, document, content_type, signers, idempotency_key, message, sequential):
        envelope_id = envelope["id"]
        data_uri = f"data:{content_type};base64,{base64.b64encode(document).decode('ascii')}"
        uploaded = self._create(f"/envelopes/{envelope_id}/documents", "documents", {
            "filename": filename_for(name, content_type), "content_base64": data_uri,
            "metadata": {ENVELOPE_KEY: envelope_id, IDEMPOTENCY_KEY: idempotency_key},
        }, what="document upload")
        state["document_id"] = uploaded["id"]
        people = []
        for position, signer in enumerate(signers):
            attributes = {"name": signer.get("name") or signer["email"], "email": signer["email"],
                          "communicate_events": {"signature_request": "email", "signature_reminder": "email",
                                                 "document_signed": "email"}}
            if sequential:
                attributes["group"] = position + 1
            created = self._create(f"/envelopes/{envelope_id}/signers", "signers", attributes,
                                   what="signer creation")
            people.append(SignerRef(email=signer["email"], name=signer.get("name") or signer["email"],
                                    external_id=created["id"]))
        for person in people:
            relationships = {"document": {"data": {"type": "documents", "id": uploaded["id"]}},
                             "signer": {"data": {"type": "signers", "id": person.external_id}}}
            for requirement in ({"action": "agree", "role": "sign"}, {"action": "provide_evidence", "auth": self.auth}):
                self._create(f"/envelopes/{envelope_id}/requirements", "requirements", requirement,
                             relationships=relationships, what="signature requirement")
        activation = {"data": {"id": envelope_id, "type": "envelopes", "attributes": {"status": "running"}}}
        response = self._send("PATCH", f"/envelopes/{envelope_id}", activation, what="envelope activation")
        state["running"] = True
        activated = self._data(response, what="envelope activation")
        notice = {"message": message} if message else {}
        self._send("POST", f"/envelopes/{envelope_id}/notifications",
                   {"data": {"type": "notifications", "attributes": notice}}, what="signer notification")
        return EnvelopeRef(envelope_id=envelope_id, signers=people,
                           raw={"envelope": activated, "document_id": uploaded["id"]})

    def _abandon(self, envelope_id, state):
        """Delete a draft or cancel a running envelope; never hide the first error."""
        try:
            if state["running"]:
                self._cancel_document(envelope_id, state["document_id"])
            else:
                self._send("DELETE", f"/envelopes/{envelope_id}", None, what="draft cleanup")
        except IntegrationError:
            pass

    def cancel_envelope(self, envelope_id):
        """Cancel every running document of the envelope.

        API 3.0 cancels documents, not envelopes; closed or already canceled
        documents are left alone so a repeated cancel is harmless.
        """
        listing = self._json(self._send("GET", f"/envelopes/{envelope_id}/documents", None,
                                        what="document listing"), what="document listing")
        documents = listing.get("data")
        if not isinstance(documents, list):
            raise BadResponse("ClickSign answered with an unexpected document list.", f"body: {listing!r:.300}")
        for document in documents:
            if isinstance(document, dict) and (document.get("attributes") or {}).get("status") == "running":
                self._cancel_document(envelope_id, document["id"])

    def fetch_signed(self, envelope_id):
        """Download the closed document's signed PDF and its events (the audit trail)."""
        listing = self._json(self._send("GET", f"/envelopes/{envelope_id}/documents", None,
                                        what="document listing"), what="document listing").get("data")
        document = next((d for d in listing or [] if isinstance(d, dict) and d.get("id")), None)
        if document is None:
            raise BadResponse("ClickSign lists no document in the envelope.", f"envelope {envelope_id}")
        path = f"/envelopes/{envelope_id}/documents/{document['id']}"
        detail = self._data(self._send("GET", path, None, what="document download links"),
                            what="document download links")
        files = ((detail.get("links") or {}).get("files") or {})
        if (detail.get("attributes") or {}).get("status") not in ("closed", None) or not files.get("signed"):
            raise Unavailable("ClickSign is still preparing the signed document; DocG will try again.",
                              f"document {document['id']} status {(detail.get('attributes') or {}).get('status')}")
        signed = download(self.http, files["signed"], what="ClickSign signed document", timeout=self.timeout)
        events = self._send("GET", f"{path}/events", None, what="document events")
        return SignedFiles(signed=signed, audit_trail=events.content, audit_trail_type="application/json")

    def _cancel_document(self, envelope_id, document_id):
        cancel = {"data": {"id": document_id, "type": "documents", "attributes": {"status": "canceled"}}}
        self._send("PATCH", f"/envelopes/{envelope_id}/documents/{document_id}", cancel, what="document cancellation")

    def _create(self, path, kind, attributes, *, relationships=None, what):
        data = {"type": kind, "attributes": attributes}
        if relationships:
            data["relationships"] = relationships
        return self._data(self._send("POST", path, {"data": data}, what=what), what=what)

    def _send(self, method, path, payload, *, what):
        body = None if payload is None else json.dumps(payload).encode()
        response = self.http.request(method, f"{self.base_url}{path}", data=body, headers=self.headers,
                                     timeout=self.timeout)
        return raise_for_status(response, what=f"ClickSign {what}")

    def _json(self, response, *, what):
        try:
            payload = response.json()
        except ValueError as ex:
            raise BadResponse(f"ClickSign answered the {what} with something that is not JSON.",
                              f"{response.status_code} {response.reason}") from ex
        if not isinstance(payload, dict):
            raise BadResponse(f"ClickSign answered the {what} with an unexpected body.", f"body: {payload!r:.300}")
        return payload

    def _data(self, response, *, what):
        data = self._json(response, what=what).get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise BadResponse(f"ClickSign answered the {what} without a resource id.", f"data: {data!r:.300}")
        return data

    @classmethod
    def verify_webhook(cls, headers, body, secret):
        """Check `Content-Hmac: sha256=<hex>` against HMAC-SHA256 of the raw body."""
        given = header(headers, HMAC_HEADER).strip().lower()
        if not secret or not given:
            return False
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given.encode(), expected.encode())

    @classmethod
    def parse_webhook(cls, body):
        """Map sign, refusal, close/auto_close, deadline and cancel; ignore the rest.

        ClickSign sends no event id, so the key joins the document key, the
        event name, when it happened and the signer (for per-signer events).
        """
        try:
            payload = json.loads(body)
        except ValueError as ex:
            raise BadResponse("The ClickSign webhook is not JSON.", str(ex)) from ex
        event = payload.get("event") if isinstance(payload, dict) else None
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise BadResponse("The ClickSign webhook has no event.", f"body: {body[:300]!r}")
        kind = EVENT_KINDS.get(event["name"])
        if kind is None:
            return []
        document = payload.get("document")
        if isinstance(document, list):
            document = document[0] if document else None
        if not isinstance(document, dict) or not document.get("key"):
            raise BadResponse("The ClickSign webhook has no document key.", f"event: {event['name']}")
        metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
        signer = {}
        if event["name"] in SIGNER_EVENTS and isinstance(event.get("data"), dict):
            signer = event["data"].get("signer") or {}
        occurred_at = event.get("occurred_at")
        event_key = ":".join(str(part or "") for part in (
            document["key"], event["name"], occurred_at, signer.get("key") or signer.get("email")))
        return [SignatureEvent(event_key=event_key, envelope_id=str(metadata.get(ENVELOPE_KEY) or document["key"]),
                               kind=kind, signer_email=signer.get("email"), occurred_at=occurred_at, raw=payload)]
