"""Keep storage bounded: delete ended runs past retention, drop old audit months.

A run is deleted only when it ended (`runstate.TERMINAL`) more than its
organization's `retention_days` (or `RETENTION_DAYS`) ago; a waiting or
moving run is never a candidate. Each batch is one short transaction that
locks its rows with `SKIP LOCKED` (a busy row waits for the next batch) and
deletes the executions: steps, logs, documents, approvals, signature
requests and side effects go with them (`ON DELETE CASCADE`). Files the
folder storage wrote under `files_root` and the runs' Redis streams are
removed after the commit.

The audit trail is append-only, so it is never deleted row by row: monthly
partitions of `audit_events` whose whole month is older than
`AUDIT_RETENTION_DAYS` are detached and dropped, after each organization's
last hash in them is kept in `audit_checkpoints` (see `storage.audit.verify`).
"""
import datetime
import logging
from pathlib import Path

from storage import events
from storage.db import database
from storage.runstate import TERMINAL

log = logging.getLogger("docg.retention")

_ENDED = tuple(sorted(TERMINAL))
_DUE = f"""
FROM workflow_executions e JOIN organizations o ON o.id = e.organization_id
WHERE e.status IN ({", ".join(["%s"] * len(_ENDED))})
  AND coalesce(e.completed_at, e.updated_at) < now() - make_interval(days => coalesce(o.retention_days, %s))
"""
_CANDIDATES = f"SELECT e.id {_DUE} ORDER BY e.completed_at LIMIT %s FOR UPDATE OF e SKIP LOCKED"
_COUNT = f"SELECT e.organization_id, count(*) {_DUE} GROUP BY e.organization_id"
_PARTITIONS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_events'::regclass AND c.relname ~ '^audit_events_p[0-9]{4}_[0-9]{2}$'
ORDER BY c.relname
"""


MAX_DAYS = 36_500


def set_days(organization_id, days):
    """Set (or with None, clear) an organization's retention_days; return the row."""
    from storage.errors import NotFound, StorageError
    from storage.models import Organization

    if days is not None and not (isinstance(days, int) and 0 < days <= MAX_DAYS):
        raise StorageError("Retention must be a whole number of days between 1 and 36500.", f"days={days!r}",
                           code="retention.invalid_days")
    try:
        updated = Organization.update(retention_days=days).where(Organization.id == organization_id).execute()
    except (ValueError, TypeError) as ex:
        raise NotFound("Organization not found.", f"organization {organization_id!r}") from ex
    if not updated:
        raise NotFound("Organization not found.", f"organization {organization_id!r}")
    return Organization.get_by_id(organization_id)


def due_counts(default_days):
    """{organization_id: runs past retention} (what a dry run reports)."""
    rows = database.execute_sql(_COUNT, (*_ENDED, default_days)).fetchall()
    return {str(org): count for org, count in rows}


def delete_batch(default_days, batch, *, redis=None, files_root=None):
    """Delete up to `batch` runs past retention; return their ids."""
    with database.atomic():
        ids = [row[0] for row in database.execute_sql(_CANDIDATES, (*_ENDED, default_days, batch)).fetchall()]
        if not ids:
            return []
        paths = [row[0] for row in database.execute_sql(
            "SELECT path FROM generated_documents WHERE execution_id = ANY(%s::uuid[]) AND storage = 'folder'"
            " AND path IS NOT NULL", ([str(i) for i in ids],)).fetchall()]
        params = ([str(i) for i in ids],)
        database.execute_sql("UPDATE workflow_executions SET retry_of = NULL WHERE retry_of = ANY(%s::uuid[])",
                             params)
        if _has_outbox():
            database.execute_sql("DELETE FROM execution_events WHERE execution_id = ANY(%s::uuid[])", params)
        database.execute_sql("DELETE FROM workflow_executions WHERE id = ANY(%s::uuid[])", params)
    _remove_files(paths, files_root)
    if redis is not None:
        redis.delete(*[events.stream_key(i) for i in ids])
    return [str(i) for i in ids]


def _has_outbox():
    """True once the events outbox (`execution_events`, with execution_id) exists."""
    row = database.execute_sql(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = 'execution_events' AND column_name = 'execution_id'").fetchone()
    return row is not None


def _remove_files(paths, files_root):
    """Remove stored files, but only below `files_root` (never a path outside it)."""
    if files_root is None:
        return
    root = Path(files_root).resolve()
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink(missing_ok=True)


def audit_partitions_due(audit_days, now=None):
    """Names of audit partitions whose whole month is older than `audit_days`."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    horizon = (now - datetime.timedelta(days=audit_days)).date()
    due = []
    for (name,) in database.execute_sql(_PARTITIONS).fetchall():
        year, month = int(name[-7:-3]), int(name[-2:])
        month_end = datetime.date(year + month // 12, month % 12 + 1, 1)
        if month_end <= horizon:
            due.append(name)
    return due


def drop_audit_partition(name):
    """Checkpoint each organization's last hash in partition `name`, then drop it."""
    with database.atomic():
        database.execute_sql(
            f'INSERT INTO audit_checkpoints (organization_id, partition, last_id, last_hash)'
            f' SELECT DISTINCT ON (organization_id) organization_id, %s, id, hash FROM "{name}"'
            f' ORDER BY organization_id, id DESC ON CONFLICT DO NOTHING', (name,))
        database.execute_sql(f'ALTER TABLE audit_events DETACH PARTITION "{name}"')
        database.execute_sql(f'DROP TABLE "{name}"')


def ensure_audit_partitions(months_ahead=2):
    """Create this month's and the next months' audit partitions (idempotent)."""
    database.execute_sql(
        "SELECT audit_events_ensure_partition((date_trunc('month', now()) + make_interval(months => n))::date)"
        " FROM generate_series(0, %s) AS n", (months_ahead,))


def apply(settings, *, redis=None, dry_run=False, max_batches=100):
    """Run retention once; return a report of what went (or would go)."""
    report = {"dry_run": dry_run, "default_retention_days": settings.retention_days,
              "audit_retention_days": settings.audit_retention_days}
    if dry_run:
        counts = due_counts(settings.retention_days)
        report.update(runs=sum(counts.values()), runs_by_organization=counts,
                      audit_partitions=audit_partitions_due(settings.audit_retention_days))
        return report
    ensure_audit_partitions()
    deleted = []
    for _ in range(max_batches):
        ids = delete_batch(settings.retention_days, settings.retention_batch, redis=redis,
                           files_root=settings.files_root)
        deleted.extend(ids)
        if len(ids) < settings.retention_batch:
            break
    dropped = audit_partitions_due(settings.audit_retention_days)
    for name in dropped:
        drop_audit_partition(name)
    report.update(runs=len(deleted), deleted_runs=deleted, audit_partitions=dropped)
    if deleted or dropped:
        log.info("retention deleted %s run(s), dropped audit partitions %s", len(deleted), dropped)
    return report
