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
    if not isinstance(event, dict) or not _is_text(event.get("id")) or not _is_text(event.get("type")):
        raise ValueError("not a Stripe event: an object with id and type (strings) is expected")
    return event


def _is_text(value, limit=500):
    return isinstance(value, str) and 0 < len(value) <= limit


def _object(value, what):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object")
    return value


def _optional(value, kind, what):
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"{what} has the wrong type")
    if isinstance(value, str) and len(value) > 500:
        raise ValueError(f"{what} is too long")
    return value


def handle_event(event: dict):
    """What a Checkout event means for a DocG run, or None when it is not about one.

    Returns {event_id, event_type, outcome, execution_id, node_id, organization_id, session_id,
    payment_status, status, amount_total, currency, customer_email, payment_intent, livemode}.
    A Checkout event whose fields have the wrong shape raises ValueError (the webhook answers 400).
    """
    outcome = OUTCOMES.get(event.get("type"))
    session = _object(_object(event.get("data"), "data").get("object"), "data.object")
    if outcome is None or session.get("object") not in (None, "checkout.session"):
        return None
    metadata = _object(session.get("metadata"), "metadata")
    execution_id = metadata.get("docg_execution_id") or session.get("client_reference_id")
    if not execution_id or not session.get("id"):
        return None
    if not _is_text(execution_id) or not _is_text(session["id"]):
        raise ValueError("the execution id and session id must be strings")
    details = _object(session.get("customer_details"), "customer_details")
    payment_intent = session.get("payment_intent")
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id")
    return {"event_id": event["id"], "event_type": event["type"], "outcome": outcome,
            "execution_id": execution_id, "node_id": _optional(metadata.get("docg_node_id"), str, "docg_node_id"),
            "organization_id": _optional(metadata.get("docg_organization_id"), str, "docg_organization_id"),
            "session_id": session["id"],
            "payment_status": _optional(session.get("payment_status"), str, "payment_status"),
            "status": _optional(session.get("status"), str, "status"),
            "amount_total": _optional(session.get("amount_total"), int, "amount_total"),
            "currency": _optional(session.get("currency"), str, "currency"),
            "customer_email": _optional(details.get("email") or session.get("customer_email"), str, "email"),
            "payment_intent": _optional(payment_intent, str, "payment_intent"),
            "livemode": bool(event.get("livemode"))}
