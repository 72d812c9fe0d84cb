"""The SSE clients of bench/sse.py: stdlib asyncio, a socket each, stamped frames."""
import asyncio
import json
import time
from urllib.parse import urlparse

from bench.sse_report import sse_clients

HANDSHAKES_IN_FLIGHT = 100
SUBSCRIBE_DEADLINE = 30.0


class SseClient:
    """One SSE connection over asyncio streams; keeps (sent, received) per event seq."""

    def __init__(self):
        self.seen = {}
        self.events = 0
        self.status = None
        self.error = None
        self.closed = False
        self.refused = False

    async def open(self, host, port, path, gate, last_event_id=None):
        """Connect and read the response head (at most `gate` handshakes at once); then read frames."""
        try:
            async with gate:
                self.reader, self.writer = await asyncio.open_connection(host, port)
                extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
                self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                                  f"{extra}\r\n".encode())
                head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
                self.status = int(head.split(" ", 2)[1])
                if self.status == 503 and "\r\nretry-after:" in head:
                    self.refused = True  # NOTE: the web process's admission limit; told when to come back
                    self.writer.close()
                    return
                if self.status != 200:
                    raise ConnectionError(f"HTTP {self.status}")
                self.chunked = "transfer-encoding: chunked" in head
            await self._read()
        except (OSError, asyncio.IncompleteReadError, ValueError) as ex:
            self.error = f"{type(ex).__name__}: {ex}"
        finally:
            self.closed = True

    async def _read(self):
        buffer = b""
        while True:
            if self.chunked:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    return
                chunk = (await self.reader.readexactly(size + 2))[:-2]
            else:
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
            now = time.perf_counter()
            buffer += chunk
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                self._frame(frame, now)

    def _frame(self, frame, now):
        for line in frame.split(b"\n"):
            if line.startswith(b"data: "):
                self.events += 1
                data = json.loads(line[6:]).get("data", {})
                if "seq" in data:
                    self.seen[data["seq"]] = (data["sent"], now)

    def close(self):
        if getattr(self, "writer", None) is not None:
            self.writer.close()


class Crowd:
    """Every client of the benchmark, on this process's event loop."""

    def __init__(self, base, run):
        parsed = urlparse(base)
        self.host, self.port, self.base, self.run = parsed.hostname, parsed.port, base, run
        self.clients, self.tasks = [], []
        self.gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)

    async def grow(self, total, last_event_id=None, deadline=SUBSCRIBE_DEADLINE):
        """Open clients until there are `total`; return when each has its response head, failed, or the deadline."""
        fresh = [SseClient() for _ in range(total - len(self.clients))]
        for client in fresh:
            self.clients.append(client)
            self.tasks.append(asyncio.create_task(
                client.open(self.host, self.port, self.run.path, self.gate, last_event_id)))
        end = time.monotonic() + deadline
        while any(c.status is None and not c.closed for c in fresh) and time.monotonic() < end:
            await asyncio.sleep(0.02)

    async def subscribed(self, count, deadline):
        """Wait until the web process counts `count` SSE clients (its /metrics gauge); return the count."""
        end = time.monotonic() + deadline
        while True:
            counted = await asyncio.to_thread(sse_clients, self.base) or 0
            if counted >= count or time.monotonic() > end:
                return counted
            await asyncio.sleep(0.1)

    async def replayed(self, history, deadline):
        """Wait until every client got the run's `history` events (so it is subscribed); return those that did not."""
        end = time.monotonic() + deadline
        while True:
            behind = [c for c in self.served() if c.events < history]
            if not behind or time.monotonic() > end or all(c.closed for c in behind):
                return behind
            await asyncio.sleep(0.05)

    async def delivered(self, seqs, deadline):
        """Wait until every live client has every seq, or the deadline; return the clients still missing some."""
        end = time.monotonic() + deadline
        while True:
            missing = [c for c in self.served() if any(s not in c.seen for s in seqs)]
            if not missing or time.monotonic() > end:
                return missing
            await asyncio.sleep(0.01)

    def served(self):
        """The clients that got a stream (the others wait in the listen backlog, were refused or failed)."""
        return [c for c in self.clients if c.status == 200]

    async def close(self):
        for client in self.clients:
            client.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
