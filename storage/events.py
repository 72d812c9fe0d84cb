"""Run events (schema v1): the outbox in PostgreSQL, relayed to Redis Streams.

Events are collected in an `EventBatch` while a transaction is open and
written to the outbox (storage/outbox.py) by `batch.write()` inside that
transaction, so an event exists exactly when the change that caused it
committed. `batch.flush()`, after the commit, relays them to the run's stream
`docg:exec:{id}` and the organization's stream in one pipelined round trip;
the clock's `relay_leftovers` publishes whatever a crash or a Redis outage
left behind.

NOTE: publication is idempotent and ordered by construction. A run's stream
entry for event `seq` has the id `{seq}-0`, and one Lua script per run adds
an event only if it is the next one after the stream's last id (an older one
is already there: skipped; a newer one means a gap: the relay reads the
missing events from PostgreSQL and publishes them first). The organization
entry is added by the same script only when the run entry was, so it is not
duplicated either. The process-wide `EventLog` is installed by
`storage.bootstrap`.
"""
import contextlib
import datetime
import json
import threading
import uuid

from storage import outbox
from storage.db import database

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
#: a run stream whose last id is above this was written before the outbox (ids were timestamps)
LEGACY_ID = 10 ** 12
REPAIR_PAGE = 500

_log = None

RELAY = """
local function top_of(key)
  if redis.call('EXISTS', key) == 0 then return 0 end
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return tonumber(string.match(info[i + 1], '^(%d+)')) end
  end
  return 0
end
local top = top_of(KEYS[1])
if top > tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1])
  top = 0
end
local published = 0
for i = 5, #ARGV, 4 do
  local seq = tonumber(ARGV[i])
  if seq > top then
    if ARGV[3] == '1' and seq ~= top + 1 then return {-1, top} end
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'type', ARGV[i + 1], 'event', ARGV[i + 2])
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', tonumber(ARGV[1]) * 10, '*', 'type', ARGV[i + 1], 'event', ARGV[i + 2])
    if ARGV[i + 3] == '1' then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
    top = seq
    published = published + 1
  end
end
return {published, top}
"""


def stream_key(execution_id):
    return f"docg:exec:{execution_id}"


def org_stream_key(organization_id):
    return f"docg:org:{organization_id}"


def stream_id(seq):
    return f"{seq}-0"


def configure(log_):
    global _log
    _log = log_


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
    """Relay committed outbox events to Redis Streams, with retention."""

    def __init__(self, redis, *, maxlen=1000, ttl=86400):
        self.redis = redis
        self.maxlen = maxlen
        self.ttl = ttl
        self._script = redis.register_script(RELAY)

    def publish(self, events):
        """Write `events` to the outbox (committing them) and relay them; return their stream ids."""
        with database.atomic():
            numbers = outbox.append(events)
        self.relay([(seq, event["execution_id"], event["organization_id"], event["event_type"],
                     json.dumps(event, default=str)) for seq, event in zip(numbers, events)])
        return [stream_id(seq) for seq in numbers]

    def relay(self, entries, *, contiguous=True):
        """Publish committed (seq, execution_id, organization_id, type, JSON) entries; return how many.

        Entries already in the stream are skipped; a gap before them is
        filled from the outbox first. A Redis error is raised, as the next
        hop's send would raise it: the events are safe in PostgreSQL, and the
        next relay of the run or `relay_leftovers` publishes them.
        """
        runs = {}
        for entry in entries:
            runs.setdefault((entry[1], entry[2]), []).append(entry)
        if not runs:
            return 0
        if len(runs) == 1:  # a hop's batch: EVALSHA at once (a pipeline first asks SCRIPT EXISTS, a round trip)
            (execution_id, organization_id), items = next(iter(runs.items()))
            count, top = self._call(self.redis, execution_id, organization_id, items, contiguous)
            return self.repair(execution_id, organization_id, top) if count == -1 else count
        pipe = self.redis.pipeline(transaction=False)
        for (execution_id, organization_id), items in runs.items():
            self._call(pipe, execution_id, organization_id, items, contiguous)
        published = 0
        for (execution_id, organization_id), (count, top) in zip(runs, pipe.execute()):
            published += self.repair(execution_id, organization_id, top) if count == -1 else count
        return published

    def _call(self, client, execution_id, organization_id, items, contiguous):
        args = [self.maxlen, self.ttl, "1" if contiguous else "0", LEGACY_ID]
        for seq, _, _, event_type, text in items:
            args += [seq, event_type, text, "1" if event_type in TERMINAL_EVENTS else "0"]
        return self._script(keys=[stream_key(execution_id), org_stream_key(organization_id)], args=args,
                            client=client)

    def repair(self, execution_id, organization_id, top):
        """Publish the run's outbox events after stream id `top`, oldest first; return how many."""
        published = 0
        while True:
            rows = outbox.history(execution_id, after=top, limit=REPAIR_PAGE)
            if not rows:
                return published
            items = [(seq, execution_id, organization_id, event_type, text) for seq, event_type, text in rows]
            count, top = self._call(self.redis, execution_id, organization_id, items, False)
            published += count
            if len(rows) < REPAIR_PAGE:
                return published

    def relay_leftovers(self, window_seconds):
        """Publish what runs with recent events have in the outbox but not in Redis; return how many.

        One pipelined read of every such stream's last id, then a repair of
        those behind. A stream lost with Redis's data comes back whole.
        """
        runs = outbox.recent_runs(window_seconds)
        if not runs:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for execution_id, _, _ in runs:
            pipe.xrevrange(stream_key(execution_id), count=1)
        published = 0
        for (execution_id, organization_id, last), newest in zip(runs, pipe.execute()):
            top = int(newest[0][0].decode().partition("-")[0]) if newest else 0
            if top < last or top > LEGACY_ID:
                published += self.repair(str(execution_id), str(organization_id), 0 if top > LEGACY_ID else top)
        return published


