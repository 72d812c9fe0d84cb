"""The append-only audit trail, hash-chained per organization.

PostgreSQL refuses UPDATE, DELETE and TRUNCATE on `audit_events` (triggers
in migrations 0001 and 0081; the table is partitioned by month and only
whole partitions are ever dropped, by retention). Each row's `hash` covers its content and the previous
row's hash in the same organization, so an edit made with the triggers
disabled is found by `verify()`.
"""
import datetime
import hashlib
import json
import uuid
import zlib

from storage.db import database
from storage.models import AuditEvent, utcnow

GENESIS = "0" * 64
COLUMNS = ("organization_id", "actor_type", "actor_id", "action", "target_type", "target_id", "execution_id",
           "metadata", "correlation_id", "created_at")


def _canonical(fields):
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def _digest(prev_hash, fields):
    return hashlib.sha256((prev_hash + _canonical(fields)).encode()).hexdigest()


def _fields(row):
    return {
        "organization_id": str(row["organization_id"]), "actor_type": row["actor_type"],
        "actor_id": row["actor_id"], "action": row["action"], "target_type": row["target_type"],
        "target_id": row["target_id"], "execution_id": str(row["execution_id"]) if row["execution_id"] else None,
        "metadata": row["metadata"], "correlation_id": str(row["correlation_id"]) if row["correlation_id"] else None,
        "created_at": row["created_at"].astimezone(datetime.timezone.utc).isoformat(),
    }


#: append one row (COLUMNS) chained to the organization's last one; `hash` is `_digest` computed in SQL
_APPEND = """
INSERT INTO audit_events (organization_id, actor_type, actor_id, action, target_type, target_id,
                          execution_id, metadata, correlation_id, created_at, prev_hash, hash)
SELECT %s::uuid, %s, %s, %s, %s, %s, %s::uuid, %s::jsonb, %s::uuid, %s,
       last.hash, encode(sha256(convert_to(last.hash || %s, 'UTF8')), 'hex')
FROM (SELECT coalesce((SELECT hash FROM audit_events WHERE organization_id = %s::uuid
                       ORDER BY id DESC LIMIT 1), %s) AS hash) AS last
RETURNING *
"""


def record(organization_id, action, *, actor_type="system", actor_id=None, target_type="execution",
           target_id=None, execution_id=None, metadata=None, correlation_id=None):
    """Append one audit row, chained to the organization's previous row.

    NOTE: the organization's advisory lock is taken in its own statement,
    before the INSERT reads the previous hash: a statement's snapshot is
    taken when it starts, so only then does it see the row the previous lock
    holder committed. The lock lives until the caller's transaction ends
    (a step's commit); without one, the block below is the transaction.
    """
    row = {  # in the order of COLUMNS
        "organization_id": organization_id, "actor_type": actor_type,
        "actor_id": str(actor_id) if actor_id else None, "action": action, "target_type": target_type,
        "target_id": str(target_id) if target_id else None, "execution_id": execution_id,
        "metadata": metadata or {}, "correlation_id": correlation_id, "created_at": utcnow(),
    }
    values = [str(value) if isinstance(value, uuid.UUID) else value for value in row.values()]
    values[COLUMNS.index("metadata")] = json.dumps(row["metadata"], default=str)
    params = [*values, _canonical(_fields(row)), values[0], GENESIS]
    with database.transaction():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(str(organization_id).encode()),))
        return next(iter(AuditEvent.raw(_APPEND, *params)))


def checkpoints(organization_id=None):
    """{organization_id: last hash of its newest dropped audit partition}.

    Retention drops whole monthly partitions (storage/retention.py); the
    chain of what remains starts from the hash kept here instead of GENESIS.
    """
    sql = ("SELECT DISTINCT ON (organization_id) organization_id, last_hash FROM audit_checkpoints"
           + (" WHERE organization_id = %s::uuid" if organization_id else "")
           + " ORDER BY organization_id, last_id DESC")
    rows = database.execute_sql(sql, (str(organization_id),) if organization_id else ()).fetchall()
    return {str(org): last_hash for org, last_hash in rows}


def verify(organization_id=None):
    """Return the first row whose chain does not hold, or None when intact."""
    query = AuditEvent.select().order_by(AuditEvent.id)
    if organization_id:
        query = query.where(AuditEvent.organization_id == organization_id)
    last_hash = checkpoints(organization_id)
    for event in query.iterator():
        org = str(event.organization_id)
        expected_prev = last_hash.get(org, GENESIS)
        row = {name: getattr(event, name) for name in COLUMNS}
        if event.prev_hash != expected_prev or event.hash != _digest(expected_prev, _fields(row)):
            return event
        last_hash[org] = event.hash
    return None
