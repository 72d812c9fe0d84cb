"""Verified provider webhooks, stored once by the provider's event key.

A delivery is committed before its apply message is sent. If the send fails
(Redis down) the row stays `received`: the provider's retry, seen as a
duplicate, sends it again, and the clock re-sends any delivery left
`received` for too long. Applying is idempotent (row lock + status), so a
delivery sent twice is applied once.
"""
import datetime

from storage.models import WebhookDelivery, utcnow


def store_once(provider, event_key, **fields):
    """Insert the delivery unless the key is known; return (row, created)."""
    rows = list(WebhookDelivery.insert(provider=provider, event_key=event_key, **fields)
                .on_conflict_ignore().returning(WebhookDelivery).execute())
    if rows:
        return rows[0], True
    return WebhookDelivery.get((WebhookDelivery.provider == provider) & (WebhookDelivery.event_key == event_key)), False


#: A duplicate of a delivery still `received` this long after it arrived is enqueued again.
RESEND_AFTER_SECONDS = 10


def to_enqueue(delivery, created):
    """Whether to send the delivery's apply message now (new, or stranded)."""
    if delivery.status != "received":
        return False
    return created or delivery.received_at < utcnow() - datetime.timedelta(seconds=RESEND_AFTER_SECONDS)


def unapplied(providers, older_than_seconds, limit=200):
    """(id, provider) of deliveries still `received` after `older_than_seconds`."""
    before = utcnow() - datetime.timedelta(seconds=older_than_seconds)
    return list(WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.provider)
                .where(WebhookDelivery.provider.in_(list(providers)) & (WebhookDelivery.status == "received")
                       & (WebhookDelivery.received_at < before))
                .order_by(WebhookDelivery.id).limit(limit).tuples())
