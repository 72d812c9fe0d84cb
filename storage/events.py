"""Append schema-v1 run events to Redis Streams (`docg:exec:{id}`).

Events are collected in an `EventBatch` while a transaction is open and
flushed after it commits, so a client never sees an event for a change the
database rolled back. One flush is one pipelined round trip: XADD to the
run's stream (approximate MAXLEN) and to the organization's stream, plus
EXPIRE when the run ends.

NOTE: the process-wide `EventLog` is installed by `storage.bootstrap`; the
status machine and the pipeline call `batch()` without threading a client
through every signature.
"""
import datetime
import json
import uuid

SCHEMA_VERSION = 1
TERMINAL_EVENTS = frozenset({"execution.completed", "execution.failed", "execution.canceled"})
EVENT_TYPES = frozenset({
    "execution.created", "execution.status_changed", "execution.progress",
    "preflight.completed", "step.started", "step.completed", "step.failed",
    "execution.paused", "execution.resumed", "execution.canceled",
    "execution.completed", "execution.failed", "approval.requested", "approval.decided",
    "signature.requested", "signature.sent", "signature.viewed", "signature.signed",
    "signature.declined", "signature.completed", "signature.expired",
    "signature.documents_stored",
})

_log = None


def stream_key(execution_id):
    return f"docg:exec:{execution_id}"


def org_stream_key(organization_id):
    return f"docg:org:{organization_id}"


def configure(log):
    global _log
    _log = log


def event_log():
    if _log is None:
        raise RuntimeError("storage.events.configure(EventLog) was not called")
    return _log


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(execution, event_type, data=None):
    """Return the schema-v1 event for `execution` (a row with current state)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return {
        "schema_version": SCHEMA_VERSION,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "timestamp": _iso(datetime.datetime.now(datetime.timezone.utc)),
        "execution_id": str(execution.id),
        "workflow_id": str(execution.workflow_id),
        "organization_id": str(execution.organization_id),
        "correlation_id": str(execution.correlation_id),
        "status": execution.status,
        "progress": execution.progress,
        "current_step": execution.current_step,
        "data": data or {},
    }


class EventLog:
    """Write events to Redis Streams with retention."""

    def __init__(self, redis, *, maxlen=1000, ttl=86400):
        self.redis = redis
        self.maxlen = maxlen
        self.ttl = ttl

    def publish(self, events):
        """XADD every event in one pipeline; return the stream ids."""
        if not events:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for event in events:
            fields = {"type": event["event_type"], "event": json.dumps(event, default=str)}
            pipe.xadd(stream_key(event["execution_id"]), fields, maxlen=self.maxlen, approximate=True)
            pipe.xadd(org_stream_key(event["organization_id"]), fields, maxlen=self.maxlen * 10, approximate=True)
            if event["event_type"] in TERMINAL_EVENTS:
                pipe.expire(stream_key(event["execution_id"]), self.ttl)
        results = pipe.execute()
        return [r.decode() if isinstance(r, bytes) else r for r in results[::2] if not isinstance(r, bool)]


class EventBatch:
    """Collect events during a transaction; `flush()` after commit."""

    def __init__(self):
        self.events = []

    def add(self, execution, event_type, data=None):
        self.events.append(build(execution, event_type, data))

    def flush(self):
        events, self.events = self.events, []
        return event_log().publish(events)
