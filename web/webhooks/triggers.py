"""POST /webhooks/triggers/{workflow_id}: an outside system starts a run.

Verified first, on the raw body, with Stripe's timestamped scheme
(integrations/signing.py): `X-DocG-Signature: t=<unix>,v1=<hex HMAC-SHA256
of "<t>.<body>" with the workflow's webhook secret>`. A timestamp more than
WEBHOOK_TOLERANCE_SECONDS from now is 401; a signature already accepted is
409 (`webhook.replayed`): it is stored, like provider deliveries, before the
run starts. A delivery that carries an `Idempotency-Key` (or `X-Event-ID`)
header starts at most one run, so a sender retries with a fresh signature
and the same key.
"""
import uuid

import falcon

from actors import pipeline
from integrations import signing
from storage import deliveries
from storage.models import Workflow
from web.errors import ApiError, Unauthorized, Unprocessable
from web.validation import idempotency_key, parse_json, read_body

SIGNATURE_HEADER = "X-DocG-Signature"
#: `provider` of the webhook_deliveries rows that remember accepted trigger signatures
REPLAY_PROVIDER = "docg-trigger"


def expected_signature(secret, body, timestamp=None):
    """The header value a sender puts on `body` (signed now unless `timestamp` is given)."""
    return signing.header_value(body, secret, timestamp)


class Replayed(ApiError):
    status, code = falcon.HTTP_409, "webhook.replayed"
    message_human = ("This signed request was already received. Sign every delivery with a fresh timestamp; "
                     "send the same Idempotency-Key to retry safely.")


class TriggerWebhook:
    auth = "public"

    def __init__(self, tolerance=signing.DEFAULT_TOLERANCE):
        self.tolerance = tolerance

    def on_post(self, req, resp, workflow_id):
        body = read_body(req)
        workflow = self._workflow(workflow_id)
        header = req.get_header(SIGNATURE_HEADER) or ""
        problem = signing.signature_problem(body, header, workflow.webhook_secret if workflow else "",
                                            self.tolerance, header=SIGNATURE_HEADER)
        if workflow is None or problem:
            raise Unauthorized("The webhook signature is not valid (or too old).",
                               f"trigger signature check failed: {problem or 'unknown workflow'}",
                               code="webhook.invalid_signature")
        trigger_data = parse_json(body or b"{}")
        if not isinstance(trigger_data, dict):
            raise Unprocessable("The body must be a JSON object.", f"got {type(trigger_data).__name__}")
        if workflow.status != "active":
            raise Unprocessable("This workflow is not active.", f"workflow status {workflow.status}",
                                code="workflow.inactive")
        event_key = idempotency_key(req, "X-Event-ID")
        seen = self._remember(workflow, signing.matching_signature(body, header, workflow.webhook_secret)[1])
        try:
            execution, created = pipeline.start_once(workflow, event_key, source="trigger",
                                                     trigger_data=trigger_data, trigger_type="webhook",
                                                     actor=("webhook", event_key))
        except Exception:
            seen.delete_instance()  # NOTE: nothing was applied, so the sender may retry this very request
            raise
        if not created:
            resp.media = {"duplicate": True, "execution_id": str(execution.id)}
            return
        resp.status = falcon.HTTP_202
        resp.media = {"execution_id": str(execution.id), "status": execution.status}

    @staticmethod
    def _remember(workflow, signature):
        row, created = deliveries.store_once(REPLAY_PROVIDER, f"{workflow.id}:{signature}", status="applied",
                                             organization_id=workflow.organization_id, target_id=str(workflow.id))
        if not created:
            raise Replayed(message_tech=f"signature first seen at {row.received_at.isoformat()}")
        return row

    def _workflow(self, workflow_id):
        workflow = Workflow.get_or_none(Workflow.id == workflow_id) if _is_uuid(workflow_id) else None
        return workflow if workflow and workflow.deleted_at is None else None


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


