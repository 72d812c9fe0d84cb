"""Controls a person applies to a run: resume, cancel, retry, sign by hand.

Each control changes the run through the status machine and then lets the
pipeline move it (`pipeline.advance`); none of them runs a node itself.
"""
import dataclasses
import uuid

from actors import pipeline
from actors.broker import services
from integrations import preflight
from integrations.base import load_apps
from storage import approvals, audit, documents, executions, logs, preflights, runstate, signatures, workflows
from storage.errors import Conflict, InvalidTransition, NotFound
from storage.events import EventBatch
from storage.models import Execution, ExecutionStep, SideEffect, WorkflowNode, utcnow
from telemetry import tracing
from storage.steps import phase_metrics as _phase_metrics

RESUMABLE = ("needs_review",)


def reviewable(execution):
    """Return the run if it waits for review (resume), else raise 409."""
    if execution.status not in RESUMABLE:
        raise InvalidTransition(execution.status, "ready")
    return execution


def resume(execution, changes, actor):
    """Apply changes to a run in review, re-run preflight, continue if clean."""
    reviewable(execution)
    services.ledger.confirm_unknown(execution.id, actor[1] or actor[0])
    updated, unknown_step = preflights.clear_for_resume(execution, trigger_data=changes.get("trigger_data"),
                                                        node_changes=changes.get("nodes"))
    if unknown_step:
        raise NotFound(f"There is no step {unknown_step!r} in this run.", f"step {unknown_step!r}")
    if updated is None:
        raise Conflict("The run changed meanwhile; reload it and try again.", "version moved")
    updated = pipeline.record_preflight(updated)
    if updated is None:
        raise Conflict("The run changed meanwhile; reload it and try again.", "preflight recorded concurrently")
    audit.record(execution.organization_id, "execution.resumed", actor_type=actor[0], actor_id=actor[1],
                 target_id=execution.id, execution_id=execution.id, correlation_id=execution.correlation_id,
                 metadata={"changes": sorted(changes), "blocking": updated.preflight_summary["blocking_count"]})
    if updated.preflight_summary["blocking_count"]:
        return updated
    batch = EventBatch()
    with batch.atomic():
        updated = runstate.transition(updated.id, "ready", batch=batch, expect="needs_review",
                                      reason="review resolved", fields={
                                          "last_error_human": None, "last_error_tech": None,
                                          "phase_metrics": _phase_metrics(updated, "needs_review", end=utcnow())})
        batch.add(updated, "execution.resumed", {"reason": "review resolved"})
    batch.flush()
    pipeline.advance(updated.id)
    return Execution.get_by_id(updated.id)


def _final_fields(execution):
    """What a canceled run's state says about the things it was doing: nothing is pending any more."""
    fields = {}
    if execution.signature_state == "signing":
        fields["signature_state"] = "canceled"
    if execution.delivery_state == "sending":
        fields["delivery_state"] = "canceled"
    if execution.current_step and execution.current_step.get("waiting_for") is not None:
        fields["current_step"] = {k: v for k, v in execution.current_step.items() if k != "waiting_for"}
    return fields


def cancel(execution, reason, actor):
    """Stop the run before its next node and withdraw what it waits for.

    Approval links are revoked and envelopes withdrawn in the same
    transaction as the status change, and the run's signature, delivery and
    waiting state say so; `execution.canceled` carries what was withdrawn.
    """
    batch = EventBatch()
    was = execution.status
    with batch.atomic():
        runstate.lock(execution.id)
        if was in pipeline.WAITING:
            (ExecutionStep.update(status="skipped", error_code="canceled", error_human="The run was canceled.",
                                  completed_at=utcnow())
             .where((ExecutionStep.execution == execution.id) & (ExecutionStep.status == "running")).execute())
        revoked = approvals.close_pending_of_run(execution.id)
        withdrawn = signatures.open_requests(execution.id)
        execution = runstate.transition(execution.id, "canceled", batch=batch, reason=reason,
                                        fields=_final_fields(execution),
                                        event_data={"canceled_by": actor[1] or actor[0], "reason": reason,
                                                    "approvals_revoked": revoked,
                                                    "envelopes_withdrawn": [r.envelope_id for r in withdrawn]})
        said = logs.text("run.canceled_because", given_reason=reason) if reason else logs.text("run.canceled")
        logs.write(execution, "warn", "step", said,
                   f"by {actor}; {revoked} approval link(s) revoked; {len(withdrawn)} envelope(s) withdrawn")
        audit.record(execution.organization_id, "execution.canceled", actor_type=actor[0], actor_id=actor[1],
                     target_id=execution.id, execution_id=execution.id, correlation_id=execution.correlation_id,
                     metadata={"reason": reason, "from": was, "approvals_revoked": revoked})
    batch.flush()
    from actors.waits import withdraw_signature_request

    for request in withdrawn:
        withdraw_signature_request.send(str(request.id))
    return execution


def _from_position(steps, from_step):
    if from_step is None:
        return 0
    for step in steps:
        if from_step in (step.label, str(step.node_id), str(step.position)):
            return step.position
    raise NotFound(f"There is no step {from_step!r} in this run.", f"from_step {from_step!r}")


