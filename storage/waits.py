"""Pause a run at a wait node and resume it exactly once.

A wait node (approval, signature) leaves its step `running` and the run in
`paused` or `signing`, with no message in flight. `resume()` completes the
step and advances the hop in one transaction guarded by a compare-and-set on
the step (`running` -> `success`): of any number of concurrent callers (20
threads deciding, a webhook and the expiry sweep), exactly one wins; the
others get False. The caller then sends the next hop.
"""
import datetime
import json

from peewee import SQL

from storage import audit, logs, runstate
from storage.db import database
from storage.events import EventBatch
from storage.models import Approval, Execution, ExecutionStep, SignatureRequest, utcnow
from storage.redact import redact
from storage.steps import _current_step, domain as _domain, phase_metrics as _phase_metrics

WAIT_STATUS = {"approval": "paused", "signature": "signing"}
AFTER_WAIT_STATUS = {"approval": "running", "signature": "signed"}


def step_at(execution_id, node_id):
    return ExecutionStep.get_or_none((ExecutionStep.execution == execution_id) & (ExecutionStep.node_id == node_id))


def is_waiting_at(execution, step):
    return (execution.status == WAIT_STATUS.get(step.phase) and execution.node_index == step.position
            and step.status == "running")


def pause(execution, step, wait, output, *, events=()):
    """Record that the run waits at `step` (with `events` announcing it); return the run."""
    batch = EventBatch()
    waiting = {**_current_step(step), "waiting_for": wait}
    fields = {"current_step": waiting, "last_progress_at": utcnow()}
    if step.phase == "signature":
        fields["signature_state"] = "signing"
    with batch.atomic():
        runstate.lock(execution.id)
        ExecutionStep.update(data_out=redact(output)).where(ExecutionStep.id == step.id).execute()
        execution = runstate.transition(execution.id, WAIT_STATUS[step.phase], batch=batch, fields=fields,
                                        reason=f"waiting for {step.phase}")
        batch.add(execution, "execution.paused", {"reason": step.phase, "waiting_for": wait,
                                                  "node_id": str(step.node_id)})
        for event_type, data in events:
            batch.add(execution, event_type, data)
        logs.write(execution, "ok", _domain(step.phase), logs.text("wait.started", label=step.label),
                   json.dumps(wait, sort_keys=True, default=str), step.id)
    batch.flush()
    return execution


def resume(execution_id, node_id, output, *, reason, events=(), actor=("system", None)):
    """Complete the wait step and advance the run; True for the one caller that did."""
    execution = Execution.get_by_id(execution_id)
    step = step_at(execution_id, node_id)
    if step is None or not is_waiting_at(execution, step):
        return False
    now = utcnow()
    batch = EventBatch()
    context = dict(execution.execution_context or {})
    context["steps"] = {**context.get("steps", {}), step.label: output}
    total = ExecutionStep.select().where(ExecutionStep.execution == execution_id).count()
    with database.atomic():
        runstate.lock(execution_id)
        won = (ExecutionStep.update(status="success", data_out=redact(output), completed_at=now,
                                    duration_ms=int((now - step.started_at).total_seconds() * 1000))
               .where((ExecutionStep.id == step.id) & (ExecutionStep.status == "running")).execute())
        if not won:
            return False
        fields = {"hop": execution.hop + 1, "node_index": step.position + 1, "execution_context": context,
                  "progress": min(100, round(100 * (step.position + 1) / max(total, 1))),
                  "phase_metrics": _phase_metrics(execution, step.phase, end=now), "last_progress_at": now,
                  "current_step": _current_step(step)}
        if step.phase == "signature":
            fields["signature_state"] = "signed"
        execution = runstate.transition(execution_id, AFTER_WAIT_STATUS[step.phase], batch=batch,
                                        expect=WAIT_STATUS[step.phase], fields=fields, reason=reason)
        for event_type, data in events:
            batch.add(execution, event_type, data)
        batch.add(execution, "execution.resumed", {"reason": reason, "node_id": str(node_id)})
        batch.add(execution, "step.completed", {"node_id": str(node_id), "output_preview": redact(output)})
        logs.write(execution, "ok", _domain(step.phase), logs.text("wait.done", label=step.label, reason=reason),
                   None, step.id)
        audit.record(execution.organization_id, "execution.resumed", actor_type=actor[0], actor_id=actor[1],
                     target_id=execution.id, execution_id=execution.id, correlation_id=execution.correlation_id,
                     metadata={"node_id": str(node_id), "reason": reason})
        batch.write()
    batch.flush()
    return True


def refresh_pending(execution_id, node_id, pending_of):
    """Show who is still pending in `current_step` while the run waits.

    `pending_of()` is read under the run's row lock, so concurrent decisions
    and signer webhooks are written in order and the last one shows the
    latest state (computing the list before the lock let a stale list win).
    Returns the list written, or None if the run no longer waits there.
    """
    with database.atomic():
        execution = Execution.select().where(Execution.id == execution_id).for_update().first()
        step = step_at(execution_id, node_id)
        if execution is None or step is None or not is_waiting_at(execution, step):
            return None
        pending = pending_of()
        current = dict(execution.current_step or {})
        current["waiting_for"] = {**(current.get("waiting_for") or {}), "pending": pending}
        Execution.update(current_step=current, version=Execution.version + 1, updated_at=utcnow()) \
            .where(Execution.id == execution_id).execute()
        return pending


#: How far back the clock looks for stranded waits (it runs every minute).
STRANDED_WINDOW = datetime.timedelta(hours=6)


def stranded(older_than_seconds, limit=100):
    """(execution_id, node_id) of waits whose answer is recorded but may not be acted on.

    A decision or signer webhook commits first and settles the wait after; a
    process that dies in between (or Redis failing then) leaves the run
    waiting on an answer it already has. `settle()` is idempotent, so the
    clock can offer it these candidates: runs still paused with a decided
    approval, or still signing with signer activity, quiet for a while.
    """
    before = utcnow() - datetime.timedelta(seconds=older_than_seconds)
    since = before - STRANDED_WINDOW
    decided = (Approval.select(Approval.execution, Approval.node_id).distinct()
               .join(Execution, on=(Approval.execution == Execution.id))
               .where((Execution.status == "paused") & Approval.status.in_(("approved", "rejected"))
                      & Approval.decided_at.between(since, before)).limit(limit).tuples())
    signing = (SignatureRequest.select(SignatureRequest.execution, SignatureRequest.node_id)
               .join(Execution, on=(SignatureRequest.execution == Execution.id))
               .where((Execution.status == "signing") & SignatureRequest.updated_at.between(since, before)
                      & (SignatureRequest.updated_at > SignatureRequest.created_at + SQL("interval '1 second'")))
               .limit(limit).tuples())
    return list(decided) + list(signing)
