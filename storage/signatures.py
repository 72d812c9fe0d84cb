"""Signature requests and the provider notifications applied to them."""
import datetime

from peewee import IntegrityError

from storage import deliveries, runstate
from storage.db import database
from storage.models import SignatureRequest, WebhookDelivery, utcnow

FINAL_SIGNER = ("signed", "declined")


def record_request(execution, node_id, *, provider, envelope_id, signers, expires_at, connection_id=None):
    """Create the (execution, node) request once; a re-run finds the same row."""
    status = {s["email"].lower(): "sent" for s in signers}
    try:
        with database.atomic():
            return SignatureRequest.create(
                organization_id=execution.organization_id, execution=execution.id, node_id=node_id,
                provider=provider, envelope_id=envelope_id, signers=signers, signers_status=status,
                expires_at=expires_at, status="sent", connection_id=connection_id, hop=execution.hop)
    except IntegrityError:
        return SignatureRequest.get((SignatureRequest.execution == execution.id)
                                    & (SignatureRequest.node_id == node_id))


def of_node(execution_id, node_id):
    return SignatureRequest.get_or_none((SignatureRequest.execution == execution_id)
                                        & (SignatureRequest.node_id == node_id))


def store_delivery(provider, event, connection_id=None):
    """Persist a verified notification once; return (row, created).

    A notification verified with a connection's own secret carries that
    connection: it can only change envelopes created through it.
    """
    payload = {"event_key": event.event_key, "envelope_id": event.envelope_id, "kind": event.kind,
               "signer_email": event.signer_email, "occurred_at": event.occurred_at}
    event_key = event.event_key
    if connection_id:
        payload["connection_id"], event_key = str(connection_id), f"{connection_id}:{event.event_key}"
    return deliveries.store_once(provider, event_key, target_id=event.envelope_id, payload=payload,
                                 status="received")


def apply_delivery(delivery_id):
    """Apply a stored notification to its request under a row lock.

    Returns (request, payload, changed); request is None when the envelope
    is not known yet (the provider called back before our hop committed): the
    delivery stays `pending` and is applied when the wait begins. A delivery
    applied before returns its request unchanged, so a message redelivered
    after a crash between this commit and the settle still settles the wait.
    """
    with database.atomic():
        execution_id = _execution_of(delivery_id)
        if execution_id is not None:
            runstate.lock(execution_id)  # the run first, as cancel takes it before the requests (runstate.lock)
        delivery = WebhookDelivery.select().where(WebhookDelivery.id == delivery_id).for_update().first()
        if delivery is None or delivery.status == "ignored":
            return None, None, False
        payload = delivery.payload
        request = _request_of(delivery.provider, payload).for_update().first()
        if delivery.status == "applied":
            return request, payload, False
        if request is None:
            WebhookDelivery.update(status="pending").where(WebhookDelivery.id == delivery_id).execute()
            return None, payload, False
        changed = _apply(request, payload)
        WebhookDelivery.update(status="applied", applied_at=utcnow(), organization_id=request.organization_id) \
            .where(WebhookDelivery.id == delivery_id).execute()
        return request, payload, changed


def _request_of(provider, payload):
    """The query for the request a notification names: its envelope, and its connection when it has one."""
    query = SignatureRequest.select().where((SignatureRequest.provider == provider)
                                            & (SignatureRequest.envelope_id == payload["envelope_id"]))
    if payload.get("connection_id"):
        query = query.where(SignatureRequest.connection_id == payload["connection_id"])
    return query


def _execution_of(delivery_id):
    """The run whose request a stored notification names (read without a lock), or None."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
    request = delivery and _request_of(delivery.provider, delivery.payload).first()
    return request.execution_id if request else None


def _apply(request, payload):
    kind, email = payload["kind"], (payload.get("signer_email") or "").lower()
    statuses = dict(request.signers_status or {})
    if request.status == "canceled":
        return False  # withdrawn: a late notification does not bring a signer back
    if kind in ("viewed", "signed", "declined", "sent") and email in statuses:
        if statuses[email] in FINAL_SIGNER or (kind == "sent" and statuses[email] == "viewed"):
            return False
        statuses[email] = kind
        SignatureRequest.update(signers_status=statuses, updated_at=utcnow()) \
            .where(SignatureRequest.id == request.id).execute()
        request.signers_status = statuses
        return True
    if kind in ("completed", "expired", "canceled"):
        if kind == "completed":
            statuses = {k: "signed" if v != "declined" else v for k, v in statuses.items()}
        SignatureRequest.update(status=kind, signers_status=statuses, updated_at=utcnow()) \
            .where(SignatureRequest.id == request.id).execute()
        request.status, request.signers_status = kind, statuses
        return True
    return False


def unsigned(request_id):
    """Signers of the request who have not signed yet, as stored now."""
    statuses = SignatureRequest.get_by_id(request_id).signers_status or {}
    return sorted(email for email, status in statuses.items() if status != "signed")


def pending_deliveries(provider, envelope_id):
    return [d.id for d in WebhookDelivery.select(WebhookDelivery.id).where(
        (WebhookDelivery.provider == provider) & (WebhookDelivery.target_id == envelope_id)
        & (WebhookDelivery.status.in_(("pending", "received")))).order_by(WebhookDelivery.id)]


def outcome(request):
    """Return 'signed', 'declined', 'expired' or None (still waiting)."""
    statuses = (request.signers_status or {}).values()
    if any(s == "declined" for s in statuses):
        return "declined"
    if request.status in ("expired", "canceled"):
        return "expired"
    if statuses and all(s == "signed" for s in statuses):
        return "signed"
    if request.expires_at and request.expires_at <= utcnow():
        return "expired"
    return None


def expired_waits(limit=200):
    return list(SignatureRequest.select(SignatureRequest.execution, SignatureRequest.node_id)
                .where(SignatureRequest.status.in_(("sent", "pending"))
                       & (SignatureRequest.expires_at <= utcnow())).limit(limit).tuples())


def expires_in(days):
    return utcnow() + datetime.timedelta(days=float(days))


def open_requests(execution_id):
    """Signature requests of a run still out for signing; mark them and their unsigned signers canceled."""
    requests = list(SignatureRequest.select().where((SignatureRequest.execution == execution_id)
                                                    & SignatureRequest.status.in_(("sent", "pending"))))
    for request in requests:
        signers = {email: status if status in ("signed", "declined") else "canceled"
                   for email, status in (request.signers_status or {}).items()}
        SignatureRequest.update(status="canceled", signers_status=signers, updated_at=utcnow()).where(
            SignatureRequest.id == request.id).execute()
    return requests


def claim_fetch(request_id, *, stale_after=datetime.timedelta(minutes=10)):
    """Take the job of fetching the signed files (True once; again if a fetch went silent for too long)."""
    return bool(SignatureRequest.update(documents_state="fetching", updated_at=utcnow())
                .where((SignatureRequest.id == request_id)
                       & (SignatureRequest.documents_state.is_null()
                          | ((SignatureRequest.documents_state == "fetching")
                             & (SignatureRequest.updated_at < utcnow() - stale_after))))
                .execute())


def set_documents_state(request_id, state, stored):
    """Record (once) that the signed files were stored or given up; False if already recorded."""
    return bool(SignatureRequest.update(documents_state=state, signed_documents=stored, updated_at=utcnow())
                .where((SignatureRequest.id == request_id)
                       & (SignatureRequest.documents_state.is_null() | (SignatureRequest.documents_state == "fetching")))
                .execute())
