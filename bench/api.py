"""Benchmark API requests/s of one web process against bare baselines.

    python -m bench.api [--quick] [--duration S] [--connections 10,50] [--python-client] [--no-write]

One real gunicorn web process (gunicorn.conf.py, gevent worker, 1 worker
process) serves DocG; a second one, same config, serves `hello_app()` below:
a bare Falcon app with one resource and nothing else. In one run, one after
the other, the load generator drives each endpoint for `--duration` seconds
over `--connections` keep-alive connections on loopback, after a short
warm-up:

- `GET /hello` on the bare app: gunicorn + gevent + Falcon, the floor;
- `GET /health`: the middleware, `SELECT 1` and two Redis pings;
- `GET /api/v1/executions/{id}`: token auth, a tenant-scoped read, the run state;
- `POST /api/v1/workflows/{id}/executions`: start a run of the 5-node sample
  workflow (rows, audit, an event XADD, the first hop enqueued; no worker
  consumes it, so runs stay queued).

The load generator is Debian's `wrk` when installed (`apt-get install wrk`),
else a small thread-per-connection Python one (much slower: it, not the
server, may be the limit). It shares the 2 cores with the server, so the
report also gives the web worker's CPU per request, which does not depend on
how much CPU the load generator takes. Not a test: nothing asserts on time,
but any non-2xx answer or socket error stops the benchmark.
"""
import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from bench.common import DOCS, ROOT, machine, percentile, stamp, write_section
from bench.sse import prepare, start_web

