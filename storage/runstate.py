"""The run status machine: one table, one compare-and-set transition.

Every status change of an execution goes through `transition()`. It updates
the row only if its current status may move to the target (one UPDATE),
bumps the version, and adds `execution.status_changed` (plus the terminal
event when the run ends) to the caller's event batch.
"""
import functools

from storage.errors import InvalidTransition
from storage.models import Execution, utcnow

TRANSITIONS = {
    "queued": {"running", "needs_review", "completed", "failed", "canceled"},  # completed: until_phase preflight
    "running": {"needs_review", "ready", "sending", "signing", "paused", "completed", "failed", "canceled"},
    "needs_review": {"ready", "running", "failed", "canceled"},
    "ready": {"running", "failed", "canceled"},
    "sending": {"sent", "running", "needs_review", "failed", "canceled"},
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


def sources(target, expect=None, *, same_status=True):
    """Return the statuses a run may leave from to reach `target`.

    With `same_status`, a non-terminal target may also be "reached" from
    itself (that changes only the fields); `expect` narrows the result.
    """
    allowed = {status for status, targets in TRANSITIONS.items() if target in targets}
    if same_status and target not in TERMINAL:
        allowed.add(target)
    return allowed & set(expect) if expect is not None else allowed


def lock(execution_id):
    """Take the run's row lock for the rest of the transaction.

    NOTE: a transaction that changes a run and its steps, approvals or
    signature requests takes the run row first, the order CLAIM
    (storage/hop.py) and cancel take them in; the other order deadlocks with
    a worker claiming the run, the reaper failing it or a cancel. Appending
    an event moves the run's `event_seq`, so writing an event counts as
    changing the run.
    """
    Execution.select(Execution.id).where(Execution.id == execution_id).for_update().execute()


def transition(execution_id, target, *, batch, expect=None, reason=None, fields=None, event_data=None):
    """Move an execution to `target` if allowed; return the updated row.

    `expect` limits the statuses it may leave from (a set or one status).
    Raises InvalidTransition when the current status does not allow it.

    NOTE: the compare-and-set is one UPDATE whose WHERE admits only the
    allowed source statuses. The previous status comes from a FOR UPDATE
    subquery: taking the row lock makes PostgreSQL re-check the status on
    the latest committed version, so the event's "from" is the status the
    run really left. When it changes nothing, the row is read to say why; if
    that read finds an allowed status (the row moved in between), the CAS is
    retried, as a lost CAS always was.
    """
    if isinstance(expect, str):
        expect = {expect}
    fields = dict(fields or {})
    allowed = sources(target, expect, same_status=bool(fields))
    for _ in range(5):
        now = utcnow()
        values = {"status": target, "updated_at": now, **fields}  # and version + 1 (_compare_and_set)
        if target in TERMINAL:
            values.setdefault("completed_at", now)
        row = _compare_and_set(execution_id, allowed, values)
        if row is not None:
            break
        current = Execution.get_by_id(execution_id)
        if current.status == target and not fields and target not in TERMINAL:
            return current
        if current.status not in allowed:
            raise InvalidTransition(current.status, target)
    else:
        raise InvalidTransition(current.status, target, concurrent=True)
    if row.previous_status != target:
        batch.add(row, "execution.status_changed", {"from": row.previous_status, "to": target, "reason": reason})
        if target in TERMINAL_EVENT:
            batch.add(row, TERMINAL_EVENT[target], {"reason": reason, **(event_data or {})})
    return row


def _compare_and_set(execution_id, allowed, values):
    """UPDATE the row if its status is in `allowed`; return it (with `previous_status`) or None.

    The statement is fixed text per set of columns (cached): the query
    builder cost more CPU than the transition. `version` is always bumped.
    """
    names = tuple(sorted(values))
    params = [Execution._meta.fields[name].db_value(values[name]) for name in names]
    return next(iter(Execution.raw(_cas_sql(names), *params, str(execution_id), sorted(allowed))), None)


@functools.cache
def _cas_sql(names):
    columns = [Execution._meta.fields[name].column_name for name in names]
    return ("UPDATE workflow_executions x SET " + "".join(f"{column} = %s, " for column in columns)
            + "version = x.version + 1 FROM (SELECT id, status FROM workflow_executions WHERE id = %s FOR UPDATE)"
            " AS locked WHERE x.id = locked.id AND locked.status = ANY(%s) RETURNING locked.status AS"
            " previous_status, x.*")