def retry_plan(execution, from_step):
    """Which steps a retry reuses and which external effects it repeats or skips."""
    steps = executions.steps(execution.id)
    start = _from_position(steps, from_step)
    if start and any(s.status != "success" for s in steps[:start]):
        first = next(s for s in steps[:start] if s.status != "success")
        raise Conflict(f"“{first.label}” did not succeed, so the retry cannot start after it.",
                       f"step {first.position} is {first.status}")
    effects = {}
    for entry in SideEffect.select().where(SideEffect.execution == execution.id):
        effects.setdefault(str(entry.node_id), []).append(entry.effect)
    for document in documents.for_execution(execution.id):
        effects.setdefault(str(document.node_id), []).append("document")

    def describe(step):
        return {"position": step.position, "label": step.label, "node_type": step.node_type,
                "effects": sorted(effects.get(str(step.node_id), []))}
    return start, steps, {"from_step": start, "reused": [describe(s) for s in steps[:start]],
                          "repeated": [describe(s) for s in steps[start:]]}


def retry(execution, from_step, actor, definition="original", trigger_data=None):
    """Start a new execution of the run's steps; reuse outputs before `from_step`.

    `definition` "original" runs the steps as the run had them (the node
    configs copied when it started); "current" runs the workflow as it is
    now, reusing the earlier run's outputs for the steps before `from_step`
    that it still has (matched by label). `trigger_data`, when given,
    replaces the run's trigger data (a retry with corrected data, seed F10).
    """
    if not execution.is_terminal:
        raise InvalidTransition(execution.status, "retried")
    start, steps, _ = retry_plan(execution, from_step)
    outputs = (execution.execution_context or {}).get("steps", {})
    workflow = workflows.get(execution.workflow_id, execution.organization_id)
    if definition == "current":
        registry = load_apps()
        current = executions.nodes_of(workflow)
        nodes = executions.node_specs(current, {n.node_type: registry.phase_of(n.node_type) for n in current})
        earlier = {s.label: s for s in steps[:start]}
        missing = [n["label"] for n in nodes[:start] if n["label"] not in earlier]
        if missing:
            raise Conflict(f"The workflow no longer matches this run before “{missing[0]}”; retry from the start.",
                           f"labels {missing} not among the reused steps")
        reused_steps = [(i, earlier[n["label"]]) for i, n in enumerate(nodes[:start])]
    else:
        nodes = [{"node_id": s.node_id, "node_type": s.node_type, "label": s.label, "config": s.config,
                  "phase": s.phase} for s in steps]
        reused_steps = [(s.position, s) for s in steps[:start]]
    reused = {position: {"output": outputs.get(s.label, {}), "documents": documents.for_node(execution.id, s.node_id)}
              for position, s in reused_steps}
    new, batch = pipeline.traced(executions.create(
        workflow, nodes=nodes, trigger_data=execution.trigger_data if trigger_data is None else trigger_data,
        trigger_type="retry", dry_run=execution.dry_run,
        until_phase=execution.until_phase, retry_of=execution.id, actor=actor, reused=reused,
        traceparent=tracing.current_traceparent()))
    audit.record(execution.organization_id, "execution.retried", actor_type=actor[0], actor_id=actor[1],
                 target_id=execution.id, execution_id=execution.id, correlation_id=execution.correlation_id,
                 metadata={"new_execution_id": str(new.id), "from_step": start, "definition": definition,
                           "trigger_data_replaced": trigger_data is not None})
    batch.flush()
    pipeline.advance(new.id)
    return new


def request_signature(execution, config, actor):
    """Send a completed run's latest document for signature, as a new run."""
    if execution.status != "completed":
        raise InvalidTransition(execution.status, "signing")
    if not documents.for_execution(execution.id):
        raise Conflict("This run produced no document to sign.", "no generated documents")
    steps = executions.steps(execution.id)
    outputs = (execution.execution_context or {}).get("steps", {})
    nodes = [{"node_id": s.node_id, "node_type": s.node_type, "label": s.label, "config": s.config, "phase": s.phase}
             for s in steps]
    nodes.append({"node_id": uuid.uuid4(), "node_type": "request-signatures", "label": "manual-signature",
                  "config": config, "phase": load_apps().phase_of("request-signatures")})
    reused = {s.position: {"output": outputs.get(s.label, {}),
                           "documents": documents.for_node(execution.id, s.node_id)} for s in steps}
    new, batch = executions.create(workflows.get(execution.workflow_id, execution.organization_id), nodes=nodes,
                                   trigger_data=execution.trigger_data, trigger_type="manual_signature",
                                   retry_of=execution.id, actor=actor, reused=reused,
                                   traceparent=tracing.current_traceparent())
    batch.flush()
    pipeline.advance(new.id)
    return new


def preflight_workflow(workflow, trigger_data):
    """Check a workflow against trigger data without creating an execution."""
    registry = load_apps()
    nodes = [{"node_id": str(n.id), "node_type": n.node_type, "label": n.label, "config": n.config,
              "phase": registry.phase_of(n.node_type)}
             for n in WorkflowNode.select().where(WorkflowNode.workflow == workflow.id).order_by(WorkflowNode.position)]
    issues = preflight.check(nodes, trigger=trigger_data, organization_id=workflow.organization_id,
                             settings=services.settings)
    return preflight.summary(issues), [dataclasses.asdict(i) for i in issues]