#: committed rows a flush(defer=True) left for the thread's next flush (see EventBatch.flush)
_deferred = threading.local()


def flush_deferred():
    """Relay what flush(defer=True) left on this thread; return how many were published."""
    rows = getattr(_deferred, "rows", None)
    if not rows:
        return 0
    _deferred.rows = []
    return event_log().relay(rows)


class EventBatch:
    """Collect events; `write()` them inside the transaction, `flush()` after commit."""

    def __init__(self):
        self.events = []
        self._written = []

    def add(self, execution, event_type, data=None):
        self.events.append(build(execution, event_type, data))

    def write(self):
        """Append the collected events to the outbox, in the caller's transaction."""
        events, self.events = self.events, []
        for seq, event in zip(outbox.append(events), events):
            self._written.append((seq, event["execution_id"], event["organization_id"], event["event_type"],
                                  json.dumps(event, default=str)))

    def note_written(self, execution_id, organization_id, rows):
        """Take (seq, event_type, JSON text) rows a hot statement wrote to the outbox itself, to relay on flush."""
        self._written.extend((seq, str(execution_id), str(organization_id), event_type, text)
                             for seq, event_type, text in rows)

    @contextlib.contextmanager
    def atomic(self):
        """A transaction that writes the batch's events before it commits (and drops them if it rolls back)."""
        kept = len(self._written)
        try:
            with database.atomic():
                yield self
                self.write()
        except BaseException:
            self.events, self._written = [], self._written[:kept]
            raise

    def flush(self, *, defer=False):
        """Relay the written events (writing any left unwritten first); call after the commit.

        NOTE: inside an open transaction nothing is relayed: the commit may
        still roll back. The next relay of the run (its gap check) or the
        clock publishes them.

        With `defer`, the committed rows wait for the thread's next flush
        (or flush_deferred()) and go in the same relay call: a chained hop
        defers its COMMIT's events to its next node's CLAIM, one relay
        instead of two, about a millisecond later. Whoever defers must call
        flush_deferred() when it is done (actors/pipeline.py does, in a
        `finally`); rows a crash leaves unrelayed are in the outbox, which
        the clock's relay_leftovers publishes.
        """
        if self.events:
            with database.atomic():
                self.write()
        if database.in_transaction():
            return 0
        written, self._written = self._written, []
        held = getattr(_deferred, "rows", None)
        if held:
            written, _deferred.rows = held + written, []
        if defer:
            _deferred.rows = written
            return 0
        return event_log().relay(written)
