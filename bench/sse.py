"""Benchmark SSE delivery latency and concurrent clients per web process.

    python -m bench.sse [--quick] [--clients K] [--events M] [--interval-ms MS]
                        [--stages 100,500,1000,2000,3000] [--web-connections N] [--no-write]

One real gunicorn web process (gevent worker, 1 worker process,
gunicorn.conf.py as in production) serves every client; the clients live in
this process on one asyncio loop (stdlib only: a small HTTP/1.1 chunked SSE
reader, so thousands of connections cost a socket each). Events are written
with `EventLog.publish`, as the pipeline writes them, each carrying
`perf_counter()` at the call in `data.sent`; a client stamps a frame when
its chunk arrives, so latency is XADD -> reader -> fan-out -> socket -> client.

- latency: M events paced every `--interval-ms` to one run, read by a raw
  Redis `XREAD BLOCK` (the floor), then by 1 SSE client, then by K clients;
- capacity: clients join one run stage by stage as the run viewer does
  (stream token, no Last-Event-ID, so they replay the run's few events);
  a stage worked when every client got its response and its replay (so it
  is subscribed) and then each of `LIVE_EVENTS` live events within
  `FANOUT_DEADLINE`. Per stage it records the web worker's Redis
  connections (CLIENT LIST names `docg-*-<pid>`, and all its sockets to
  Redis), PostgreSQL sockets, RSS, file descriptors, CPU, and whether
  `/health` still answers. The default last stage, 3000, is over the
  config's worker_connections (2000) on purpose: it shows where the cap is.

Servers: the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)
when they answer, else the embedded ones under var/bench-sse; always the
`docg_bench_sse` database (dropped and rebuilt from the migrations) and Redis
db 9 (flushed), broker namespace `docg-bench-sse`. bench/api.py uses the
same ones, so do not run the two at once.

Not a test: nothing asserts on time. `bench/api.py` reuses the server and
report helpers below.
"""
import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

from bench import common
from bench.common import DOCS, ROOT, machine, percentile, raise_fd_limit, stamp, write_section  # noqa: F401

BENCH_DB = "docg_bench_sse"
BENCH_REDIS_DB = 9
NAMESPACE = "docg-bench-sse"
ADMIN_TOKEN = "bench-admin-token"
VAR_DIR = ROOT / "var" / "bench-sse"
HANDSHAKES_IN_FLIGHT = 100
SUBSCRIBE_DEADLINE = 30.0
FANOUT_DEADLINE = 15.0
HEARTBEAT_GRACE = 20.0
PROBE_TIMEOUT = 3.0
LIVE_EVENTS = 5
LIVE_GAP = 0.3


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.sse", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--clients", type=int, default=50, help="SSE clients on one run for the latency series (default 50)")
    add("--events", type=int, default=200, help="events per latency series (default 200)")
    add("--interval-ms", type=float, default=20.0, help="pause between latency events (default 20)")
    add("--stages", default="100,500,1000,2000,3000", help="clients per capacity stage (default 100,...,3000)")
    add("--web-connections", type=int, default=0, help="WEB_CONNECTIONS for gunicorn; 0 keeps the config's 2000")
    add("--quick", action="store_true", help="10 clients, 50 events, stages 100,500")
    add("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.events, args.stages = 10, 50, "100,500"
    args.stages = [int(n) for n in args.stages.split(",") if n.strip()]
    return args


# -- servers, the web process and the report (shared with bench/api.py) -------


def prepare(web_connections=0):
    """Choose servers, rebuild our schema, flush our Redis db, configure storage; return Services."""
    import redis

    import settings
    from storage import bootstrap, migrations
    from storage import db as db_module

    db_url, redis_url = common.servers(VAR_DIR, BENCH_DB, BENCH_REDIS_DB)
    database = db_module.init(db_url, max_connections=2)
    with database.connection_context():
        database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        migrations.apply(database)
    database.close_all()
    redis.Redis.from_url(redis_url).flushdb()
    os.environ.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "BROKER_NAMESPACE": NAMESPACE,
        "VAR_DIR": str(VAR_DIR), "STORAGE_ROOT": str(VAR_DIR / "files"), "SECRET_KEY": "bench-secret",
        "ADMIN_TOKEN": ADMIN_TOKEN,
    })
    if web_connections:
        os.environ["WEB_CONNECTIONS"] = str(web_connections)
    else:
        os.environ.pop("WEB_CONNECTIONS", None)
    raise_fd_limit()
    return bootstrap.configure(settings.load(start_embedded=False))


