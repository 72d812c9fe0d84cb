"""The step lifecycle off the hot path: begin (cold statuses), fail, retry, finish.

The hot claim and commit are storage/hop.py's two statements. Each
function here is one short transaction that also writes the events it
caused to the outbox; they are relayed to Redis after the commit. A step
runs only under its claim: an advisory lock (`lock_key`) that lives as long
as the claiming worker's connection, plus a compare-and-set that refuses a
step already finished.
"""
import datetime
import hashlib

from storage import audit, logs, recommendations, runstate
from storage.db import database
from storage.events import EventBatch
from storage.models import Execution, ExecutionStep, utcnow
from storage.redact import redact

PHASE_STATUS = {"delivery": "sending"}
DONE_STATUS = {"delivery": "sent"}
WAIT_STATUS = {"approval": "paused", "signature": "signing"}
#: a run in these states is waiting or over: its current step is not to be run
NOT_CLAIMABLE = ("paused", "needs_review", "signing", "completed", "failed", "canceled")
AUDIT_ACTION = {"render": "document.generated", "save": "document.saved", "delivery": "document.sent"}


def lock_key(execution_id, position):
    """The advisory lock key of a run's step (the claim; storage/hop.py takes it too)."""
    digest = hashlib.blake2b(f"{execution_id}:{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def release(execution_id, index):
    """Release this connection's claim of a step (when COMMIT did not, storage/hop.py)."""
    database.execute_sql("SELECT pg_advisory_unlock(%s)", (lock_key(execution_id, index),))


def _current_step(step):
    return {"index": step.position, "label": step.label, "node_id": str(step.node_id), "node_type": step.node_type}


def phase_metrics(execution, phase, *, start=None, end=None):
    """The run's phase_metrics with `phase` started at `start` (if not yet) or completed at `end`."""
    metrics = dict(execution.phase_metrics or {})
    entry = dict(metrics.get(phase) or {})
    if start and not entry.get("started_at"):
        entry["started_at"] = start.isoformat()
    if end:
        entry["completed_at"] = end.isoformat()
        began = datetime.datetime.fromisoformat(entry.get("started_at") or end.isoformat())
        entry["duration_ms"] = int((end - began).total_seconds() * 1000)
    metrics[phase] = entry
    return metrics


def begin(execution, step):
    """Mark the run as working on `step`; return the updated execution."""
    batch = EventBatch()
    now = utcnow()
    target = PHASE_STATUS.get(step.phase, "running")
    fields = {"current_step": _current_step(step), "current_node_id": step.node_id,
              "phase_metrics": phase_metrics(execution, step.phase, start=now), "last_progress_at": now}
    if step.phase == "delivery":
        fields["delivery_state"] = "sending"
    reason = f"step {step.label}"
    with batch.atomic():
        if execution.status in ("queued", "ready"):
            started = {"started_at": execution.started_at or now}
            if target == "running":
                fields, reason = {**started, **fields}, "started"
            else:
                execution = runstate.transition(execution.id, "running", batch=batch, reason="started",
                                                fields=started)
        execution = runstate.transition(execution.id, target, batch=batch, fields=fields, reason=reason)
        batch.add(execution, "step.started", {"node_id": str(step.node_id), "node_type": step.node_type,
                                              "position": step.position, "label": step.label,
                                              "attempt": step.attempt})
        batch.add(execution, "execution.progress", {"progress": execution.progress,
                                                    "current_step": execution.current_step})
        logs.write(execution, "ok", domain(step.phase), logs.text("step.started", label=step.label),
                   f"node {step.node_type} attempt {step.attempt}", step.id)
    batch.flush()
    return execution


def record_input(step, config):
    ExecutionStep.update(data_in=redact(config)).where(ExecutionStep.id == step.id).execute()


def note_retry(execution, step, error, retries):
    logs.write(execution, "warn", domain(step.phase), logs.text("step.retrying", label=step.label),
               f"attempt {retries + 1}: {error}", step.id)


def step_count(execution_id, context):
    """The number of steps of the run: `create` maps every step's node in the context."""
    known = len(context.get("step_ids") or ())
    return known or ExecutionStep.select().where(ExecutionStep.execution == execution_id).count()


def fail(execution, step, error, *, events=()):
    """Fail the step and the run with human and technical text (once).

    `events` ((type, data) pairs) caused by the failure, e.g. a signature
    expiring, are written before `step.failed` and the terminal event.
    """
    now = utcnow()
    actions = recommendations.for_codes([(error.code, step.node_id)])
    with database.atomic():
        runstate.lock(execution.id)
        if not mark_failed(step, error, now):
            return False
        logs.write(execution, "error", domain(step.phase), logs.failure("step.failed", error, label=step.label),
                   f"[{error.code}] {error.message_tech}", step.id)
        audit.record(execution.organization_id, "execution.failed", target_id=execution.id,
                     execution_id=execution.id, correlation_id=execution.correlation_id,
                     metadata={"node_id": str(step.node_id), "code": error.code})
        batch = EventBatch()
        fields = {"last_error_human": error.message_human,
                  "last_error_tech": f"[{error.code}] {error.message_tech}", "recommended_actions": actions}
        if step.phase == "delivery":
            fields["delivery_state"] = "failed"
        fields.update(getattr(error, "run_fields", None) or {})
        fields["phase_metrics"] = phase_metrics(execution, step.phase, end=now)
        execution = Execution.get_by_id(execution.id)
        for event_type, data in events:
            batch.add(execution, event_type, data)
        batch.add(execution, "step.failed", {"node_id": str(step.node_id), "error_code": error.code,
                                             "error_human": error.message_human, "error_tech": error.message_tech})
        if execution.status not in runstate.TERMINAL:
            runstate.transition(execution.id, "failed", batch=batch, fields=fields, reason=error.code,
                                event_data={"error_human": error.message_human, "error_tech": error.message_tech})
        batch.write()
    batch.flush()
    return True


def fail_run(execution, error):
    """Fail a run outside a claimed hop (its preflight, the reaper), and its current step if unfinished.

    Returns False when the run had already ended.
    """
    now = utcnow()
    step = ExecutionStep.get_or_none((ExecutionStep.execution == execution.id)
                                     & (ExecutionStep.position == execution.node_index))
    node_id = step.node_id if step is not None else None
    fields = {"last_error_human": error.message_human, "last_error_tech": f"[{error.code}] {error.message_tech}",
              "recommended_actions": recommendations.for_codes([(error.code, node_id)])}
    batch = EventBatch()
    try:
        with batch.atomic():
            runstate.lock(execution.id)  # the reaper fails runs a worker may be claiming
            if step is not None and (ExecutionStep.update(
                    status="failure", error_code=error.code, error_human=error.message_human,
                    error_tech=error.message_tech, completed_at=now)
                    .where((ExecutionStep.id == step.id) & ExecutionStep.status.in_(("pending", "running")))
                    .execute()):
                batch.add(execution, "step.failed", {"node_id": str(step.node_id), "error_code": error.code,
                                                     "error_human": error.message_human,
                                                     "error_tech": error.message_tech})
            runstate.transition(execution.id, "failed", batch=batch, fields=fields, reason=error.code,
                                event_data={"error_human": error.message_human, "error_tech": error.message_tech})
            logs.write(execution, "error", "step", logs.failure("run.failed", error),
                       f"[{error.code}] {error.message_tech}", step.id if step is not None else None)
            audit.record(execution.organization_id, "execution.failed", target_id=execution.id,
                         execution_id=execution.id, correlation_id=execution.correlation_id,
                         metadata={"node_id": str(node_id) if node_id else None, "code": error.code})
    except runstate.InvalidTransition:
        return False
    batch.flush()
    return True


def finish(execution):
    """Complete the run (CAS; a second call finds it terminal and does nothing)."""
    if execution.status in runstate.TERMINAL:
        return
    batch = EventBatch()
    try:
        with batch.atomic():
            runstate.transition(execution.id, "completed", batch=batch, reason="all steps done",
                                fields={"progress": 100, "current_step": None})
            audit.record(execution.organization_id, "execution.completed", target_id=execution.id,
                         execution_id=execution.id, correlation_id=execution.correlation_id,
                         metadata={"dry_run": execution.dry_run, "until_phase": execution.until_phase})
    except runstate.InvalidTransition:
        return
    batch.flush()


def domain(phase):
    return {"delivery": "delivery", "approval": "approval", "signature": "signature"}.get(phase, "step")


def mark_failed(step, error, now):
    """Set a running step to failure with `error`; False if it was not running."""
    return bool(ExecutionStep.update(status="failure", error_code=error.code, error_human=error.message_human,
                                     error_tech=error.message_tech, completed_at=now)
                .where((ExecutionStep.id == step.id) & (ExecutionStep.status == "running")).execute())
