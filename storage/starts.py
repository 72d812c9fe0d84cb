"""Idempotent starts: one `Idempotency-Key` starts at most one run.

The key is claimed in `webhook_deliveries` (unique per source and key) in
the same transaction that creates the run, so a committed claim always
names its run and a failed creation leaves no claim behind. A concurrent
request with the same key waits on the unique index until the first one
commits, then finds its run. Reusing a key for a different request is a
conflict, as with Stripe's idempotency keys.
"""
import hashlib
import json

from storage.errors import Conflict
from storage.models import WebhookDelivery, utcnow

MAX_KEY_LENGTH = 255


def fingerprint(**request):
    """A digest of what the request asks for, to recognise a reused key."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _event_key(workflow, key):
    return f"{workflow.id}:{key}"


def claim(workflow, source, key, digest):
    """Claim `key` (inside the caller's transaction).

    Returns None when this call claimed it (the caller creates the run and
    calls `bind`), or the id of the run the key already started.
    """
    inserted = (WebhookDelivery.insert(provider=source, event_key=_event_key(workflow, key),
                                       organization_id=workflow.organization_id,
                                       payload={"fingerprint": digest}, status="received")
                .on_conflict_ignore().returning(WebhookDelivery.id).execute())
    if list(inserted):
        return None
    existing = WebhookDelivery.get((WebhookDelivery.provider == source)
                                   & (WebhookDelivery.event_key == _event_key(workflow, key)))
    if existing.payload.get("fingerprint") != digest:
        raise Conflict("This Idempotency-Key was already used for a different request.",
                       f"idempotency key {key!r} reused with another body", code="idempotency.key_reused")
    return existing.target_id


def bind(workflow, source, key, execution_id):
    (WebhookDelivery.update(target_id=str(execution_id), status="applied", applied_at=utcnow())
     .where((WebhookDelivery.provider == source) & (WebhookDelivery.event_key == _event_key(workflow, key)))
     .execute())
