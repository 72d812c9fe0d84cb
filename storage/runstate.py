"""The run status machine: one table, one compare-and-set transition.

Every status change of an execution goes through `transition()`. It updates
the row only if the status is still the one it read (and the version has not
moved), records the change, and adds `execution.status_changed` (plus the
terminal event when the run ends) to the caller's event batch.
"""
from storage.db import database
from storage.errors import InvalidTransition
from storage.models import Execution, utcnow

TRANSITIONS = {
    "queued": {"running", "needs_review", "failed", "canceled"},
    "running": {"needs_review", "ready", "sending", "signing", "paused", "completed", "failed", "canceled"},
    "needs_review": {"ready", "running", "failed", "canceled"},
    "ready": {"running", "failed", "canceled"},
    "sending": {"sent", "running", "failed", "canceled"},
    "sent": {"running", "sending", "signing", "paused", "completed", "failed", "canceled"},
    "signing": {"signed", "failed", "canceled"},
    "signed": {"running", "sending", "completed", "failed", "canceled"},
    "paused": {"running", "failed", "canceled"},
    "completed": set(),
    "failed": set(),
    "canceled": set(),
}
TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
TERMINAL_EVENT = {"completed": "execution.completed", "failed": "execution.failed",
                  "canceled": "execution.canceled"}


def can_transition(current, target):
    return target in TRANSITIONS[current]


def transition(execution_id, target, *, batch, expect=None, reason=None, fields=None, event_data=None):
    """Move an execution to `target` if allowed; return the updated row.

    `expect` limits the statuses it may leave from (a set or one status).
    Raises InvalidTransition when the current status does not allow it; a
    concurrent change makes the CAS retry against the new status.
    """
    if isinstance(expect, str):
        expect = {expect}
    fields = dict(fields or {})
    for _ in range(5):
        current = Execution.get_by_id(execution_id)
        if current.status == target and target in TERMINAL:
            raise InvalidTransition(current.status, target)
        if current.status == target and not fields:
            return current
        if current.status != target and not can_transition(current.status, target):
            raise InvalidTransition(current.status, target)
        if expect is not None and current.status not in expect:
            raise InvalidTransition(current.status, target)
        now = utcnow()
        values = {"status": target, "version": Execution.version + 1, "updated_at": now, **fields}
        if target in TERMINAL:
            values.setdefault("completed_at", now)
        with database.atomic():
            updated = (Execution.update(values)
                       .where((Execution.id == execution_id)
                              & (Execution.status == current.status)
                              & (Execution.version == current.version))
                       .returning(Execution).execute())
            row = next(iter(updated), None)
        if row is None:
            continue
        if current.status != target:
            batch.add(row, "execution.status_changed",
                      {"from": current.status, "to": target, "reason": reason})
            if target in TERMINAL_EVENT:
                batch.add(row, TERMINAL_EVENT[target], {"reason": reason, **(event_data or {})})
        return row
    raise InvalidTransition(current.status, target, concurrent=True)