WARMUP_SECONDS = 2
REQUEST_TIMEOUT = 10


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--duration", type=float, default=10.0, help="seconds of load per endpoint (default 10)")
    add("--connections", default="10,50", help="concurrent keep-alive connections, one pass each (default 10,50)")
    add("--python-client", action="store_true", help="use the Python load generator even if wrk is installed")
    add("--quick", action="store_true", help="3 s per endpoint")
    add("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 3.0
    args.connections = [int(n) for n in args.connections.split(",") if n.strip()]
    return args


def hello_app():
    """Return a bare Falcon app: one JSON resource, no middleware, no database (the baseline)."""
    import falcon

    class Hello:
        def on_get(self, req, resp):
            resp.media = {"hello": "world"}

    app = falcon.App()
    app.add_route("/hello", Hello())
    return app


# -- what the requests touch --------------------------------------------------


def fixtures(services, base):
    """Create an org, the 5-node sample workflow and one run (through the API); return request specs."""
    import requests

    from cli import sample
    from storage import templates, tenancy, workflows

    with services.db.connection_context():
        organization, token = tenancy.create_organization(f"bench-{uuid.uuid4().hex[:6]}")
        template = templates.create(
            organization.id, name="contract.docx", content=sample.contract_template(),
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        body = sample.workflow(str(template.id), folder="bench/api", to=["bench@example.com"],
                               webhook_url="http://127.0.0.1:9/hooks", webhook_secret="bench")
        workflow = workflows.create(organization.id, body)
    headers = {"Authorization": f"Bearer {token}", "X-Organization-ID": str(organization.id)}
    start = {"path": f"/api/v1/workflows/{workflow.id}/executions", "method": "POST",
             "headers": {**headers, "Content-Type": "application/json"},
             "body": json.dumps({"trigger_data": sample.trigger_data()})}
    answer = requests.post(base + start["path"], data=start["body"], headers=start["headers"], timeout=10)
    answer.raise_for_status()
    read = {"path": f"/api/v1/executions/{answer.json()['execution_id']}", "method": "GET", "headers": headers}
    return workflow, read, start


# -- load generators ----------------------------------------------------------


def wrk_available():
    return shutil.which("wrk") is not None


def run_wrk(base, spec, duration, connections):
    """Drive one endpoint with wrk; return {requests, rate, p50, p99 (ms), bad}."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"wrk.method = {json.dumps(spec['method'])}\n")
        if spec.get("body"):
            script.write(f"wrk.body = {json.dumps(spec['body'])}\n")
        for name, value in spec.get("headers", {}).items():
            script.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    try:
        done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", f"--timeout={REQUEST_TIMEOUT}s",
                               "--latency", "-s", script.name,
                               base + spec["path"]], capture_output=True, text=True, timeout=duration + 30)
    finally:
        os.unlink(script.name)
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise SystemExit(f"wrk failed on {spec['path']}:\n{out}\n{done.stderr}")
    bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(n) for n in m.groups()) if m else 0
    return {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": _wrk_ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
            "p99": _wrk_ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
            "bad": bad, "errors": errors, "output": out}


def _wrk_ms(text):
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_python(base, spec, duration, connections):
    """Drive one endpoint with one thread per keep-alive connection; same result shape as run_wrk."""
    host, port = base.removeprefix("http://").split(":")
    latencies, bad, failed, lock = [], [0], [0], threading.Lock()
    body = spec.get("body", "").encode() or None
    end = time.perf_counter() + duration

    def client():
        conn, mine, statuses, errors = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT), [], 0, 0
        while time.perf_counter() < end:
            began = time.perf_counter()
            try:
                conn.request(spec["method"], spec["path"], body=body, headers=spec.get("headers", {}))
                response = conn.getresponse()
                response.read()
                statuses += response.status >= 300
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                continue
            mine.append((time.perf_counter() - began) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            bad[0] += statuses
            failed[0] += errors

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {"requests": len(latencies), "rate": len(latencies) / elapsed, "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99), "bad": bad[0], "errors": failed[0]}


# -- running ------------------------------------------------------------------


def cpu_seconds(pid):
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def measure(args, label, base, pid, spec, connections):
    """Warm up, then load one endpoint; return its row with the worker's CPU per request.

    NOTE: non-2xx answers are counted, not fatal: under load a request that
    waits too long for a pooled database connection gets a 500, and that is
    one of the things this benchmark is here to show.
    """
    drive = run_python if args.python_client or not wrk_available() else run_wrk
    drive(base, spec, WARMUP_SECONDS, connections)
    cpu = cpu_seconds(pid)
    row = drive(base, spec, args.duration, connections)
    row.update(label=label, connections=connections, cpu=(cpu_seconds(pid) - cpu) / max(row["requests"], 1) * 1000)
    print(f"  {label}, {connections} connections: {row['rate']:.0f} req/s, p50 {row['p50']:.2f} ms, "
          f"p99 {row['p99']:.2f} ms, worker CPU {row['cpu']:.2f} ms/request, {row['bad']} non-2xx, "
          f"{row['errors']} socket errors", flush=True)
    if row["bad"]:
        print(f"  WARNING: {row['bad']} answers were not 2xx; see the web log under var/bench-sse/logs", flush=True)
    return row


def started_runs(services, workflow):
    from storage.models import Execution

    with services.db.connection_context():
        return Execution.select().where(Execution.workflow == workflow.id).count()


def report(args, argv, machine_line, rows, tool):
    floors = {r["connections"]: r["rate"] for r in rows if r["label"].startswith("`GET /hello`")}
    lines = ["## API: requests/s of one web process (`bench/api.py`)", "",
             stamp("python -m bench.api", argv, machine_line), "",
             f"gunicorn.conf.py as in production (gevent worker, 1 worker process, access log on), "
             f"{tool}, keep-alive connections as shown, {args.duration:g} s per endpoint and connection count "
             f"after {WARMUP_SECONDS} s of warm-up, one at a time; `DB_POOL_SIZE` 20 (the default). Worker CPU "
             "per request is the web worker's user + system CPU over the measured window divided by the requests "
             "served.", "",
             "| endpoint | connections | requests/s | ÷ bare Falcon | p50 (ms) | p99 (ms) "
             "| worker CPU per request (ms) | requests/s per busy core | non-2xx / socket errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['label']} | {r['connections']} | {r['rate']:.0f} | {r['rate'] / floors[r['connections']]:.2f} "
              f"| {r['p50']:.1f} | {r['p99']:.1f} | {r['cpu']:.2f} | {1000 / r['cpu']:.0f} "
              f"| {r['bad']} / {r['errors']} |" for r in rows]
    lines += ["", "*Requests/s per busy core* is 1000 ÷ worker CPU per request: what the one worker process would "
              "serve with a core of its own; it moves less than requests/s when other work shares the machine. "
              "Every POST starts a run in the same organization, so they also queue on that organization's "
              "audit-chain lock (`storage/audit.py`)."]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # NOTE: so `timeout` still stops the web processes
    services = prepare()
    machine_line = machine(services)
    tool = ("`wrk` " + subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
            + " (1 thread)") if wrk_available() and not args.python_client else "the Python load generator"
    print(f"{machine_line}\nload generator: {tool}", flush=True)
    rows = []
    with contextlib.ExitStack() as stack:
        hello, hello_base, hello_pid = start_web("bench.api:hello_app()", name="hello", probe="/hello")
        stack.callback(hello.stop)
        web, base, pid = start_web()
        stack.callback(web.stop)
        workflow, read, start = fixtures(services, base)
        before = started_runs(services, workflow)
        for label, target, worker, spec in (
                ("`GET /hello`, bare Falcon app (baseline)", hello_base, hello_pid,
                 {"path": "/hello", "method": "GET"}),
                ("`GET /health` (public, SELECT 1, 2 Redis pings)", base, pid, {"path": "/health", "method": "GET"}),
                ("`GET /api/v1/executions/{id}` (authenticated)", base, pid, read),
                ("`POST /api/v1/workflows/{id}/executions` (starts a run)", base, pid, start)):
            for connections in args.connections:
                rows.append(measure(args, label, target, worker, spec, connections))
        accepted = sum(r["requests"] - r["bad"] for r in rows if r["label"].startswith("`POST"))
        created = started_runs(services, workflow) - before
        if created < accepted:
            raise SystemExit(f"{accepted} POSTs answered 202 but only {created} runs were created")
    text = report(args, argv, machine_line, rows, tool)
    print("\n" + text)
    if not args.no_write:
        write_section("api", text)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
