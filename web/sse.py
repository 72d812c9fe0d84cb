"""Server-Sent Events: history from the outbox, live from Redis Streams.

`StreamHub` runs one background reader that XREADs every stream some client
of this process follows, then hands each new entry to those clients: it only
ever reads live entries. A run stream's replay (what the client missed after
its Last-Event-ID) is read from the outbox in PostgreSQL, page by page, so it
is complete however much Redis trimmed or lost; a gap in the live entries
(an event committed but not yet relayed) is filled from there too, and so is
a quiet stretch, so a run that ended while Redis was away still ends its
streams. The organization feed replays from its Redis stream (paged XRANGE
on the shared, bounded pool). Redis connections per process: the reader's
one plus that pool, whatever the number of clients. `Admission` caps the
open streams of a web worker, so slots stay free for /health and the API.
"""
import json
import logging
import queue
import re
import threading

import redis as redis_lib

from storage.events import TERMINAL_EVENTS
from web import drain
from web.errors import TooManyStreams

log = logging.getLogger("docg.sse")
STREAM_ID = re.compile(r"^\d+(-\d+)?$")
HEARTBEAT_SECONDS = 15
RETRY_MS = 3000
REPLAY_PAGE = 200
HUB_BLOCK_MS = 5000


def parse_id(stream_id):
    ms, _, seq = str(stream_id).partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    def __init__(self, key, cursor, buffer=10_000):
        self.key = key
        self.cursor = parse_id(cursor)
        self.queue = queue.Queue(maxsize=buffer)
        self.overflowed = False

    def offer(self, entry_id, fields):
        """Queue an entry newer than the cursor; after one is dropped for a full queue, take no more.

        NOTE: taking later ones would hide the gap; the stream ends instead,
        and the client's reconnect with its Last-Event-ID replays the rest.
        """
        if self.overflowed or parse_id(entry_id) <= self.cursor:
            return
        self.cursor = parse_id(entry_id)
        try:
            self.queue.put_nowait((entry_id, fields))
        except queue.Full:
            self.overflowed = True


