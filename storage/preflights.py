"""Record a preflight result on the run and route it (seed F2, F13)."""
import json

from storage import logs, node_secrets, recommendations, reviews, runstate
from storage.db import database
from storage.events import EventBatch
from storage.models import Execution, ExecutionStep, utcnow


#: the preflight hop's statements as fixed text: building them with the query builder cost more CPU than
#: the checks of a run's nodes (rows still become models, through Model.raw)
_RUN = "SELECT * FROM workflow_executions WHERE id = %s"
_STEPS = "SELECT * FROM execution_steps WHERE execution_id = %s ORDER BY position"
_RECORD = """
UPDATE workflow_executions SET preflight_summary = %s::jsonb, recommended_actions = %s::jsonb,
       phase_metrics = %s::jsonb, started_at = coalesce(started_at, %s), version = version + 1,
       updated_at = %s, last_progress_at = %s
WHERE id = %s AND preflight_summary IS NULL AND hop = %s
RETURNING *"""


def run_of(execution_id):
    """The run's row, or None."""
    return next(iter(Execution.raw(_RUN, str(execution_id))), None)


def steps_of(execution):
    """The run's steps, in order (what nodes_to_check and the run's next hop look at)."""
    return list(ExecutionStep.raw(_STEPS, str(execution.id)))


def nodes_to_check(execution, rows=None):
    """(nodes from the current position, nodes already done or reused) as dicts; `rows` as steps_of gives them."""
    rows = steps_of(execution) if rows is None else rows
    as_dict = [{"node_id": str(s.node_id), "node_type": s.node_type, "label": s.label, "config": s.config,
                "phase": s.phase} for s in rows]
    return as_dict[execution.node_index:], as_dict[:execution.node_index]


def record(execution, summary, issues, *, stop_after=False, checked=None, defer=False):
    """Store the result once (CAS) and move the run: needs_review, completed or on.

    `checked` is (began, ended) of the checks themselves: the preflight
    metric measures them, not the time the run spent queued or in review.
    A run sent to review gets a `needs_review` metric of its own, closed on
    resume. Returns the updated execution, or None when another hop
    recorded it first. `defer` as EventBatch.flush's.
    """
    actions = recommendations.for_blocking(issues)
    metrics = dict(execution.phase_metrics or {})
    now = utcnow()
    began, ended = checked or (now, now)
    metrics["preflight"] = {"started_at": began.isoformat(), "completed_at": ended.isoformat(),
                            "duration_ms": int((ended - began).total_seconds() * 1000)}
    if summary["blocking_count"]:
        metrics["needs_review"] = {"started_at": now.isoformat()}
    batch = EventBatch()
    with database.atomic():
        rows = list(Execution.raw(_RECORD, json.dumps(summary, default=str), json.dumps(actions, default=str),
                                  json.dumps(metrics, default=str), now, now, now, str(execution.id), execution.hop))
        if not rows:
            return None
        execution = rows[0]
        for issue in issues:
            logs.write(execution, "error" if issue["severity"] == "blocking" else "warn", "preflight",
                       logs.text("preflight.issue", error=issue["message_human"], error_code=issue["code"]),
                       f"[{issue['code']}] {issue['message_tech']}")
        if not issues:
            logs.write(execution, "ok", "preflight", logs.text("preflight.clean"))
        batch.add(execution, "preflight.completed", {"blocking_count": summary["blocking_count"],
                                                     "warning_count": summary["warning_count"],
                                                     "groups": summary["groups"]})
        if summary["blocking_count"]:
            first = next(i for i in issues if i["severity"] == "blocking")
            execution = runstate.transition(execution.id, "needs_review", batch=batch, reason="preflight", fields={
                "last_error_human": first["message_human"], "last_error_tech": f"[{first['code']}] {first['message_tech']}"})
        elif stop_after:
            execution = runstate.transition(execution.id, "completed", batch=batch, reason="until_phase preflight",
                                            fields={"progress": 100}, event_data={"preflight": summary})
        batch.write()
    batch.flush(defer=defer)
    return execution


def clear_for_resume(execution, *, trigger_data=None, node_changes=None):
    """Apply a person's changes to a run in needs_review and forget its preflight."""
    with database.atomic():
        runstate.lock(execution.id)
        context = dict(execution.execution_context or {})
        fields = {"preflight_summary": None, "version": Execution.version + 1, "updated_at": utcnow()}
        if trigger_data is not None:
            merged = {**(execution.trigger_data or {}), **trigger_data}
            context["trigger"] = merged
            fields.update(trigger_data=merged, execution_context=context)
        for step_ref, changes in (node_changes or {}).items():
            step = (ExecutionStep.select().where((ExecutionStep.execution == execution.id)
                                                 & ((ExecutionStep.label == step_ref)
                                                    | (ExecutionStep.node_id.cast("text") == step_ref))).first())
            if step is None:
                return None, step_ref
            ExecutionStep.update(config=node_secrets.seal({**(step.config or {}), **changes}, execution.organization_id,
                                                             step.config)).where(ExecutionStep.id == step.id).execute()
        rows = (Execution.update(fields).where((Execution.id == execution.id)
                                              & (Execution.version == execution.version)).execute())
        if not rows:
            return None, None
        reviews.reopen_step(execution.id, execution.node_index)
    return Execution.get_by_id(execution.id), None
