"""Benchmark the 5-node local workflow against a raw 5-actor Dramatiq chain.

    python -m bench.pipeline [--quick] [--executions N] [--processes P] [--threads T]
                             [--worker-timeout-ms MS] [--prefetch K] [--db-pool K] [--no-write]

One `dramatiq actors bench.rawchain` worker run serves both sides, so they
share the broker, processes, threads and environment. Each side runs, the
chain first, under two loads:

- burst: N runs whose first hops are sent all at once; executions/s is N
  over the window from that send to the last run's completion;
- paced: a few runs started at PACED_RATE per second, far under capacity,
  so latency is dispatch and work rather than waiting behind other runs.

A run's trace is its start, a (started, finished) pair per hop and its
completion: DocG's from what it records (workflow_executions,
execution_steps), the chain's from stamps its actors carry. hop gap = hop k
finished -> hop k+1 started (commit, enqueue, queue wait, fetch, dispatch,
claim); hop time = hop started -> finished; end-to-end = start -> completed.
Not a test: nothing asserts on time, but a run that does not end `completed`
stops the benchmark.
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import common
from bench.common import DOCS, ms, percentile, revision, with_database
from tests.support import ROOT, Mailbox, Process, free_port, reachable, wait_until

BENCH_DB = "docg_bench"
BENCH_REDIS_DB = 13
NAMESPACE = "docg-bench"
VAR_DIR = ROOT / "var" / "bench"
HOPS = 5
PACED_RATE = 5.0
WARMUP_RUNS = 5
STALL_SECONDS = 90


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--executions", type=int, default=200, help="runs per side in the burst (default 200)")
    add("--processes", type=int, default=1, help="dramatiq worker processes (default 1)")
    add("--threads", type=int, default=8, help="threads per worker process (default 8)")
    add("--worker-timeout-ms", type=int, default=100,
        help="dramatiq_worker_timeout, the longest idle poll sleep (default 100, as in the Procfile)")
    add("--prefetch", type=int, default=0, help="dramatiq_queue_prefetch; 0 keeps Dramatiq's 2 x threads")
    add("--db-pool", type=int, default=0, help="DB_POOL_SIZE; 0 keeps the setting's default (20)")
    add("--quick", action="store_true", help="20 runs per side instead of 200")
    add("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.executions = 20
    return args


def configuration(args):
    prefetch = args.prefetch or f"default ({2 * args.threads})"
    return (f"N={args.executions}, {args.processes} process(es) × {args.threads} threads, "
            f"worker_timeout={args.worker_timeout_ms} ms, prefetch={prefetch}, "
            f"DB_POOL_SIZE={args.db_pool or 'default (20)'}")


# -- servers ------------------------------------------------------------------


def servers():
    """Return (database_url, redis_url, ours); only servers of our own choosing get wiped."""
    from storage import embedded

    db_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    ours = not db_url and not redis_url
    if not db_url:
        if reachable("127.0.0.1", 5432):
            admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            admin = with_database(embedded.ensure_postgres(VAR_DIR), "postgres")
        embedded.create_database_if_missing(admin, BENCH_DB)
        db_url = with_database(admin, BENCH_DB)
    if not redis_url:
        redis_url = common.servers(VAR_DIR, BENCH_DB, BENCH_REDIS_DB)[1]
    return db_url, redis_url, ours


def reset(db_url, redis_url, *, ours):
    """Rebuild our schema from the migrations (or only migrate a given one) and clear the queues."""
    import redis

    from storage import db as db_module
    from storage import migrations

    database = db_module.init(db_url, max_connections=2)
    with database.connection_context():
        if ours:
            database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        migrations.apply(database)
    database.close_all()
    client = redis.Redis.from_url(redis_url)
    if ours:
        client.flushdb()
    else:
        for key in client.scan_iter(f"{NAMESPACE}*"):
            client.delete(key)


def configure_environment(args, db_url, redis_url, smtp_port):
    """Put the bench settings in os.environ, read by this process and the worker."""
    files = VAR_DIR / "files"
    shutil.rmtree(files, ignore_errors=True)
    os.environ.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "BROKER_NAMESPACE": NAMESPACE,
        "VAR_DIR": str(VAR_DIR), "STORAGE_ROOT": str(files), "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "dramatiq_worker_timeout": str(args.worker_timeout_ms),
    })
    for name, value in (("dramatiq_queue_prefetch", args.prefetch), ("DB_POOL_SIZE", args.db_pool)):
        if value:
            os.environ[name] = str(value)
        else:
            os.environ.pop(name, None)


# -- what the workflow talks to -----------------------------------------------


class HttpSink:
    """A threaded HTTP server that answers 200 to every POST and counts them."""

    def __init__(self):
        sink, self.count, self.lock = self, 0, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.lock:
                    sink.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/docg"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# -- the two sides ------------------------------------------------------------


class Docg:
    """Runs of the 5-node local workflow, started the way the API starts them."""

    title = "DocG"

    def __init__(self, services, webhook_url):
        from cli import sample
        from storage import templates, tenancy

        self.db, self.sample, self.webhook_url = services.db, sample, webhook_url
        with self.db.connection_context():
            organization, _ = tenancy.create_organization(f"bench-{uuid.uuid4().hex[:6]}")
            self.template = templates.create(
                organization.id, name="contract.docx", content=sample.contract_template(),
                content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        self.organization_id, self.workflow, self.released = organization.id, None, None

    @contextlib.contextmanager
    def holding(self):
        """Hold back the first hops of the runs started in the block; send them together at the end.

        NOTE: creating a run costs the bench process about as much CPU as a hop costs the worker.
        Without holding, a burst would be paced by creation and share the CPU with it; the chain's
        runs cost nothing to create, so both sides would not get the same burst.
        """
        from actors import pipeline

        held, send = [], pipeline.send
        pipeline.send = lambda envelope, phase: held.append((envelope, phase))
        try:
            yield
        finally:
            pipeline.send = send
        self.released = time.time()
        for envelope, phase in held:
            send(envelope, phase)

    def begin(self, name):
        """Create a fresh workflow for this batch; return how to start one run of it."""
        from actors import pipeline
        from storage import workflows

        self.released = None
        body = self.sample.workflow(str(self.template.id), folder=f"bench/{name}", to=["bench@example.com"],
                                    webhook_url=self.webhook_url, webhook_secret="bench")
        with self.db.connection_context():
            self.workflow = workflows.create(self.organization_id, {**body, "name": f"bench {name}"})

        def start_one(i):
            with self.db.connection_context():
                pipeline.start(self.workflow, trigger_data={**self.sample.trigger_data(), "deal_id": f"{name}-{i}"})

        return start_one

    def ended(self):
        from storage.models import Execution
        from storage.runstate import TERMINAL

        with self.db.connection_context():
            return Execution.select().where((Execution.workflow == self.workflow.id)
                                            & Execution.status.in_(sorted(TERMINAL))).count()

    def traces(self):
        """Read the batch's runs back; every one must have completed."""
        from storage.models import Execution, ExecutionStep

        with self.db.connection_context():
            runs = list(Execution.select().where(Execution.workflow == self.workflow.id))
            steps = list(ExecutionStep.select().join(Execution)
                         .where(Execution.workflow == self.workflow.id).order_by(ExecutionStep.position))
        failed = [run for run in runs if run.status != "completed"]
        if failed:
            raise SystemExit(f"{len(failed)} of {len(runs)} DocG runs did not complete; first: "
                             f"{failed[0].id} {failed[0].status} {failed[0].last_error_tech}")
        by_run = {run.id: [] for run in runs}
        for step in steps:
            by_run[step.execution_id].append(step)
        return [{"created": max(run.created_at.timestamp(), self.released or 0),
                 "completed": run.completed_at.timestamp(),
                 "hops": [(s.started_at.timestamp(), s.completed_at.timestamp()) for s in by_run[run.id]],
                 "nodes": [(s.label, s.node_type, s.duration_ms, s.attempt) for s in by_run[run.id]]}
                for run in runs]


