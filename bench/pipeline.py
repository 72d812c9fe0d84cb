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
import json
import os
import platform
import shutil
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import common
from bench.common import DOCS, with_database
from bench.pipeline_report import PACED_RATE, configuration, report, write_docs
from tests.support import ROOT, Mailbox, Process, free_port, reachable, wait_until

BENCH_DB = "docg_bench"
BENCH_REDIS_DB = 13
NAMESPACE = "docg-bench"
VAR_DIR = ROOT / "var" / "bench"
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
        from actors import flow

        held, send = [], flow.send
        flow.send = lambda envelope, phase: held.append((envelope, phase))
        try:
            yield
        finally:
            flow.send = send
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
