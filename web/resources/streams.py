"""SSE endpoints: a run's live events with replay, and stream tokens."""
import falcon

from storage import events, executions
from web.auth import STREAM_TOKEN_MAX_TTL, STREAM_TOKEN_TTL, sign_stream_token
from web.validation import read_json

TOKEN_REQUEST = {"type": "object", "properties": {
    "ttl_seconds": {"type": "integer", "minimum": 30, "maximum": STREAM_TOKEN_MAX_TTL}}, "additionalProperties": False}
from web.errors import BadRequest
from web.sse import STREAM_ID, event_stream, parse_id

SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def _last_event_id(req, default="0-0"):
    value = req.get_header("Last-Event-ID") or req.get_param("last_event_id") or default
    if value is None:
        return None
    if not STREAM_ID.match(value):
        raise BadRequest("Last-Event-ID must be a stream id like 1700000000000-0.", f"bad id {value!r}",
                         code="invalid_last_event_id")
    return value


class ExecutionStream:
    auth = "stream"

    def __init__(self, hub, redis, heartbeat):
        self.hub, self.redis, self.heartbeat = hub, redis, heartbeat

    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        last_id = _last_event_id(req)
        key = events.stream_key(execution.id)
        resync = self._resync(execution, key, last_id)
        resp.content_type = "text/event-stream"
        resp.set_headers(SSE_HEADERS)
        resp.stream = event_stream(self.hub, key, last_id, resync=resync, heartbeat=self.heartbeat)

    def _resync(self, execution, key, last_id):
        """Return the run state to send first when replay cannot be complete."""
        first = self.redis.xrange(key, count=1)
        if not first:
            return {"reason": "stream_expired", "terminal": True, "run": executions.run_state(execution)} \
                if execution.is_terminal else None
        first_id = first[0][0].decode()
        if parse_id(last_id) != (0, 0) and parse_id(last_id) < parse_id(first_id):
            return {"reason": "events_trimmed", "terminal": False, "run": executions.run_state(execution)}
        return None


class OrganizationStream:
    """Every event of every run of the caller's organization (a dashboard feed)."""

    def __init__(self, hub, redis, heartbeat):
        self.hub, self.redis, self.heartbeat = hub, redis, heartbeat

    def on_get(self, req, resp):
        key = events.org_stream_key(req.context.organization_id)
        last_id = _last_event_id(req, default=None)
        if last_id is None:
            newest = self.redis.xrevrange(key, count=1)
            last_id = newest[0][0].decode() if newest else "0-0"
        resp.content_type = "text/event-stream"
        resp.set_headers(SSE_HEADERS)
        resp.stream = event_stream(self.hub, key, last_id,
                                   heartbeat=self.heartbeat, until_terminal=False)


class StreamToken:
    def __init__(self, secret_key):
        self.secret_key = secret_key

    def on_post(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        ttl = read_json(req, TOKEN_REQUEST, required=False).get("ttl_seconds", STREAM_TOKEN_TTL)
        token = sign_stream_token(self.secret_key, execution.organization_id, execution.id, ttl=ttl)
        resp.status = falcon.HTTP_201
        resp.media = {"token": token, "expires_in": ttl,
                      "stream_url": f"/api/v1/sse/executions/{execution.id}/stream?token={token}",
                      "viewer_url": f"/runs/{execution.id}?token={token}"}