class RawChain:
    """Runs of the five no-op actors of bench.rawchain."""

    title = "raw chain"

    def __init__(self, services):
        self.redis, self.key = services.redis, None

    def holding(self):
        return contextlib.nullcontext()

    def begin(self, name):
        from bench import rawchain

        batch = f"{name}-{uuid.uuid4().hex[:8]}"
        self.key = rawchain.results_key(batch)
        return lambda i: rawchain.start(batch, str(i))

    def ended(self):
        return self.redis.hlen(self.key)

    def traces(self):
        records = [json.loads(value) for value in self.redis.hvals(self.key)]
        self.redis.delete(self.key)
        return [{"created": r["created"], "completed": r["completed"], "hops": r["trace"]} for r in records]


# -- running ------------------------------------------------------------------


def start_worker(args):
    logs = VAR_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    worker = Process("bench-worker", [sys.executable, "-m", "dramatiq", "actors", "bench.rawchain",
                                      "--processes", str(args.processes), "--threads", str(args.threads),
                                      "--worker-shutdown-timeout", "15000"], logs).start()
    wait_until(lambda: worker.log().count("Worker process is ready") >= args.processes
               or worker.proc.poll() is not None, 90, message="worker ready")
    if worker.proc.poll() is not None:
        raise SystemExit(f"worker exited early:\n{worker.log()[-3000:]}")
    return worker


