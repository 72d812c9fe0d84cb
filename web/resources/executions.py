"""Executions: the full run state (seed F12) and its steps."""
from storage import executions


def serialize_step(step):
    return {
        "id": str(step.id), "execution_id": str(step.execution_id), "node_id": str(step.node_id),
        "step_index": step.position, "position": step.position, "node_type": step.node_type,
        "label": step.label, "phase": step.phase, "status": step.status, "attempt": step.attempt,
        "data_in": step.data_in, "data_out": step.data_out, "error_code": step.error_code,
        "error_human": step.error_human, "error_tech": step.error_tech,
        "started_at": step.started_at.isoformat() if step.started_at else None,
        "completed_at": step.completed_at.isoformat() if step.completed_at else None,
        "duration_ms": step.duration_ms,
    }


class Execution:
    auth = "stream"

    def on_get(self, req, resp, execution_id):
        resp.media = executions.run_state(executions.get(execution_id, req.context.organization_id))


class ExecutionSteps:
    auth = "stream"

    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        resp.media = {"steps": [serialize_step(s) for s in executions.steps(execution.id)]}
