"""Server-Sent Events from Redis Streams, one Redis reader per process.

`StreamHub` runs one background reader that XREADs every stream some client
of this process follows, then hands each entry to the clients that have not
seen it. A client that subscribes with a Last-Event-ID gets the missed
entries from the same reader (XREAD after that id), so replay and live are
one ordered sequence. The reader blocks in XREAD; a new subscription wakes
it with CLIENT UNBLOCK. Redis connections per process: the reader's one, plus
a small bounded pool for everything else, whatever the number of clients.
"""
import json
import logging
import queue
import re
import threading

from storage.events import TERMINAL_EVENTS

log = logging.getLogger("docg.sse")
STREAM_ID = re.compile(r"^\d+(-\d+)?$")
HEARTBEAT_SECONDS = 15
RETRY_MS = 3000


def parse_id(stream_id):
    ms, _, seq = str(stream_id).partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    def __init__(self, key, cursor):
        self.key = key
        self.cursor = parse_id(cursor)
        self.queue = queue.Queue(maxsize=10_000)
        self.overflowed = False

    def offer(self, entry_id, fields):
        if parse_id(entry_id) <= self.cursor:
            return
        self.cursor = parse_id(entry_id)
        try:
            self.queue.put_nowait((entry_id, fields))
        except queue.Full:
            self.overflowed = True


class StreamHub:
    """Fan out Redis Stream entries to the SSE clients of this process."""

    def __init__(self, reader_factory, control, *, block_ms=5000, count=500):
        self._reader_factory = reader_factory
        self._control = control
        self._block_ms = block_ms
        self._count = count
        self._subs = {}
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._thread = None
        self._reader_id = None

    def subscribe(self, key, last_id="0-0"):
        sub = Subscription(key, last_id)
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

    def _cursors(self):
        with self._lock:
            return {key: "%d-%d" % min(s.cursor for s in subs) for key, subs in self._subs.items() if subs}

    def _run(self):
        reader = None
        while True:
            try:
                if reader is None:
                    reader = self._reader_factory()
                    self._reader_id = reader.client_id()
                streams = self._cursors()
                if not streams:
                    self._changed.wait(1.0)
                    self._changed.clear()
                    continue
                self._changed.clear()
                for key, entries in reader.xread(streams, count=self._count, block=self._block_ms) or []:
                    key = key.decode() if isinstance(key, bytes) else key
                    with self._lock:
                        subs = list(self._subs.get(key, ()))
                    for entry_id, fields in entries:
                        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                        for sub in subs:
                            sub.offer(entry_id, fields)
            except Exception:  # noqa: BLE001 - reconnect and go on serving
                log.warning("sse hub reader failed; reconnecting", exc_info=True)
                reader, self._reader_id = None, None
                self._changed.wait(0.5)


def format_event(entry_id, event_type, data):
    return f"id: {entry_id}\nevent: {event_type}\ndata: {data}\n\n".encode()


def event_stream(hub, key, last_id, *, resync=None, heartbeat=HEARTBEAT_SECONDS, until_terminal=True):
    """Yield SSE frames: retry hint, replay after last_id, live, until terminal."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    if resync is not None:
        yield format_event(last_id, "stream.resync", json.dumps(resync, default=str))
        if resync.get("terminal"):
            return
    sub = hub.subscribe(key, last_id)
    try:
        while True:
            try:
                entry_id, fields = sub.queue.get(timeout=heartbeat)
            except queue.Empty:
                yield b": heartbeat\n\n"
                continue
            event_type = fields[b"type"].decode()
            yield format_event(entry_id, event_type, fields[b"event"].decode())
            if until_terminal and event_type in TERMINAL_EVENTS:
                return
    finally:
        hub.unsubscribe(sub)
