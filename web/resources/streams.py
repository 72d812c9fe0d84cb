"""SSE endpoints: a run's live events with replay, and stream tokens."""
import falcon
import redis as redis_lib

from storage import db, events, executions, outbox
from web.auth import STREAM_TOKEN_MAX_TTL, STREAM_TOKEN_TTL, sign_stream_token
from web.errors import BadRequest
from web.sse import REPLAY_PAGE, RETRY_MS, STREAM_ID, event_stream, parse_id, run_stream, stream_bounds
from web.validation import read_json

TOKEN_REQUEST = {"type": "object", "properties": {
    "ttl_seconds": {"type": "integer", "minimum": 30, "maximum": STREAM_TOKEN_MAX_TTL}}, "additionalProperties": False}
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def _last_event_id(req, default="0-0"):
    value = req.get_header("Last-Event-ID") or req.get_param("last_event_id") or default
    if value is None:
        return None
    if not STREAM_ID.match(value):
        raise BadRequest("Last-Event-ID must be a stream id like 1700000000000-0.", f"bad id {value!r}",
                         code="invalid_last_event_id")
    return value


def _resync(execution, first, last):
    """Return the run state to send first when retention pruned the history after `last`, else None.

    NOTE: the row is read after the outbox bounds, so the state holds every
    event up to the last seq the live part starts after.
    """
    newest = execution.event_seq
    if newest <= last or (first is not None and first <= last + 1):
        return None
    fresh = executions.get(execution.id, execution.organization_id)
    return {"reason": "history_pruned", "terminal": fresh.is_terminal, "run": executions.run_state(fresh)}


def _history(execution_id):
    def rows(after):
        with db.connection():
            return outbox.history(execution_id, after, REPLAY_PAGE)
    return rows


class ExecutionStream:
    """One run's events: its whole history from the outbox, then live; ends with the run.

    A reconnect to an ended run that has nothing the client has not seen
    gets 204, which tells an EventSource to stop reconnecting.
    """

    auth = "stream"

    def __init__(self, hub, redis, heartbeat, admission, retry_ms=RETRY_MS):
        self.hub, self.redis, self.heartbeat, self.admission = hub, redis, heartbeat, admission
        self.retry_ms = retry_ms

    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        after = parse_id(_last_event_id(req))[0]
        key = events.stream_key(execution.id)
        try:
            _, tip = stream_bounds(self.redis, key)
        except redis_lib.RedisError:
            tip = "0-0"  # Redis is away: the history and the quiet-time reads come from the outbox
        first, _ = outbox.bounds(execution.id)
        execution = executions.get(execution.id, req.context.organization_id)
        if execution.is_terminal and after >= execution.event_seq:
            resp.status = falcon.HTTP_204
            return
        resync = _resync(execution, first, after)
        if resync is not None:
            after = execution.event_seq
        resp.content_type = "text/event-stream"
        resp.set_headers(SSE_HEADERS)
        resp.stream = self.admission.admit(run_stream(self.hub, key, after, tip, _history(execution.id),
                                                      resync=resync, heartbeat=self.heartbeat,
                                                      retry_ms=self.retry_ms))


class OrganizationStream:
    """Every event of every run of the caller's organization (a dashboard feed)."""

    def __init__(self, hub, redis, heartbeat, admission, retry_ms=RETRY_MS):
        self.hub, self.redis, self.heartbeat, self.admission = hub, redis, heartbeat, admission
        self.retry_ms = retry_ms

    def on_get(self, req, resp):
        key = events.org_stream_key(req.context.organization_id)
        _, tip = stream_bounds(self.redis, key)
        last_id = _last_event_id(req, default=tip)
        resp.content_type = "text/event-stream"
        resp.set_headers(SSE_HEADERS)
        resp.stream = self.admission.admit(
            event_stream(self.hub, self.redis, key, last_id, tip, heartbeat=self.heartbeat, until_terminal=False,
                         retry_ms=self.retry_ms))


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
