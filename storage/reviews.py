"""Hold a run in needs_review when a step hits a problem a person must fix.

A template error (seed F2/F13: needs_review is "blocked by preflight or a
recoverable error") is not retried and does not fail the run: the step is
marked failed with its code and texts, the run waits in `needs_review` with
the recommended action, and `POST /executions/{id}/resume` (after a new
template version or changed step config) runs preflight again and retries
the step from scratch.
"""
from storage import audit, logs, recommendations, runstate
from storage.db import database
from storage.events import EventBatch
from storage.models import Execution, ExecutionStep, utcnow
from storage.steps import mark_failed, phase_metrics


def hold(execution, step, error):
    """Fail the step and move the run to needs_review (once); False if it could not."""
    now = utcnow()
    actions = recommendations.for_codes([(error.code, step.node_id)])
    batch = EventBatch()
    with database.atomic():
        runstate.lock(execution.id)
        if not mark_failed(step, error, now):
            return False
        current = Execution.get_by_id(execution.id)
        if not runstate.can_transition(current.status, "needs_review"):
            raise runstate.InvalidTransition(current.status, "needs_review")
        batch.add(current, "step.failed", {"node_id": str(step.node_id), "error_code": error.code,
                                           "error_human": error.message_human, "error_tech": error.message_tech,
                                           "needs_review": True})
        runstate.transition(execution.id, "needs_review", batch=batch, reason=error.code, fields={
            "last_error_human": error.message_human, "last_error_tech": f"[{error.code}] {error.message_tech}",
            "recommended_actions": actions, "last_progress_at": now,
            "phase_metrics": phase_metrics(current, "needs_review", start=now),
            **(getattr(error, "run_fields", None) or {})})
        logs.write(current, "error", "step", logs.failure("step.needs_review", error, label=step.label),
                   f"[{error.code}] {error.message_tech}", step.id)
        audit.record(current.organization_id, "execution.needs_review", target_id=execution.id,
                     execution_id=execution.id, correlation_id=execution.correlation_id,
                     metadata={"node_id": str(step.node_id), "code": error.code})
        batch.write()
    batch.flush()
    return True


def reopen_step(execution_id, position):
    """Make the held step runnable again (resume): back to pending, error kept for history in the logs."""
    (ExecutionStep.update(status="pending", error_code=None, error_human=None, error_tech=None, completed_at=None,
                          claim_token=None)
     .where((ExecutionStep.execution == execution_id) & (ExecutionStep.position == position)
            & (ExecutionStep.status == "failure")).execute())
