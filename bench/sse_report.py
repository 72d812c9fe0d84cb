"""What bench/sse.py observes of the web process, and its section of docs/benchmarks.md."""
import os
import time
from urllib.parse import urlparse

from bench.common import stamp

ADMIN_TOKEN = "bench-admin-token"
PROBE_TIMEOUT = 3.0


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


def ms(value):
    return "—" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def report(args, argv, machine_line, latency_rows, capacity_rows, idle, *, live_events, handshakes):
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
              f"{handshakes} handshakes at a time; then {live_events} live events, one at a time, go to "
              f"all. Idle worker before the stages: RSS {idle['rss']:.0f} MiB, {idle['named']} named Redis "
              "connections.", "",
              "| clients | worked | refused (503) | join: connected / replayed (s), events replayed "
              "| web CPU per joining client (ms) "
              "| live events p50 / p99, whole crowd (ms) | Redis conns named `docg-*-pid` / all to Redis | PG conns "
              "| RSS (MiB) | fds | `/health` meanwhile (ms) |",
              "|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in capacity_rows:
        worked = "yes" if r["ok"] else (f"no: {r['unserved']} got no response, {r['behind']} not subscribed, "
                                        f"{r['missing']} missed an event, {r['failed']} failed"
                                        + ("" if r["health"] is not None else ", /health did not answer"))
        if r["errors"]:
            worked += f" ({'; '.join(r['errors'])})"
        health = "no answer" if r["health"] is None else f"{r['health']:.0f}"
        lines.append(f"| {r['clients']} | {worked} | {r['refused']} | {r['connect']:.1f} / {r['settle']:.1f}, "
                     f"{r['history']} "
                     f"| {ms(r['cpu_per_client'])} | {ms(r['p50'])} / {ms(r['p99'])}, {ms(r['last'])} "
                     f"| {r['named']} / {r['redis'] if r['redis'] is not None else '—'} | {r['pg']} "
                     f"| {r['rss']:.0f} | {r['fds']} | {health} |")
    lines += ["", f"Largest stage that fully worked: **{max(good) if good else 'none'} clients**.", "",
              "How to read it: a stage *worked* when every client either got its stream (response, replay, every "
              "live event) or was refused with a 503 and Retry-After, and `/health` answered; *refused* clients are "
              "those over the web process's SSE_MAX_STREAMS (default 90% of worker_connections); *join* is the time "
              "for the stage's new clients to get their response head and then their replay (each one "
              "subscribed) of the run's events so far; *web CPU per joining client* is the worker's user + system "
              "CPU over the join divided by the clients that got a stream (— when all were refused); *live events* "
              "are XADD → each client over "
              f"(client, event) for {live_events} events sent one at a time to every client of the stage, and "
              "*whole crowd* is the median over those events of XADD → the last client: how long one event takes "
              "to reach everyone; *Redis conns* are the worker's connections named `docg-<role>-<pid>` in CLIENT "
              "LIST and all of its sockets to the Redis port; `/health` *no answer* means no reply within "
              f"{PROBE_TIMEOUT:g} s: the worker had no free gevent connection slot. Client stamps are taken in one "
              "asyncio loop of the bench process, so a crowd's latencies include reading the frames in turn."]
    return "\n".join(lines)
