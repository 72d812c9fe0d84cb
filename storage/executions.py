"""Create executions and read their state, always scoped by organization."""
import uuid

from storage import audit, documents
from storage.db import database
from storage.errors import NotFound
from storage.events import EventBatch
from storage.redact import redact
from storage.models import Execution, ExecutionStep, Workflow, WorkflowNode
from storage.models.base import find_owned


def get(execution_id, organization_id):
    """Return the organization's execution or raise NotFound (never another tenant's)."""
    execution = find_owned(Execution, execution_id, organization_id)
    if execution is None:
        raise NotFound("Execution not found.", f"execution {execution_id}")
    return execution


def nodes_of(workflow):
    return list(WorkflowNode.select().where(WorkflowNode.workflow == workflow.id).order_by(WorkflowNode.position))


def node_specs(nodes, phases):
    """The workflow's nodes (rows) as the dicts `create` snapshots into steps."""
    return [{"node_id": n.id, "node_type": n.node_type, "label": n.label, "config": n.config,
             "phase": phases[n.node_type]} for n in nodes]


def create(workflow, *, phases=None, nodes=None, trigger_data, trigger_type="api", dry_run=False, until_phase=None,
           retry_of=None, actor=("user", None), reused=None, traceparent=None):
    """Create a queued execution with one step per node (a snapshot of them).

    `nodes` are dicts (node_id, node_type, label, config, phase); by default
    the workflow's current nodes with `phases` mapping node_type to phase.
    `reused` maps a position to {output, documents} for steps a retry takes
    over from an earlier run: those steps are `skipped` and the run starts
    after them. `traceparent` is the trace the run belongs to (telemetry).
    Returns (execution, batch): its event is written with the run;
    flush the batch after the commit.
    """
    nodes = nodes if nodes is not None else node_specs(nodes_of(workflow), phases)
    reused = reused or {}
    batch = EventBatch()
    context = {"trigger": trigger_data, "steps": {nodes[i]["label"]: r["output"] for i, r in reused.items()},
               "step_ids": {str(n["node_id"]): n["label"] for n in nodes}}
    with database.atomic():
        execution = Execution.create(
            organization=workflow.organization_id, workflow=workflow.id, status="queued",
            correlation_id=uuid.uuid4(), trigger_type=trigger_type, trigger_data=trigger_data,
            execution_context=context, dry_run=dry_run, until_phase=until_phase, retry_of=retry_of,
            current_step=None, node_index=len(reused), traceparent=traceparent)
        ExecutionStep.insert_many([
            {"execution": execution.id, "node_id": n["node_id"], "position": i, "node_type": n["node_type"],
             "label": n["label"], "phase": n["phase"], "config": n["config"],
             "status": "skipped" if i in reused else "pending",
             "data_out": redact(reused[i]["output"]) if i in reused else None}
            for i, n in enumerate(nodes)
        ]).execute()
        for i, r in reused.items():
            for document in r.get("documents", ()):
                documents.copy_to(document, execution.id)
        audit.record(workflow.organization_id, "execution.started", actor_type=actor[0], actor_id=actor[1],
                     target_id=execution.id, execution_id=execution.id, correlation_id=execution.correlation_id,
                     metadata={"workflow_id": str(workflow.id), "trigger_type": trigger_type, "dry_run": dry_run,
                               "until_phase": until_phase, "retry_of": str(retry_of) if retry_of else None,
                               "reused_steps": sorted(reused)})
        batch.add(execution, "execution.created", {"trigger_type": trigger_type, "trigger_data": trigger_data,
                                                   "retry_of": str(retry_of) if retry_of else None})
        batch.write()
    return execution, batch


def steps(execution_id, *columns):
    """Return the execution's steps in order, with only `columns` when given."""
    return list(ExecutionStep.select(*columns).where(ExecutionStep.execution == execution_id)
                .order_by(ExecutionStep.position))


def runs_of_workflow(workflow_id, organization_id, *, limit=50):
    return list(Execution.select(Execution, Workflow).join(Workflow)
                .where((Execution.workflow == workflow_id) & (Execution.organization == organization_id))
                .order_by(Execution.created_at.desc(), Execution.id.desc()).limit(limit))


def _iso(moment):
    return moment.isoformat() if moment else None


def run_state(execution):
    """Return the full run state the UI renders (seed F12 response)."""
    return {
        "id": str(execution.id),
        "workflow_id": str(execution.workflow_id),
        "workflow_name": execution.workflow.name,
        "organization_id": str(execution.organization_id),
        "status": execution.status,
        "progress": execution.progress,
        "current_step": execution.current_step,
        "current_node_id": str(execution.current_node_id) if execution.current_node_id else None,
        "preflight_summary": execution.preflight_summary,
        "delivery_state": execution.delivery_state,
        "signature_state": execution.signature_state,
        "last_error_human": execution.last_error_human,
        "last_error_tech": execution.last_error_tech,
        "recommended_actions": execution.recommended_actions or [],
        "phase_metrics": execution.phase_metrics or {},
        "correlation_id": str(execution.correlation_id),
        "trigger_type": execution.trigger_type,
        "dry_run": execution.dry_run,
        "until_phase": execution.until_phase,
        "retry_of": str(execution.retry_of_id) if execution.retry_of_id else None,
        "started_at": _iso(execution.started_at),
        "completed_at": _iso(execution.completed_at),
        "created_at": _iso(execution.created_at),
        "updated_at": _iso(execution.updated_at),
    }