class StreamHub:
    """Fan out Redis Stream entries to the SSE clients of this process.

    `reader_factory()` must return a client whose socket timeout exceeds
    `block_ms` (see `reader_timeout`), or every quiet XREAD times out.
    """

    def __init__(self, reader_factory, control, *, block_ms=HUB_BLOCK_MS, count=500, buffer=10_000):
        self._reader_factory = reader_factory
        self._buffer = buffer
        self._control = control
        self._block_ms = block_ms
        self._count = count
        self._subs = {}
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._thread = None
        self._reader_id = None

    def subscribe(self, key, after):
        """Follow `key` from the entry after `after`; entries queue on the returned subscription."""
        sub = Subscription(key, after, self._buffer)
        with self._lock:
            self._subs.setdefault(key, set()).add(sub)
            self._ensure_running()
        self._wake()
        return sub

    def unsubscribe(self, sub):
        with self._lock:
            subs = self._subs.get(sub.key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.key]

    @property
    def client_count(self):
        with self._lock:
            return sum(len(s) for s in self._subs.values())

    def _ensure_running(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sse-hub", daemon=True)
            self._thread.start()

    def _wake(self):
        self._changed.set()
        if self._reader_id is not None:
            try:
                self._control.client_unblock(self._reader_id)
            except Exception:  # noqa: BLE001 - the reader wakes by timeout anyway
                log.debug("client unblock failed", exc_info=True)

    def _snapshot(self):
        """Return {key: (cursor to read after, the subscriptions to serve)}.

        NOTE: an XREAD's entries go only to the subscriptions its cursors
        were computed for. One that joins while it is in flight waits for the
        next XREAD, which starts from its own cursor: otherwise it would get
        entries past a stretch it was never offered, a gap.
        """
        with self._lock:
            return {key: ("%d-%d" % min(s.cursor for s in subs), list(subs))
                    for key, subs in self._subs.items() if subs}

    def _run(self):
        reader = None
        while True:
            try:
                if reader is None:
                    reader = self._reader_factory()
                    self._reader_id = reader.client_id()
                self._changed.clear()
                snapshot = self._snapshot()
                if not snapshot:
                    self._changed.wait(1.0)
                    continue
                streams = {key: cursor for key, (cursor, _) in snapshot.items()}
                for key, entries in reader.xread(streams, count=self._count, block=self._block_ms) or []:
                    key = key.decode() if isinstance(key, bytes) else key
                    subs = snapshot[key][1]
                    for entry_id, fields in entries:
                        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                        for sub in subs:
                            sub.offer(entry_id, fields)
            except redis_lib.TimeoutError:
                # NOTE: the reader's socket timeout is set above the block (web/app.py); one firing
                # anyway (a slow server) means a quiet stretch, not a failure: reconnect quietly.
                log.debug("sse hub read timed out; reconnecting")
                reader, self._reader_id = None, None
            except Exception as ex:  # noqa: BLE001 - reconnect and go on serving
                log.warning("sse hub reader failed; reconnecting: %s: %s", type(ex).__name__, ex)
                reader, self._reader_id = None, None
                self._changed.wait(0.5)


def reader_timeout(block_ms):
    """Socket timeout (s) for the hub's reader: the XREAD block plus a margin for the reply."""
    return block_ms / 1000 + 10


def stream_bounds(redis, key):
    """Return (first id, newest id) of the stream, or (None, "0-0") when it holds nothing."""
    pipe = redis.pipeline(transaction=False)
    pipe.xrange(key, count=1)
    pipe.xrevrange(key, count=1)
    first, newest = pipe.execute()
    if not newest:
        return None, "0-0"
    return first[0][0].decode(), newest[0][0].decode()


def replay(redis, key, after, until, page=REPLAY_PAGE):
    """Yield the entries after `after` up to `until` (inclusive), one XRANGE page at a time.

    NOTE: each page borrows a pooled connection for one round trip only;
    the frames are written to the client between pages.
    """
    if parse_id(after) >= parse_id(until):
        return
    cursor = after
    while True:
        entries = redis.xrange(key, min=f"({cursor}", max=until, count=page)
        for entry_id, fields in entries:
            cursor = entry_id.decode()
            yield cursor, fields
        if len(entries) < page:
            return


class Admission:
    """Count the open SSE streams of this process; refuse more than `limit`."""

    def __init__(self, limit, retry_after=RETRY_MS // 1000):
        self.limit, self.retry_after = limit, retry_after
        self._open = 0
        self._lock = threading.Lock()

    @property
    def open_count(self):
        return self._open

    def admit(self, frames):
        """Return `frames` counted as one open stream until closed, or raise TooManyStreams."""
        with self._lock:
            if self._open >= self.limit:
                raise TooManyStreams(f"{self._open} of {self.limit} streams open in this process",
                                     retry_after=self.retry_after)
            self._open += 1
        return AdmittedStream(frames, self._release)

    def _release(self):
        with self._lock:
            self._open -= 1


class AdmittedStream:
    """A WSGI body that gives its admission back when the server closes it.

    NOTE: a wrapper, not a `finally` in the generator: the server calls
    `close()` even when the client left before the first frame was written,
    and a generator that never started would skip its `finally`.
    """

    def __init__(self, frames, release):
        self._frames, self._release = frames, release

    def __iter__(self):
        return self._frames

    def close(self):
        release, self._release = self._release, None
        try:
            self._frames.close()
        finally:
            if release is not None:
                release()


def format_event(entry_id, event_type, data):
    return f"id: {entry_id}\nevent: {event_type}\ndata: {data}\n\n".encode()


def _frame(entry_id, fields):
    event_type = fields[b"type"].decode()
    return event_type, format_event(entry_id, event_type, fields[b"event"].decode())


def _history(history, after):
    """Yield (seq, type, frame) of every outbox row after `after`, one page at a time."""
    while True:
        rows = history(after)
        for seq, event_type, data in rows:
            after = seq
            yield seq, event_type, format_event(f"{seq}-0", event_type, data)
        if len(rows) < REPLAY_PAGE:
            return


def run_stream(hub, key, after, tip, history, *, resync=None, heartbeat=HEARTBEAT_SECONDS, retry_ms=RETRY_MS):
    """Yield SSE frames of one run: retry hint, its history after `after`, then live, until it ends.

    `history(after)` returns up to REPLAY_PAGE outbox rows (seq, type, JSON)
    after a seq. The hub subscription starts right after `tip` (the Redis
    stream's last id, read first) and buffers while the history is written;
    entries already written are skipped, and a live entry past the next seq,
    or a quiet heartbeat interval, first writes what the outbox has beyond
    the last written seq. Ends after the terminal event.
    """
    yield f"retry: {retry_ms}\n\n".encode()
    if resync is not None:
        yield format_event(f"{after}-0", "stream.resync", json.dumps(resync, default=str))
        if resync.get("terminal"):
            return
    sub = hub.subscribe(key, tip)
    wake = _drain_waker(sub)
    drain.register(wake)
    written = after
    try:
        for seq, event_type, frame in _history(history, written):
            written = seq
            yield frame
            if event_type in TERMINAL_EVENTS:
                return
        while not (sub.overflowed and sub.queue.empty()):
            try:
                entry_id, fields = sub.queue.get(timeout=heartbeat)
                if entry_id is None:  # drain.WAKE: this process is shutting down
                    yield drain.reconnect_frame()
                    return
                seq = parse_id(entry_id)[0]
            except queue.Empty:
                entry_id, seq = None, None
            if seq is not None and seq <= written:
                continue
            if seq is None or seq > written + 1:
                before = written
                for row_seq, event_type, frame in _history(history, written):
                    written = row_seq
                    yield frame
                    if event_type in TERMINAL_EVENTS:
                        return
                if seq is None:
                    if written == before:
                        yield b": heartbeat\n\n"
                    continue
                if seq <= written:
                    continue
            event_type, frame = _frame(entry_id, fields)
            written = seq
            yield frame
            if event_type in TERMINAL_EVENTS:
                return
    finally:
        drain.unregister(wake)
        hub.unsubscribe(sub)


def _drain_waker(sub):
    """A callable that wakes `sub`'s stream when the process drains (web/drain.py)."""
    def wake():
        try:
            sub.queue.put_nowait(drain.WAKE)
        except queue.Full:  # a client this far behind ends its stream now and reconnects
            sub.overflowed = True

    return wake


def event_stream(hub, redis, key, last_id, tip, *, resync=None, heartbeat=HEARTBEAT_SECONDS, until_terminal=True,
                 retry_ms=RETRY_MS):
    """Yield SSE frames: retry hint, replay after `last_id` up to `tip`, then live.

    `tip` is the stream's newest id, read before the run state a resync
    carries. The hub subscription starts right after `tip` and buffers while
    the replay (an XRANGE ending at `tip`) is written, so replay and live
    meet without a gap; ids already written are skipped, so without a
    duplicate either. After a resync there is no replay: the run state
    already holds everything up to `tip`.
    """
    yield f"retry: {retry_ms}\n\n".encode()
    if resync is not None:
        yield format_event(tip if tip != "0-0" else last_id, "stream.resync", json.dumps(resync, default=str))
        if resync.get("terminal"):
            return
        last_id = tip
    sub = hub.subscribe(key, tip)
    wake = _drain_waker(sub)
    drain.register(wake)
    try:
        written = parse_id(last_id)
        for entry_id, fields in replay(redis, key, last_id, tip):
            event_type, frame = _frame(entry_id, fields)
            written = parse_id(entry_id)
            yield frame
            if until_terminal and event_type in TERMINAL_EVENTS:
                return
        while not (sub.overflowed and sub.queue.empty()):
            try:
                entry_id, fields = sub.queue.get(timeout=heartbeat)
            except queue.Empty:
                yield b": heartbeat\n\n"
                continue
            if entry_id is None:  # drain.WAKE: this process is shutting down
                yield drain.reconnect_frame()
                return
            if parse_id(entry_id) <= written:
                continue
            event_type, frame = _frame(entry_id, fields)
            yield frame
            if until_terminal and event_type in TERMINAL_EVENTS:
                return
    finally:
        drain.unregister(wake)
        hub.unsubscribe(sub)
