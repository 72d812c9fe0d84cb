"""Run controls: resume after review, cancel, retry, manual signature, preflight."""
import falcon

from actors import control
from storage import executions, recommendations, workflows
from web.validation import read_json

RESUME = {"type": "object", "properties": {"changes": {"type": "object", "properties": {
    "trigger_data": {"type": "object"},
    "nodes": {"type": "object", "additionalProperties": {"type": "object"}}}, "additionalProperties": False}},
    "additionalProperties": False}
CANCEL = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 2000}}, "additionalProperties": False}
RETRY = {"type": "object", "properties": {"from_step": {"type": ["string", "integer"]},
                                          "definition": {"enum": ["original", "current"]}},
         "additionalProperties": False}
SIGN = {"type": "object", "required": ["signers"], "properties": {
    "provider": {"enum": ["sandbox", "clicksign", "zapsign"]},
    "signers": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["email"], "properties": {"name": {"type": "string"}, "email": {"type": "string"}}}},
    "expires_in_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 365},
    "connection_id": {"type": "string"}}, "additionalProperties": False}
PREFLIGHT = {"type": "object", "properties": {"trigger_data": {"type": "object"}}, "additionalProperties": False}


def _accepted(resp, execution, status=falcon.HTTP_202):
    resp.status = status
    resp.media = {"execution_id": str(execution.id), "status": execution.status,
                  "links": {"self": f"/api/v1/executions/{execution.id}"}}


class ExecutionPreflight:
    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        resp.media = {"preflight_summary": execution.preflight_summary,
                      "recommended_actions": execution.recommended_actions or [], "status": execution.status}


class ExecutionResume:
    def on_post(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        body = read_json(req, RESUME, required=False)
        resp.media = executions.run_state(control.resume(execution, body.get("changes", {}), req.context.actor))


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
                                      definition=body.get("definition", "original")))


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
                      "recommended_actions": recommendations.for_blocking(issues)}
