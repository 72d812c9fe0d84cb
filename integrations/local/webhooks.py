"""The inbound `webhook` trigger and the HMAC-signed `outgoing-webhook` node."""
import hashlib
import hmac
import json
from urllib.parse import urlparse

from integrations.base import Action, Result
from integrations.errors import InvalidConfig, MissingRequiredField
from integrations.http import Session, raise_for_status
from integrations.outbound import Policy
from integrations.variables import _MISSING, lookup


class WebhookTrigger(Action):
    """Take the data of the request that started the run."""

    key = "webhook"
    name = "Webhook trigger"
    phase = "trigger"
    fields = {"required_fields": {"type": "array", "items": {"type": "string"}}}

    def run(self, ctx):
        trigger = ctx.run.get("trigger", {})
        require(ctx.config, trigger)
        return Result(output=dict(trigger))

    def check(self, config, ctx, node_id):
        require(config, ctx.trigger)
        return []


def require(config, trigger):
    missing = [path for path in config.get("required_fields", [])
               if lookup({"trigger": trigger}, f"trigger.{path}") in (_MISSING, None, "")]
    if missing:
        raise MissingRequiredField(f"Required fields are empty: {', '.join(missing)}.",
                                   "missing trigger fields: " + ", ".join(missing))


def sign(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class OutgoingWebhook(Action):
    """POST the run's data to a URL, signed with HMAC-SHA256 of the body."""

    key = "outgoing-webhook"
    name = "Outgoing webhook"
    phase = "delivery"
    fields = {"url": {"type": "string"}, "secret": {"type": "string"}, "payload": {"type": "object"}}

    def run(self, ctx):
        url = ctx.config["url"]
        payload = ctx.config.get("payload") or {
            "execution_id": ctx.execution_id, "workflow_id": ctx.workflow_id,
            "trigger": ctx.run.get("trigger", {}), "steps": ctx.run.get("steps", {}),
        }
        body = json.dumps(payload, sort_keys=True, default=str).encode()

        def post(idempotency_key):
            headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key,
                       "X-DocG-Execution": ctx.execution_id}
            if ctx.config.get("secret"):
                headers["X-DocG-Signature"] = sign(ctx.config["secret"], body)
            with Session(correlation_id=ctx.correlation_id, timeout=ctx.settings.http_timeout,
                         policy=Policy.from_settings(ctx.settings)) as http:
                response = raise_for_status(http.post(url, data=body, headers=headers), what="webhook call")
            return {"url": url, "status_code": response.status_code}

        return Result(output=ctx.once("http_post", post))

    def check(self, config, ctx, node_id):
        url = str(config.get("url") or "")
        parsed = urlparse(url)
        if "{{" not in url and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            raise InvalidConfig("The webhook URL must be an http(s) address.", f"url={url!r}",
                                code="delivery.invalid_url")
        return []
