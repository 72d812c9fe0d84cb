"""POST /webhooks/triggers/{workflow_id}: an outside system starts a run.

Verified first, on the raw body: `X-DocG-Signature: sha256=<hex HMAC-SHA256
of the body with the workflow's webhook secret>`. A delivery that carries an
`Idempotency-Key` (or `X-Event-ID`) header starts at most one run.
"""
import hashlib
import hmac

import falcon

from actors import pipeline
from storage.models import Workflow
from web.errors import Unauthorized, Unprocessable
from web.validation import idempotency_key, parse_json, read_body

SIGNATURE_HEADER = "X-DocG-Signature"


def expected_signature(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TriggerWebhook:
    auth = "public"

    def on_post(self, req, resp, workflow_id):
        body = read_body(req)
        workflow = self._workflow(workflow_id)
        given = req.get_header(SIGNATURE_HEADER) or ""
        if workflow is None or not workflow.webhook_secret or not hmac.compare_digest(
                given.encode(), expected_signature(workflow.webhook_secret, body).encode()):
            raise Unauthorized("The webhook signature is not valid.", "trigger signature check failed",
                               code="webhook.invalid_signature")
        trigger_data = parse_json(body or b"{}")
        if not isinstance(trigger_data, dict):
            raise Unprocessable("The body must be a JSON object.", f"got {type(trigger_data).__name__}")
        if workflow.status != "active":
            raise Unprocessable("This workflow is not active.", f"workflow status {workflow.status}",
                                code="workflow.inactive")
        event_key = idempotency_key(req, "X-Event-ID")
        execution, created = pipeline.start_once(workflow, event_key, source="trigger", trigger_data=trigger_data,
                                                 trigger_type="webhook", actor=("webhook", event_key))
        if not created:
            resp.media = {"duplicate": True, "execution_id": str(execution.id)}
            return
        resp.status = falcon.HTTP_202
        resp.media = {"execution_id": str(execution.id), "status": execution.status}

    def _workflow(self, workflow_id):
        workflow = Workflow.get_or_none(Workflow.id == workflow_id) if _is_uuid(workflow_id) else None
        return workflow if workflow and workflow.deleted_at is None else None


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False

