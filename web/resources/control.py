"""Run controls: resume after review, cancel, retry, manual signature, preflight."""
import falcon

from actors import control
from storage import executions, recommendations, workflows
from web.validation import read_json

RESUME = {"type": "object", "properties": {
    "approved": {"type": "boolean", "description": "false cancels the run instead (seed F10); default true"},
    "changes": {"type": "object", "description": "`trigger_data` and `nodes` (step label or id → config changes); "
                                                 "any other key is a trigger data field (seed F10)",
                "properties": {"trigger_data": {"type": "object"},
                               "nodes": {"type": "object", "additionalProperties": {"type": "object"}}}}},
    "additionalProperties": False}
CANCEL = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 2000}}, "additionalProperties": False}
RETRY = {"type": "object", "properties": {
    "from_step": {"type": ["string", "integer"], "description": "Label, node id or position of the first step to run"},
    "trigger_data": {"type": "object", "description": "Corrected trigger data; replaces the run's"},
    "definition": {"enum": ["original", "current"],
                   "description": "original: the steps as the run had them; current: the workflow as it is now"}},
    "additionalProperties": False}
SIGN = {"type": "object", "required": ["signers"], "properties": {
    "provider": {"enum": ["sandbox", "clicksign", "zapsign"]},
    "signers": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["email"], "properties": {"name": {"type": "string"}, "email": {"type": "string"}}}},
    "expires_in_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 365},
    "connection_id": {"type": "string"}}, "additionalProperties": False}
PREFLIGHT = {"type": "object", "properties": {"trigger_data": {"type": "object"}}, "additionalProperties": False}


def preflight_view(summary, recommended_actions):
    """The seed F2 shape from a preflight summary (None before preflight ran: can_execute null)."""
    groups = (summary or {}).get("groups", {})
    issues = [issue for group in groups.values() for issue in group]
    return {"can_execute": None if summary is None else summary["blocking_count"] == 0,
            "blocking": [i for i in issues if i["severity"] == "blocking"],
            "warnings": [i for i in issues if i["severity"] == "warning"],
            "recommended_actions": recommended_actions, "groups": groups}


def _accepted(resp, execution, status=falcon.HTTP_202):
    resp.status = status
    resp.media = {"execution_id": str(execution.id), "status": execution.status,
                  "links": {"self": f"/api/v1/executions/{execution.id}"}}


class ExecutionPreflight:
    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        resp.media = {"preflight_summary": execution.preflight_summary, "status": execution.status,
                      **preflight_view(execution.preflight_summary, execution.recommended_actions or [])}


def resume_changes(changes):
    """The seed's flat `changes` ({"recipient_email": ...}) are trigger data fields."""
    flat = {k: v for k, v in changes.items() if k not in ("trigger_data", "nodes")}
    out = {k: changes[k] for k in ("nodes",) if k in changes}
    if flat or "trigger_data" in changes:
        out["trigger_data"] = {**flat, **changes.get("trigger_data", {})}
    return out


class ExecutionResume:
    """The run state after the decision, plus the seed's `success` and `signal`."""

    def on_post(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        body = read_json(req, RESUME, required=False)
        if body.get("approved", True):
            execution = control.resume(execution, resume_changes(body.get("changes", {})), req.context.actor)
        else:
            execution = control.cancel(control.reviewable(execution), "review declined", req.context.actor)
        resp.media = {**executions.run_state(execution), "success": True, "signal": "signal_sent"}


class ExecutionCancel:
    def on_post(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        body = read_json(req, CANCEL, required=False)
        resp.media = executions.run_state(control.cancel(execution, body.get("reason"), req.context.actor))


class ExecutionRetry:
    def on_post(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        body = read_json(req, RETRY, required=False)
        from_step = body.get("from_step")
        _accepted(resp, control.retry(execution, None if from_step is None else str(from_step), req.context.actor,
                                      definition=body.get("definition", "original"),
                                      trigger_data=body.get("trigger_data")))


class ExecutionRetryPreview:
    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        resp.media = control.retry_plan(execution, req.get_param("from_step"))[2]


class ExecutionRequestSignature:
    def on_post(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        body = read_json(req, SIGN)
        config = {"provider": body.get("provider", "sandbox"), **body}
        _accepted(resp, control.request_signature(execution, config, req.context.actor))


class WorkflowPreflight:
    def on_post(self, req, resp, workflow_id):
        workflow = workflows.get(workflow_id, req.context.organization_id)
        body = read_json(req, PREFLIGHT, required=False)
        summary, issues = control.preflight_workflow(workflow, body.get("trigger_data", {}))
        resp.media = {**summary, "issues": issues, "ok": summary["blocking_count"] == 0,
                      **preflight_view(summary, recommendations.for_blocking(issues))}