def start_web(app="web.wsgi:app", name="web", probe="/health"):
    return common.start_web(VAR_DIR, app=app, name=name, probe=probe)


def fixtures(services):
    """Create an organization with a token and an empty workflow; return (org id, token, workflow)."""
    from storage import tenancy, workflows

    with services.db.connection_context():
        organization, token = tenancy.create_organization(f"bench-{uuid.uuid4().hex[:6]}")
        workflow = workflows.create(organization.id, {"name": "bench sse", "nodes": []})
    return str(organization.id), token, workflow


# -- the run being watched ----------------------------------------------------


class WatchedRun:
    """One execution row whose stream the clients follow; publishes stamped events."""

    def __init__(self, services, workflow, secret):
        from storage import executions
        from web.auth import sign_stream_token

        with services.db.connection_context():
            self.execution, batch = executions.create(workflow, nodes=[], trigger_data={"bench": True})
            batch.flush()
        self.events, self.redis = services.events, services.redis
        self.key = f"docg:exec:{self.execution.id}"
        token = sign_stream_token(secret, self.execution.organization_id, self.execution.id, ttl=3600)
        self.path = f"/api/v1/sse/executions/{self.execution.id}/stream?token={token}"

    def tip(self):
        newest = self.redis.xrevrange(self.key, count=1)
        return newest[0][0].decode() if newest else "0-0"

    def publish(self, seq):
        from storage import events

        event = events.build(self.execution, "execution.progress", {"seq": seq})
        event["data"]["sent"] = time.perf_counter()
        self.events.publish([event])

    def publish_paced(self, seqs, interval):
        """Publish `seqs` from a thread, one every `interval` seconds; return the thread."""
        def run():
            began = time.perf_counter()
            for i, seq in enumerate(seqs):
                time.sleep(max(0.0, began + i * interval - time.perf_counter()))
                self.publish(seq)

        thread = threading.Thread(target=run, name="publisher", daemon=True)
        thread.start()
        return thread


# -- the clients --------------------------------------------------------------


class SseClient:
    """One SSE connection over asyncio streams; keeps (sent, received) per event seq."""

    def __init__(self):
        self.seen = {}
        self.events = 0
        self.status = None
        self.error = None
        self.closed = False

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
        """The clients that got a response head (the others wait in the listen backlog or failed)."""
        return [c for c in self.clients if c.status is not None]

    async def close(self):
        for client in self.clients:
            client.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def sse_clients(base, timeout=10):
    """Return the web process's `docg_sse_clients` gauge, or None when it does not answer in time."""
    import requests

    try:
        text = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                            timeout=timeout).text
    except requests.RequestException:
        return None
    line = next(line for line in text.splitlines() if line.startswith("docg_sse_clients "))
    return int(float(line.split()[1]))


