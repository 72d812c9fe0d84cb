"""The built-in signature sandbox: a provider that needs no account.

Envelopes live in `sandbox_envelopes`. Each signer gets a signing page
(`/sandbox/sign/{envelope}/{signer token}`); signing or declining there makes
the sandbox POST a real webhook to `/api/v1/webhooks/signature/sandbox`,
signed with HMAC-SHA256 of the raw body (`X-Sandbox-Signature: sha256=...`),
exactly as an outside provider would call us.

Like ClickSign and ZapSign, the sandbox e-mails each signer their link
(`invite_due`), in the envelope's locale; with `sequential` a signer is
invited once everyone before them signed, and `reminder_hours` re-sends
the link to signers who have not signed yet (`remind_due`, at most
MAX_REMINDERS times each).
"""
import datetime
import hashlib
import hmac
import json
import secrets
import uuid

from peewee import IntegrityError

from integrations.http import Session, raise_for_status
from integrations.errors import BadResponse
from integrations.local import pdf
from integrations.signatures.base import EnvelopeRef, SignatureEvent, SignatureProvider, SignedFiles, SignerRef
from integrations.signatures.signed_pdf import signed_pdf
from storage.db import database
from storage.models import SandboxEnvelope, SignatureRequest, utcnow

SIGNATURE_HEADER = "X-Sandbox-Signature"
MAX_REMINDERS = 3
OPEN = ("sent", "viewed")


def sign_body(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxProvider(SignatureProvider):
    key = "sandbox"

    def __init__(self, *, public_url, webhook_url, pdf_timeout=60.0, pdf_concurrency=2):
        self.public_url = public_url.rstrip("/")
        self.webhook_url = webhook_url
        self.pdf_timeout, self.pdf_concurrency = pdf_timeout, pdf_concurrency

    def create_envelope(self, *, name, document, content_type, signers, expires_at, idempotency_key, message=None,
                        locale="en", sequential=False, reminder_hours=None, sender=""):
        found = self.find_envelope(idempotency_key)
        if found is not None:
            return found
        people = [{"email": s["email"].lower(), "name": s.get("name") or s["email"], "status": "sent",
                   "token": secrets.token_urlsafe(24), "order": position, "invited_at": None,
                   "reminded_at": None, "reminders": 0} for position, s in enumerate(signers)]
        try:
            with database.atomic():
                envelope = SandboxEnvelope.create(idempotency_key=idempotency_key, name=name, content_type=content_type,
                                                  document=document, signers=people, webhook_url=self.webhook_url,
                                                  expires_at=expires_at, locale=locale or "en", sender=sender or "",
                                                  sequential=bool(sequential), reminder_hours=reminder_hours)
        except IntegrityError:
            return self.find_envelope(idempotency_key)
        return self._ref(envelope)

    def find_envelope(self, idempotency_key):
        envelope = SandboxEnvelope.get_or_none(SandboxEnvelope.idempotency_key == idempotency_key)
        return self._ref(envelope) if envelope else None

    def fetch_signed(self, envelope_id):
        """Build the signed PDF (original + signature page) and a JSON audit trail of the signers."""
        envelope = SandboxEnvelope.get_or_none(SandboxEnvelope.id == envelope_id)
        if envelope is None:
            raise BadResponse("The sandbox envelope no longer exists.", f"envelope {envelope_id}")
        people = [{"name": p["name"], "email": p["email"], "status": p["status"], "at": p.get("at")}
                  for p in envelope.signers]
        signed = signed_pdf(original=bytes(envelope.document), content_type=envelope.content_type,
                            title=envelope.name, signers=people, envelope_id=str(envelope.id),
                            to_pdf=self._to_pdf if pdf.soffice() is not None else None)
        trail = {"envelope_id": str(envelope.id), "document": envelope.name,
                 "original_sha256": hashlib.sha256(bytes(envelope.document)).hexdigest(),
                 "created_at": envelope.created_at.isoformat(), "signers": people}
        return SignedFiles(signed=signed, audit_trail=json.dumps(trail, indent=2).encode(),
                           audit_trail_type="application/json")

    def _to_pdf(self, content):
        return pdf.to_pdf(content, timeout=self.pdf_timeout, concurrency=self.pdf_concurrency)

    def cancel_envelope(self, envelope_id):
        SandboxEnvelope.update(status="canceled").where(SandboxEnvelope.id == envelope_id).execute()

    def _ref(self, envelope):
        return EnvelopeRef(envelope_id=str(envelope.id), signers=[
            SignerRef(email=p["email"], name=p["name"], external_id=p["token"],
                      sign_url=f"{self.public_url}/sandbox/sign/{envelope.id}/{p['token']}")
            for p in envelope.signers], raw={"status": envelope.status})

    @classmethod
    def verify_webhook(cls, headers, body, secret):
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER.lower(), "")
        return bool(secret) and hmac.compare_digest(given.encode(), sign_body(secret, body).encode())

    @classmethod
    def parse_webhook(cls, body):
        data = json.loads(body)
        return [SignatureEvent(event_key=data["event_id"], envelope_id=data["envelope_id"], kind=data["event"],
                               signer_email=(data.get("signer") or {}).get("email"),
                               occurred_at=data.get("occurred_at"), raw=data)]


def is_withdrawn(envelope):
    """True when the envelope was canceled, or the run's request for it was (the provider hears later)."""
    if envelope.status == "canceled":
        return True
    return (SignatureRequest.select().where((SignatureRequest.provider == "sandbox")
                                            & (SignatureRequest.envelope_id == str(envelope.id))
                                            & (SignatureRequest.status == "canceled")).exists())


