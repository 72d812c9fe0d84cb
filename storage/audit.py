"""The append-only audit trail, hash-chained per organization.

PostgreSQL refuses UPDATE, DELETE and TRUNCATE on `audit_events` (triggers
in migration 0001). Each row's `hash` covers its content and the previous
row's hash in the same organization, so an edit made with the triggers
disabled is found by `verify()`.
"""
import datetime
import hashlib
import json
import zlib

from storage.db import database
from storage.models import AuditEvent, utcnow

GENESIS = "0" * 64


def _digest(prev_hash, fields):
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(row):
    return {
        "organization_id": str(row["organization_id"]), "actor_type": row["actor_type"],
        "actor_id": row["actor_id"], "action": row["action"], "target_type": row["target_type"],
        "target_id": row["target_id"], "execution_id": str(row["execution_id"]) if row["execution_id"] else None,
        "metadata": row["metadata"], "correlation_id": str(row["correlation_id"]) if row["correlation_id"] else None,
        "created_at": row["created_at"].astimezone(datetime.timezone.utc).isoformat(),
    }


def record(organization_id, action, *, actor_type="system", actor_id=None, target_type="execution",
           target_id=None, execution_id=None, metadata=None, correlation_id=None):
    """Append one audit row, chained to the organization's previous row."""
    with database.atomic():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)",
                             (zlib.crc32(str(organization_id).encode()),))
        last = (AuditEvent.select(AuditEvent.hash).where(AuditEvent.organization_id == organization_id)
                .order_by(AuditEvent.id.desc()).first())
        prev_hash = last.hash if last else GENESIS
        row = {
            "organization_id": organization_id, "actor_type": actor_type,
            "actor_id": str(actor_id) if actor_id else None, "action": action, "target_type": target_type,
            "target_id": str(target_id) if target_id else None, "execution_id": execution_id,
            "metadata": metadata or {}, "correlation_id": correlation_id,
            "created_at": utcnow(),
        }
        return AuditEvent.create(**row, prev_hash=prev_hash, hash=_digest(prev_hash, _fields(row)))


def verify(organization_id=None):
    """Return the first row whose chain does not hold, or None when intact."""
    query = AuditEvent.select().order_by(AuditEvent.id)
    if organization_id:
        query = query.where(AuditEvent.organization_id == organization_id)
    last_hash = {}
    for event in query.iterator():
        org = str(event.organization_id)
        expected_prev = last_hash.get(org, GENESIS)
        row = {name: getattr(event, name) for name in
               ("organization_id", "actor_type", "actor_id", "action", "target_type", "target_id",
                "execution_id", "metadata", "correlation_id", "created_at")}
        if event.prev_hash != expected_prev or event.hash != _digest(expected_prev, _fields(row)):
            return event
        last_hash[org] = event.hash
    return None
