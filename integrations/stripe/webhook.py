"""Verify Stripe webhook signatures and read the Checkout events DocG uses.

`Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`: each v1
is HMAC-SHA256 of `"<t>.<raw body>"` keyed with the endpoint's `whsec_...`
secret. Several v1 values appear while a secret is being rolled; one match
is enough. v0 (test-mode legacy scheme) is ignored. The timestamp must be
within `tolerance` seconds of now either way, against replays.

Docs: https://docs.stripe.com/webhooks#verify-manually,
https://docs.stripe.com/api/events/types#event_types-checkout.session.completed,
https://docs.stripe.com/checkout/fulfillment (completed vs async_payment_* events).
NOTE: the official libraries only refuse timestamps older than the
tolerance; we also refuse ones too far in the future (clock skew either way).
"""
import json

from integrations import signing
from integrations.signing import DEFAULT_TOLERANCE, SCHEME, compute_signature, parse_header  # noqa: F401
#: event type -> what happened to the payment
OUTCOMES = {"checkout.session.completed": "completed",
            "checkout.session.async_payment_succeeded": "succeeded",
            "checkout.session.async_payment_failed": "failed",
            "checkout.session.expired": "expired"}


def signature_problem(payload: bytes, sig_header: str, secret: str, tolerance=DEFAULT_TOLERANCE, now=None):
    """Why the signature does not hold (a short text), or None when it does."""
    return signing.signature_problem(payload, sig_header, secret, tolerance, now, header="Stripe-Signature")


def verify_signature(payload: bytes, sig_header: str, secret: str, tolerance=DEFAULT_TOLERANCE, now=None) -> bool:
    """True when any v1 signature matches the raw body and the timestamp is fresh."""
    return signature_problem(payload, sig_header, secret, tolerance, now) is None


def parse_event(payload: bytes) -> dict:
    """The event of a verified body; ValueError when it is not a Stripe event."""
    event = json.loads(payload)
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise ValueError("not a Stripe event: an object with id and type is expected")
    return event


def handle_event(event: dict):
    """What a Checkout event means for a DocG run, or None when it is not about one.

    Returns {event_id, event_type, outcome, execution_id, node_id, organization_id, session_id,
    payment_status, status, amount_total, currency, customer_email, payment_intent, livemode}.
    """
    outcome = OUTCOMES.get(event.get("type"))
    session = ((event.get("data") or {}).get("object")) or {}
    if outcome is None or session.get("object") not in (None, "checkout.session"):
        return None
    metadata = session.get("metadata") or {}
    execution_id = metadata.get("docg_execution_id") or session.get("client_reference_id")
    if not execution_id or not session.get("id"):
        return None
    details = session.get("customer_details") or {}
    payment_intent = session.get("payment_intent")
    return {"event_id": event["id"], "event_type": event["type"], "outcome": outcome,
            "execution_id": str(execution_id), "node_id": metadata.get("docg_node_id"),
            "organization_id": metadata.get("docg_organization_id"), "session_id": session["id"],
            "payment_status": session.get("payment_status"), "status": session.get("status"),
            "amount_total": session.get("amount_total"), "currency": session.get("currency"),
            "customer_email": details.get("email") or session.get("customer_email"),
            "payment_intent": payment_intent.get("id") if isinstance(payment_intent, dict) else payment_intent,
            "livemode": bool(event.get("livemode"))}
