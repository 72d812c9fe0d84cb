"""Fair share between organizations: at most N runs of one org in flight.

A new run is created `queued` with `admitted_at` NULL. Its first hop is sent
only once it is admitted: fewer than `limit` runs of its organization are
admitted and still moving (queued, running, sending...). The rest stay
queued in PostgreSQL, not in the broker, so another organization's hop
waits behind at most `limit` hops of each busy organization instead of a
whole burst. When a run stops moving (ends, pauses, fails) the oldest
deferred runs of its organization are admitted; the clock does the same
every few seconds in case that call was lost.

NOTE: a slot is the run's own row, not a lease held by a worker: a killed
worker cannot leak one. Its hop is redelivered (or re-driven by the
reaper) and the slot frees when the run stops moving. An org-level
advisory lock serialises admission so concurrent starts never overshoot.
"""
from peewee import fn

from storage.db import database
from storage.models import Execution, utcnow

#: statuses in which an admitted run holds a slot (it has, or will send, a hop)
MOVING = ("queued", "running", "sending", "sent", "signed", "ready")
LOCK_NAMESPACE = 0x0D0C7


def _lock(organization_id):
    database.execute_sql("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, str(organization_id)))


def in_flight(organization_id):
    """Admitted runs of the organization that are still moving."""
    return (Execution.select(fn.COUNT(Execution.id))
            .where((Execution.organization == organization_id) & Execution.admitted_at.is_null(False)
                   & Execution.status.in_(MOVING)).scalar())


def _deferred(organization_id, limit):
    """The organization's oldest runs not admitted yet (fixed text: every run's end asks, see release)."""
    return [row[0] for row in database.execute_sql(_DEFERRED, (str(organization_id), limit)).fetchall()]


_DEFERRED = ("SELECT id FROM workflow_executions WHERE organization_id = %s AND admitted_at IS NULL"
             " AND status = 'queued' ORDER BY created_at LIMIT %s")


def admit(execution, limit):
    """Admit the run if its organization has a free slot; True if it may move.

    `limit` <= 0 admits everything (and still marks the run admitted).
    """
    if execution.admitted_at is not None:
        return True
    with database.atomic():
        if limit > 0:
            _lock(execution.organization_id)
            if in_flight(execution.organization_id) >= limit:
                return False
        now = utcnow()
        Execution.update(admitted_at=now).where(
            (Execution.id == execution.id) & Execution.admitted_at.is_null()).execute()
    execution.admitted_at = now
    return True


def release(organization_id, limit):
    """Admit the oldest deferred runs that fit in the free slots; return their ids."""
    if limit <= 0 or not _deferred(organization_id, 1):
        return []
    with database.atomic():
        _lock(organization_id)
        free = limit - in_flight(organization_id)
        ids = _deferred(organization_id, free) if free > 0 else []
        if ids:
            Execution.update(admitted_at=utcnow()).where(Execution.id.in_(ids)).execute()
    return ids


def waiting_organizations(limit=500):
    """Organizations that have deferred runs."""
    return [row.organization_id for row in Execution.select(Execution.organization).distinct().where(
        Execution.admitted_at.is_null() & (Execution.status == "queued")).limit(limit)]