def worker_cpu(worker):
    """Return the CPU seconds used so far by the worker and its forked processes."""
    import psutil

    root = psutil.Process(worker.proc.pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def measure(side, name, count, rate, worker):
    """Start `count` runs at once (rate None) or at `rate`/s, wait for all; return what happened.

    A run's creation time is when its first hop was sent (for a held DocG burst, the release).
    """
    start_one = side.begin(name)
    cpu, began = worker_cpu(worker), time.monotonic()
    with side.holding() if rate is None else contextlib.nullcontext():
        for i in range(count):
            if rate:
                time.sleep(max(0.0, began + i / rate - time.monotonic()))
            start_one(i)
    enqueue = time.monotonic() - began
    last, moved = -1, time.monotonic()
    while (done := side.ended()) < count:
        if done != last:
            last, moved = done, time.monotonic()
        if worker.proc.poll() is not None or time.monotonic() - moved > STALL_SECONDS:
            raise SystemExit(f"{side.title} {name}: {done}/{count} runs ended, then nothing for "
                             f"{STALL_SECONDS}s (worker log: {worker.log_path})\n{worker.log()[-3000:]}")
        time.sleep(0.2)
    return {"traces": side.traces(), "enqueue": enqueue, "cpu": worker_cpu(worker) - cpu}


def run(args, docg, raw, worker):
    """Warm both sides up, then burst and pace each; return {load: {side: measurement}}."""
    measure(docg, "warmup", WARMUP_RUNS, None, worker)
    measure(raw, "warmup", WARMUP_RUNS * 4, None, worker)
    paced = max(10, args.executions // 10)
    results = {load: {} for load in ("burst", "paced")}
    for load, count, rate in (("burst", args.executions, None), ("paced", paced, PACED_RATE)):
        for key, side in (("raw", raw), ("docg", docg)):
            results[load][key] = measure(side, load, count, rate, worker)
    return results, WARMUP_RUNS + args.executions + paced


# -- numbers ------------------------------------------------------------------


def summarize(measurement):
    """Return executions/s, worker CPU per run and (p50, p99) latencies in ms."""
    traces = measurement["traces"]
    if any(len(trace["hops"]) != HOPS for trace in traces):
        raise SystemExit(f"a run recorded a number of hops other than {HOPS}")
    window = max(t["completed"] for t in traces) - min(t["created"] for t in traces)
    series = {
        "end_to_end": [t["completed"] - t["created"] for t in traces],
        "gap": [b[0] - a[1] for t in traces for a, b in zip(t["hops"], t["hops"][1:])],
        "hop": [end - start for t in traces for start, end in t["hops"]],
    }
    out = {"rate": len(traces) / window, "cpu": measurement["cpu"] / len(traces) * 1000}
    for name, values in series.items():
        out[name] = (percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000)
    return out


def _times(docg, raw):
    """DocG as a multiple of the chain; under 1 ms the chain does nothing and a ratio means nothing."""
    return f"{docg / raw:.1f}×" if raw >= 1 else "—"


def results_table(results):
    lines = ["| | DocG 5-node workflow | raw 5-actor chain | DocG ÷ raw |", "|---|---:|---:|---:|"]
    for load, label in (("burst", "burst"), ("paced", f"paced {PACED_RATE:g}/s")):
        docg, raw = summarize(results[load]["docg"]), summarize(results[load]["raw"])
        if load == "burst":
            lines.append(f"| burst: executions/s | {docg['rate']:.1f} | {raw['rate']:.1f} "
                         f"| {docg['rate'] / raw['rate']:.3f} |")
            lines.append(f"| burst: worker CPU per execution (ms) | {docg['cpu']:.1f} | {raw['cpu']:.1f} "
                         f"| {_times(docg['cpu'], raw['cpu'])} |")
        for key, what in (("end_to_end", "end-to-end"), ("gap", "hop gap"), ("hop", "hop time")):
            (d50, d99), (r50, r99) = docg[key], raw[key]
            lines.append(f"| {label}: {what} p50 / p99 (ms) | {ms(d50)} / {ms(d99)} | {ms(r50)} / {ms(r99)} "
                         f"| {_times(d50, r50)} / {_times(d99, r99)} |")
    return "\n".join(lines)


def node_table(traces):
    """Per node: the gap before it, its hop time, the node's own work and the rest (bookkeeping)."""
    lines = ["| node | gap before (ms) | hop time (ms) | node work (ms) | bookkeeping (ms) |",
             "|---|---:|---:|---:|---:|"]
    for i in range(HOPS):
        label, node_type = traces[0]["nodes"][i][:2]
        gap = percentile([t["hops"][i][0] - (t["hops"][i - 1][1] if i else t["created"]) for t in traces], 0.5)
        hop = percentile([t["hops"][i][1] - t["hops"][i][0] for t in traces], 0.5) * 1000
        work = percentile([t["nodes"][i][2] for t in traces], 0.5)
        lines.append(f"| {i + 1}. {label} ({node_type}) | {gap * 1000:.1f}{' ¹' if not i else ''} "
                     f"| {hop:.1f} | {work:.1f} | {hop - work:.1f} |")
    return "\n".join(lines)


def report(args, argv, results, machine):
    burst, docg_paced = results["burst"], results["paced"]["docg"]["traces"]
    retried = sum(n[3] > 1 for load in results.values() for t in load["docg"]["traces"] for n in t["nodes"])
    return "\n".join([
        f"#### {configuration(args)}", "",
        f"`{' '.join(['python -m bench.pipeline', *argv])}` at `{revision()}` — "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {machine}.", "",
        results_table(results), "",
        f"Burst: the bench process created the DocG runs with `pipeline.start` in "
        f"{burst['docg']['enqueue']:.2f} s, holding their first hops back, then sent those together; "
        f"it sent the chain's first hops in {burst['raw']['enqueue']:.2f} s. DocG steps retried: {retried}.", "",
        "DocG per node, paced (p50):", "", node_table(docg_paced), "",
        "¹ from the run's creation, so it includes `pipeline.start`'s transaction and enqueue.",
    ])


def write_docs(args, text):
    """Replace this configuration's section of docs/benchmarks.md, or add one.

    A new section goes after the last section of ours, else after the
    `<!-- bench/pipeline -->` anchor, else at the end. NOTE: other benchmarks
    own the rest of the file, so it is rewritten with one atomic rename.
    """
    block = f"<!-- bench/pipeline: {configuration(args)} -->\n{text}\n<!-- /bench/pipeline -->"
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    mine = re.compile(rf"<!-- bench/pipeline: {re.escape(configuration(args))} -->.*?<!-- /bench/pipeline -->", re.S)
    if mine.search(current):
        updated = mine.sub(lambda _: block, current)
    else:
        after = max(current.rfind("<!-- /bench/pipeline -->"), current.find("<!-- bench/pipeline -->"))
        cut = current.index("-->", after) + 3 if after >= 0 else len(current.rstrip("\n"))
        tail = current[cut:].lstrip("\n")
        updated = f"{current[:cut]}\n\n{block}\n" + (f"\n{tail}" if tail else "")
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    temporary = DOCS.with_name(f".{DOCS.name}.{os.getpid()}.tmp")
    temporary.write_text(updated)
    os.replace(temporary, DOCS)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    db_url, redis_url, ours = servers()
    reset(db_url, redis_url, ours=ours)
    with contextlib.ExitStack() as stack:
        mailbox = Mailbox(free_port()).start()
        stack.callback(mailbox.stop)
        http = stack.enter_context(HttpSink())
        configure_environment(args, db_url, redis_url, mailbox.port)
        from actors import broker as docg_broker  # NOTE: reads the settings just put in os.environ

        services = docg_broker.services
        with services.db.connection_context():
            postgres = services.db.execute_sql("SHOW server_version").fetchone()[0].split()[0]
        machine = (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL {postgres}, "
                   f"Redis {services.redis.info('server')['redis_version']}, "
                   f"1-minute load average before the run {os.getloadavg()[0]:.1f}")
        print(f"{configuration(args)}\n{machine}", flush=True)
        worker = start_worker(args)
        stack.callback(worker.stop)
        results, docg_runs = run(args, Docg(services, http.url), RawChain(services), worker)
        emails = len(mailbox.messages())
        if (emails, http.count) != (docg_runs, docg_runs):
            raise SystemExit(f"{docg_runs} DocG runs completed but {emails} emails and {http.count} "
                             "webhook calls arrived")
    text = report(args, argv, results, machine)
    print("\n" + text)
    if not args.no_write:
        write_docs(args, text)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