def health_ms(base, timeout=PROBE_TIMEOUT):
    """Return how long GET /health takes now (ms), or None when it does not answer in time."""
    import requests

    began = time.perf_counter()
    try:
        ok = requests.get(f"{base}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return None
    return (time.perf_counter() - began) * 1000 if ok else None


# -- part (a): delivery latency -----------------------------------------------


def raw_redis_series(run, seqs, interval):
    """The floor: one raw `XREAD BLOCK` reader in a thread, on the same stream."""
    import redis

    reader = redis.Redis.from_url(os.environ["REDIS_URL"])
    seen, cursor, ready = {}, run.tip(), threading.Event()

    def read():
        nonlocal cursor
        ready.set()
        while len(seen) < len(seqs):
            for _, entries in reader.xread({run.key: cursor}, block=5000) or []:
                now = time.perf_counter()
                for entry_id, fields in entries:
                    cursor = entry_id
                    data = json.loads(fields[b"event"])["data"]
                    seen[data["seq"]] = (data["sent"], now)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    ready.wait()
    time.sleep(0.2)
    run.publish_paced(seqs, interval).join()
    thread.join(10)
    reader.close()
    return [(received - sent) * 1000 for sent, received in seen.values()]


async def sse_series(crowd, run, clients, seqs, interval):
    """Grow `crowd` to `clients` resuming at the run's tip; return latencies (ms) over (client, event)."""
    await crowd.grow(clients, last_event_id=run.tip())
    counted = await crowd.subscribed(clients, SUBSCRIBE_DEADLINE)
    if counted < clients or any(c.error for c in crowd.clients):
        raise SystemExit(f"latency series: {counted}/{clients} subscribed; "
                         f"errors: {[c.error for c in crowd.clients if c.error][:3]}")
    await asyncio.to_thread(lambda: run.publish_paced(seqs, interval).join())
    missing = await crowd.delivered(seqs, FANOUT_DEADLINE)
    if missing:
        raise SystemExit(f"latency series: {len(missing)} of {clients} clients missed events")
    return [(received - sent) * 1000 for c in crowd.clients for sent, received in (c.seen[s] for s in seqs)]


async def latency(args, base, workflow, services):
    """The raw floor, then one crowd on one run: 1 client, then grown to K; return table rows."""
    interval, rows = args.interval_ms / 1000, []
    run = WatchedRun(services, workflow, services.settings.secret_key)
    crowd = Crowd(base, run)
    try:
        for label, clients in (("raw Redis XREAD BLOCK (floor)", 0), ("SSE, 1 client", 1),
                               (f"SSE, {args.clients} clients on one run", args.clients)):
            seqs = list(range(len(rows) * args.events, (len(rows) + 1) * args.events))
            if clients:
                values = await sse_series(crowd, run, clients, seqs, interval)
            else:
                values = await asyncio.to_thread(raw_redis_series, run, seqs, interval)
            rows.append((label, len(values), percentile(values, 0.5), percentile(values, 0.99), max(values)))
            print(f"  {label}: p50 {rows[-1][2]:.2f} ms, p99 {rows[-1][3]:.2f} ms", flush=True)
    finally:
        await crowd.close()
    await drained(crowd, run)
    return rows


async def drained(crowd, run):
    """Make the web process notice the closed clients: it only does when a write to them fails."""
    end = time.monotonic() + HEARTBEAT_GRACE
    while time.monotonic() < end:
        await asyncio.to_thread(run.publish, -1)
        if await asyncio.to_thread(sse_clients, crowd.base) == 0:
            return
        await asyncio.sleep(0.2)
    raise SystemExit("the web process still counts SSE clients that closed")


# -- part (b): concurrent clients ---------------------------------------------


def web_footprint(worker_pid, services):
    """Return what the web worker holds: Redis connections (named, all), PG sockets, RSS, fds, CPU."""
    import psutil

    worker = psutil.Process(worker_pid)
    named = [c for c in services.redis.client_list() if c.get("name", "").startswith("docg-")
             and c["name"].endswith(f"-{worker_pid}")]
    redis_port = urlparse(services.settings.redis_url).port
    sockets = worker.net_connections(kind="all")
    to_port = lambda port: sum(1 for c in sockets if c.raddr and getattr(c.raddr, "port", None) == port)  # noqa: E731
    times = worker.cpu_times()
    return {"named": len(named), "roles": sorted({c["name"].split("-")[1] for c in named}),
            "redis": to_port(redis_port) if redis_port else None, "pg": to_port(5432),
            "rss": worker.memory_info().rss / 2**20, "fds": worker.num_fds(), "cpu": times.user + times.system}


async def capacity(args, base, workflow, services, worker_pid):
    """Grow a crowd on one run stage by stage; stop after the first stage that does not fully work."""
    run = WatchedRun(services, workflow, services.settings.secret_key)
    crowd, rows = Crowd(base, run), []
    try:
        for stage, total in enumerate(args.stages):
            rows.append(await grow_stage(crowd, total, 1_000_000 * (stage + 1), services, worker_pid))
            if not rows[-1]["ok"]:
                break
    except BaseException:
        await crowd.close()
        raise
    return crowd, rows


async def grow_stage(crowd, total, seq, services, worker_pid):
    """Add clients up to `total`, send one live event to all; return what happened."""
    run, base = crowd.run, crowd.base
    history, joining = services.redis.xlen(run.key), total - len(crowd.clients)
    before, began = web_footprint(worker_pid, services), time.perf_counter()
    await crowd.grow(total)
    connect = time.perf_counter() - began
    behind = await crowd.replayed(history, SUBSCRIBE_DEADLINE)
    settle = time.perf_counter() - began
    cpu_join = web_footprint(worker_pid, services)["cpu"] - before["cpu"]
    seqs, missing = [seq + i for i in range(LIVE_EVENTS)], set()
    for one in seqs:
        await asyncio.to_thread(run.publish, one)
        missing.update(await crowd.delivered([one], FANOUT_DEADLINE))
        await asyncio.sleep(LIVE_GAP)
    footprint = web_footprint(worker_pid, services)
    counted = await asyncio.to_thread(sse_clients, base, PROBE_TIMEOUT)
    health = await asyncio.to_thread(health_ms, base)
    failed = [c for c in crowd.clients if c.error or c.closed]
    unserved = sum(1 for c in crowd.clients if c.status is None and not c.closed)
    fanout = [(c.seen[s][1] - c.seen[s][0]) * 1000 for c in crowd.clients for s in seqs if s in c.seen]
    stamps = [[c.seen[s] for c in crowd.clients if s in c.seen] for s in seqs]
    whole = [max(received for _, received in pairs) - pairs[0][0] for pairs in stamps if pairs]
    row = {"clients": total, "ok": not (failed or behind or missing or unserved), "connect": connect,
           "settle": settle, "counted": counted, "health": health, "failed": len(failed), "behind": len(behind),
           "unserved": unserved, "missing": len(missing), "errors": sorted({c.error or "closed" for c in failed})[:2],
           "cpu_per_client": cpu_join / joining * 1000, "p50": percentile(fanout, 0.5) if fanout else None,
           "p99": percentile(fanout, 0.99) if fanout else None,
           "last": percentile(whole, 0.5) * 1000 if whole else None,
           **footprint}
    print(f"  {total} clients: {'ok' if row['ok'] else 'FAILED'} (joined in {settle:.1f} s, web CPU {cpu_join:.1f} s, "
          f"{unserved} got no response, {len(behind)} not subscribed, {len(missing)} missed the live event, "
          f"{len(failed)} failed; gauge {counted}, /health {health and round(health)} ms)", flush=True)
    return row


# -- report -------------------------------------------------------------------


def ms(value):
    return "—" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def report(args, argv, machine_line, latency_rows, capacity_rows, idle):
    good = [r["clients"] for r in capacity_rows if r["ok"]]
    lines = ["## SSE: delivery latency and concurrent clients (`bench/sse.py`)", "",
             stamp("python -m bench.sse", argv, machine_line), "",
             f"Delivery latency, XADD (`EventLog.publish`) → client, {args.events} events paced every "
             f"{args.interval_ms:g} ms, clients resuming at the stream's tip:", "",
             "| reader | samples | p50 (ms) | p99 (ms) | max (ms) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {label} | {n} | {ms(p50)} | {ms(p99)} | {ms(top)} |" for label, n, p50, p99, top in latency_rows]
    lines += ["", f"Concurrent clients on one run, one web process (gevent, 1 worker, worker_connections "
              f"{os.environ.get('WEB_CONNECTIONS', '2000 as in gunicorn.conf.py')}). Clients join as the run viewer "
              "does (stream token, no Last-Event-ID: they replay the run's few events), at most "
              f"{HANDSHAKES_IN_FLIGHT} handshakes at a time; then {LIVE_EVENTS} live events, one at a time, go to "
              f"all. Idle worker before the stages: RSS {idle['rss']:.0f} MiB, {idle['named']} named Redis "
              "connections.", "",
              "| clients | worked | join: connected / replayed (s) | web CPU per joining client (ms) "
              "| live events p50 / p99, whole crowd (ms) | Redis conns named `docg-*-pid` / all to Redis | PG conns "
              "| RSS (MiB) | fds | `/health` meanwhile (ms) |",
              "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in capacity_rows:
        worked = "yes" if r["ok"] else (f"no: {r['unserved']} got no response, {r['behind']} not subscribed, "
                                        f"{r['missing']} missed an event, {r['failed']} failed")
        if r["errors"]:
            worked += f" ({'; '.join(r['errors'])})"
        health = "no answer" if r["health"] is None else f"{r['health']:.0f}"
        lines.append(f"| {r['clients']} | {worked} | {r['connect']:.1f} / {r['settle']:.1f} "
                     f"| {r['cpu_per_client']:.1f} | {ms(r['p50'])} / {ms(r['p99'])}, {ms(r['last'])} "
                     f"| {r['named']} / {r['redis'] if r['redis'] is not None else '—'} | {r['pg']} "
                     f"| {r['rss']:.0f} | {r['fds']} | {health} |")
    lines += ["", f"Largest stage that fully worked: **{max(good) if good else 'none'} clients**.", "",
              "How to read it: *join* is the time for the stage's new clients to get their response head and then "
              "their replay (each one subscribed); *web CPU per joining client* is the worker's user + system CPU "
              "over the join divided by the clients that joined; *live events* are XADD → each client over "
              f"(client, event) for {LIVE_EVENTS} events sent one at a time to every client of the stage, and "
              "*whole crowd* is the median over those events of XADD → the last client: how long one event takes "
              "to reach everyone; *Redis conns* are the worker's connections named `docg-<role>-<pid>` in CLIENT "
              "LIST and all of its sockets to the Redis port; `/health` *no answer* means no reply within "
              f"{PROBE_TIMEOUT:g} s: the worker had no free gevent connection slot. Client stamps are taken in one "
              "asyncio loop of the bench process, so a crowd's latencies include reading the frames in turn."]
    return "\n".join(lines)


async def measure(args, base, workflow, services, worker_pid):
    print("latency:", flush=True)
    latency_rows = await latency(args, base, workflow, services)
    idle = web_footprint(worker_pid, services)
    print("capacity:", flush=True)
    crowd, capacity_rows = await capacity(args, base, workflow, services, worker_pid)
    await crowd.close()
    return latency_rows, capacity_rows, idle


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # NOTE: so `timeout` still stops the web process
    services = prepare(args.web_connections)
    machine_line = machine(services)
    print(machine_line, flush=True)
    _, _, workflow = fixtures(services)
    with contextlib.ExitStack() as stack:
        web, base, worker_pid = start_web()
        stack.callback(web.stop)
        latency_rows, capacity_rows, idle = asyncio.run(measure(args, base, workflow, services, worker_pid))
    text = report(args, argv, machine_line, latency_rows, capacity_rows, idle)
    print("\n" + text)
    if not args.no_write:
        write_section("sse", text)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