def signer_action(envelope_id, token, action):
    """Record a signer's action at the sandbox; return the webhook to send, or None."""
    if action not in ("signed", "declined", "viewed"):
        raise ValueError(action)
    with database.atomic():
        envelope = SandboxEnvelope.select().where(SandboxEnvelope.id == envelope_id).for_update().first()
        if envelope is None or envelope.status != "sent":
            return None
        people = list(envelope.signers)
        person = next((p for p in people if hmac.compare_digest(p["token"], token)), None)
        if person is None or person["status"] in ("signed", "declined") or person["status"] == action:
            return None
        if action != "viewed" and person["email"] not in turn(envelope):
            return None
        person["status"] = action
        person["at"] = utcnow().isoformat()
        SandboxEnvelope.update(signers=people).where(SandboxEnvelope.id == envelope.id).execute()
    return {"event_id": str(uuid.uuid4()), "envelope_id": str(envelope.id), "event": action,
            "signer": {"email": person["email"], "name": person["name"]},
            "occurred_at": utcnow().isoformat(), "url": envelope.webhook_url}


def sent_notifications(envelope_id):
    """The `sent` webhooks the sandbox posts once an envelope is out for signing."""
    envelope = SandboxEnvelope.get_or_none(SandboxEnvelope.id == envelope_id)
    if envelope is None:
        return []
    return [{"event_id": f"{envelope.id}:sent:{p['email']}", "envelope_id": str(envelope.id), "event": "sent",
             "signer": {"email": p["email"], "name": p["name"]}, "occurred_at": envelope.created_at.isoformat(),
             "url": envelope.webhook_url} for p in envelope.signers]


def find_signer(envelope_id, token):
    try:
        envelope = SandboxEnvelope.get_or_none(SandboxEnvelope.id == uuid.UUID(str(envelope_id)))
    except ValueError:
        return None, None
    if envelope is None:
        return None, None
    person = next((p for p in envelope.signers if hmac.compare_digest(p["token"], token)), None)
    return envelope, person


def deliver(notification, secret, *, timeout=15.0, session=None):
    """POST a sandbox notification to its webhook URL, signed like a provider would."""
    url = notification.pop("url")
    body = json.dumps(notification, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(secret, body)}
    with (session or Session(timeout=timeout)) as http:
        raise_for_status(http.post(url, data=body, headers=headers), what="sandbox webhook")


def turn(envelope):
    """E-mails of the signers who may sign now: everyone open, or only the first one in order."""
    people = sorted(envelope.signers, key=lambda p: p.get("order", 0))
    if envelope.status != "sent" or any(p["status"] == "declined" for p in people):
        return set()
    waiting = [p for p in people if p["status"] in OPEN]
    if envelope.sequential:
        waiting = waiting[:1]
    return {p["email"] for p in waiting}


def signer_state(envelope, person):
    """What the signing page says: open, waiting (not their turn), signed, declined, withdrawn or closed."""
    if person["status"] in ("signed", "declined"):
        return person["status"]
    if is_withdrawn(envelope):
        return "withdrawn"
    if envelope.status != "sent" or (envelope.expires_at and envelope.expires_at <= utcnow()):
        return "closed"
    return "open" if person["email"] in turn(envelope) else "waiting"


def invite_due(envelope_id, send):
    """E-mail the signing link to each signer whose turn came and who was not invited; return how many.

    `send(envelope, person, reminder)` delivers one message; the row stays
    locked while it does, so two calls never invite the same signer twice.
    """
    return _mail(envelope_id, send, lambda envelope, person, now: person.get("invited_at") is None)


def remind_due(send, limit=100):
    """Re-send the link to invited signers who have not signed after `reminder_hours`; return how many."""
    ids = [e.id for e in SandboxEnvelope.select(SandboxEnvelope.id).where(
        (SandboxEnvelope.status == "sent") & SandboxEnvelope.reminder_hours.is_null(False)
        & (SandboxEnvelope.expires_at.is_null() | (SandboxEnvelope.expires_at > utcnow()))).limit(limit)]

    def due(envelope, person, now):
        last = person.get("reminded_at") or person.get("invited_at")
        if last is None or person.get("reminders", 0) >= MAX_REMINDERS:
            return False
        elapsed = (now - datetime.datetime.fromisoformat(last)).total_seconds()
        return elapsed >= envelope.reminder_hours * 3600

    return sum(_mail(envelope_id, send, due, reminder=True) for envelope_id in ids)


def _mail(envelope_id, send, due, reminder=False):
    sent = 0
    with database.atomic():
        envelope = SandboxEnvelope.select().where(SandboxEnvelope.id == envelope_id).for_update().first()
        if envelope is None:
            return 0
        people, now, allowed, error = list(envelope.signers), utcnow(), turn(envelope), None
        for person in people:
            if person["email"] not in allowed or not due(envelope, person, now):
                continue
            try:
                send(envelope, person, reminder)
            except Exception as ex:  # noqa: BLE001 - keep who was mailed, then raise
                error = ex
                break
            if reminder:
                person["reminded_at"], person["reminders"] = now.isoformat(), person.get("reminders", 0) + 1
            else:
                person["invited_at"] = now.isoformat()
            sent += 1
        if sent:
            SandboxEnvelope.update(signers=people).where(SandboxEnvelope.id == envelope.id).execute()
    if error is not None:
        raise error
    return sent
