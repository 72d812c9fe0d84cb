"""Record Stripe Checkout outcomes on the run that created the session.

`store_event` persists a verified event once per Stripe event id (the
`webhook_deliveries` table, provider "stripe") and says whether it was
new. `apply_delivery` then records the payment on its run: one
execution log line (domain "delivery", on the stripe step) and one audit
event `payment.<outcome>`. It applies a delivery at most once (row lock and
status), and only for a session that run's stripe node really created (its
ledger entry), so an event naming another run in its metadata changes
nothing.
"""
import json
import uuid

from integrations.stripe.node import EFFECT
from integrations.stripe.webhook import handle_event
from storage import audit, deliveries, logs
from storage.db import database
from storage.models import Execution, ExecutionStep, SideEffect, WebhookDelivery, utcnow

PROVIDER = "stripe"
LEVELS = {"completed": "ok", "succeeded": "ok", "failed": "error", "expired": "warn"}


def store_event(event, connection_id=None):
    """Persist a verified event once; return (delivery row, created)."""
    payment = handle_event(event)
    payload = payment or {"event_id": event["id"], "event_type": event.get("type")}
    event_key = str(event["id"])
    if connection_id:
        payload, event_key = {**payload, "connection_id": str(connection_id)}, f"{connection_id}:{event_key}"
    return deliveries.store_once(PROVIDER, event_key, target_id=payment["session_id"] if payment else None,
                                 payload=payload, status="received" if payment else "ignored")


def apply_delivery(delivery_id):
    """Record a stored Checkout event on its run; return "applied", "ignored" or None (done before)."""
    with database.atomic():
        delivery = WebhookDelivery.select().where(WebhookDelivery.id == delivery_id).for_update().first()
        if delivery is None or delivery.status in ("applied", "ignored"):
            return None
        payment = delivery.payload
        execution, step = _run_of(payment)
        if execution is None:
            _mark(delivery_id, "ignored")
            return "ignored"
        _record(execution, step, payment)
        _mark(delivery_id, "applied", organization_id=execution.organization_id)
        return "applied"


def _run_of(payment):
    """The execution and stripe step that created this session, or (None, None)."""
    try:
        execution_id = uuid.UUID(str(payment.get("execution_id")))
    except ValueError:
        return None, None
    execution = Execution.get_or_none(Execution.id == execution_id)
    if execution is None:
        return None, None
    if payment.get("organization_id") and payment["organization_id"] != str(execution.organization_id):
        return None, None
    created = [entry for entry in SideEffect.select().where((SideEffect.execution == execution.id)
                                                            & (SideEffect.effect == EFFECT))
               if (entry.result or {}).get("session_id") == payment.get("session_id")]
    if not created:
        return None, None
    step = ExecutionStep.get_or_none((ExecutionStep.execution == execution.id)
                                     & (ExecutionStep.node_id == created[0].node_id))
    if step is None or (payment.get("connection_id")
                        and str((step.config or {}).get("connection_id")) != payment["connection_id"]):
        return None, None
    return execution, step


def _amount(payment):
    if payment.get("amount_total") is None:
        return "amount unknown"
    return f"{payment['amount_total'] / 100:.2f} {str(payment.get('currency') or '').upper()}".strip()


def _record(execution, step, payment):
    outcome = payment["outcome"]
    # NOTE: the texts are the log catalogue's payment.<outcome> (storage/i18n/logs.py), in en and pt-BR
    message = logs.text(f"payment.{outcome}", amount=_amount(payment), payment_status=payment.get("payment_status"))
    logs.write(execution, LEVELS[outcome], "delivery", message, json.dumps(payment, sort_keys=True),
               step.id if step else None)
    audit.record(execution.organization_id, f"payment.{outcome}", actor_type="webhook", actor_id=PROVIDER,
                 target_type="checkout_session", target_id=payment["session_id"], execution_id=execution.id,
                 metadata={k: payment.get(k) for k in ("event_id", "event_type", "payment_status", "status",
                                                       "amount_total", "currency", "payment_intent", "livemode")},
                 correlation_id=execution.correlation_id)


def _mark(delivery_id, status, organization_id=None):
    values = {"status": status, "applied_at": utcnow()}
    if organization_id is not None:
        values["organization_id"] = organization_id
    WebhookDelivery.update(**values).where(WebhookDelivery.id == delivery_id).execute()
