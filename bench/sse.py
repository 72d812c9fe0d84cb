"""Benchmark SSE delivery latency and concurrent clients per web process.

    python -m bench.sse [--quick] [--clients K] [--events M] [--interval-ms MS]
                        [--stages 100,500,1000,2000,3000] [--web-connections N] [--no-write]
                        [--database NAME] [--redis-db N]

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
  `/health` still answers. The default last stages are over the web
  process's SSE_MAX_STREAMS (90% of worker_connections, so 1800) on purpose:
  the clients past it must get a 503 with Retry-After, and /health an answer.

Servers: the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)
when they answer, else the embedded ones under var/bench-sse; always the
`docg_bench_sse` database (dropped and rebuilt from the migrations) and Redis
db 9 (flushed), unless `--database` / `--redis-db` name others, broker
namespace `docg-bench-sse`. bench/api.py uses the same ones, so do not run
the two at once.

Not a test: nothing asserts on time. `bench/api.py` reuses the server and
report helpers below; the clients are in bench/sse_clients.py, the probes
of the web process and the report in bench/sse_report.py.
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

from bench import common
from tests.support import reset_servers
from bench.common import DOCS, ROOT, machine, percentile, raise_fd_limit, write_section
from bench.sse_clients import HANDSHAKES_IN_FLIGHT, SUBSCRIBE_DEADLINE, Crowd
from bench.sse_report import ADMIN_TOKEN, PROBE_TIMEOUT, health_ms, report, sse_clients, web_footprint

BENCH_DB = "docg_bench_sse"
BENCH_REDIS_DB = 9
NAMESPACE = "docg-bench-sse"
VAR_DIR = ROOT / "var" / "bench-sse"
FANOUT_DEADLINE = 15.0
HEARTBEAT_GRACE = 20.0
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
    add("--database", default=BENCH_DB, help=f"database to drop and rebuild (default {BENCH_DB})")
    add("--redis-db", type=int, default=BENCH_REDIS_DB, help=f"Redis db to flush and use (default {BENCH_REDIS_DB})")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.events, args.stages = 10, 50, "100,500"
    args.stages = [int(n) for n in args.stages.split(",") if n.strip()]
    return args


# -- servers, the web process and the report (shared with bench/api.py) -------


def prepare(web_connections=0, database=BENCH_DB, redis_db=BENCH_REDIS_DB):
    """Choose servers, rebuild our schema, flush our Redis db, configure storage; return Services."""
    import settings
    from storage import bootstrap

    db_url, redis_url = common.servers(VAR_DIR, database, redis_db)
    reset_servers(db_url, redis_url)
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
    return bootstrap.configure(settings.load())


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
    history, served_before = services.redis.xlen(run.key), len(crowd.served())
    before, began = web_footprint(worker_pid, services), time.perf_counter()
    await crowd.grow(total)
    connect = time.perf_counter() - began
    joining = len(crowd.served()) - served_before
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
    refused = sum(1 for c in crowd.clients if c.refused)
    failed = [c for c in crowd.clients if (c.error or c.closed) and not c.refused]
    unserved = sum(1 for c in crowd.clients if c.status is None and not c.closed)
    fanout = [(c.seen[s][1] - c.seen[s][0]) * 1000 for c in crowd.clients for s in seqs if s in c.seen]
    stamps = [[c.seen[s] for c in crowd.clients if s in c.seen] for s in seqs]
    whole = [max(received for _, received in pairs) - pairs[0][0] for pairs in stamps if pairs]
    row = {"clients": total, "ok": not (failed or behind or missing or unserved) and health is not None,
           "connect": connect, "settle": settle, "counted": counted, "health": health, "failed": len(failed),
           "behind": len(behind), "unserved": unserved, "missing": len(missing), "refused": refused,
           "history": history, "errors": sorted({c.error or "closed" for c in failed})[:2],
           "cpu_per_client": cpu_join / joining * 1000 if joining else None,
           "p50": percentile(fanout, 0.5) if fanout else None,
           "p99": percentile(fanout, 0.99) if fanout else None,
           "last": percentile(whole, 0.5) * 1000 if whole else None,
           **footprint}
    print(f"  {total} clients: {'ok' if row['ok'] else 'FAILED'} (joined in {settle:.1f} s, web CPU {cpu_join:.1f} s, "
          f"{unserved} got no response, {len(behind)} not subscribed, {len(missing)} missed the live event, "
          f"{len(failed)} failed, {refused} refused with 503; gauge {counted}, /health {health and round(health)} ms)",
          flush=True)
    return row


# -- report -------------------------------------------------------------------


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
    services = prepare(args.web_connections, args.database, args.redis_db)
    machine_line = machine(services)
    print(machine_line, flush=True)
    _, _, workflow = fixtures(services)
    with contextlib.ExitStack() as stack:
        web, base, worker_pid = start_web()
        stack.callback(web.stop)
        latency_rows, capacity_rows, idle = asyncio.run(measure(args, base, workflow, services, worker_pid))
    text = report(args, argv, machine_line, latency_rows, capacity_rows, idle,
                  live_events=LIVE_EVENTS, handshakes=HANDSHAKES_IN_FLIGHT)
    print("\n" + text)
    if not args.no_write:
        write_section("sse", text)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
