"""Benchmark DocG's hops against a raw 5-actor Dramatiq chain and DBOS, side by side (issue 11).

    python -m bench.pipeline [--quick] [--repeats R] [--executions N] [--processes P] [--threads T]
                             [--worker-timeout-ms MS] [--prefetch K] [--db-pool K] [--sweep]
                             [--no-dbos] [--database NAME] [--redis-db N] [--no-write]

One `dramatiq actors bench.rawchain` worker run serves three configurations,
so they share the broker, processes, threads and environment:

- raw: the raw chain of bench/rawchain.py, Dramatiq's floor;
- noop: DocG running five `bench-noop` nodes (bench/noop.py), its bookkeeping alone;
- real: DocG running the 5-node local workflow (`cli/sample.py: workflow()`);
- dbos: when `make bench-peers` built var/bench-peers/venv, bench/dbos_peer.py
  runs DBOS Transact's 5-step queued workflow on the same PostgreSQL, in the
  same rotation (its own processes; ours sit idle meanwhile).

Repetitions are interleaved (raw, noop, real, dbos, raw, noop, …) and each
figure is the median over them. Each repetition is a burst (N runs whose first
hops are sent at once: runs/s, and per run the worker's CPU, its PostgreSQL
backends' CPU, its SQL statements and the Redis server's commands) and a paced
load (runs at PACED_RATE/s, far under capacity: end-to-end and hop gap).
Not a test: nothing asserts on time, but a run that does not end `completed`
stops the benchmark.
"""
import argparse
import contextlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from urllib.parse import urlparse

from bench import common, procstat, sqlcount
from bench.common import DOCS, with_database
from bench.pipeline_report import PACED_RATE, configuration, report, sweep_report
from bench.pipeline_sides import Docg, HttpSink, RawChain
from tests.support import ROOT, Mailbox, Process, free_port, reachable, wait_until

BENCH_DB = os.environ.get("DOCG_BENCH_DB", "docg_bench")
BENCH_REDIS_DB = int(os.environ.get("DOCG_BENCH_REDIS_DB", "13"))
NAMESPACE = "docg-bench"
VAR_DIR = ROOT / "var" / "bench"
COUNTS_DIR = VAR_DIR / "sqlcount"
PEER_PYTHON = ROOT / "var" / "bench-peers" / "venv" / "bin" / "python"
PEER_READY = ROOT / "var" / "bench-peers" / "venv" / ".installed"  # written last by `make bench-peers`
PEER_RESULTS = ROOT / "var" / "bench-peers" / "dbos.json"
WARMUP_RUNS = 5
STALL_SECONDS = 90
SWEEP = ((1, 8), (1, 4), (2, 4), (2, 8))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--executions", type=int, default=200, help="runs per configuration in a burst (default 200)")
    add("--repeats", type=int, default=3, help="interleaved repetitions; figures are their median (default 3)")
    add("--processes", type=int, default=2, help="dramatiq worker processes (default 2, as in the Procfile)")
    add("--threads", type=int, default=4, help="threads per worker process (default 4, as in the Procfile)")
    add("--worker-timeout-ms", type=int, default=100,
        help="dramatiq_worker_timeout, the longest idle poll sleep (default 100, as in the Procfile)")
    add("--prefetch", type=int, default=0, help="dramatiq_queue_prefetch; 0 keeps Dramatiq's 2 x threads")
    add("--db-pool", type=int, default=0, help="DB_POOL_SIZE; 0 keeps the setting's default (20)")
    add("--org-max-inflight", type=int, default=0,
        help="ORG_MAX_INFLIGHT (default 0, no limit: every bench run belongs to one organization, which the "
        "default limit of 4 would pace on purpose; bench/fairness.py measures that)")
    add("--dbos-processes", type=int, default=2, help="DBOS processes (default 2, its best seen here)")
    add("--dbos-workers", type=int, default=8, help="DBOS queue worker_concurrency per process (default 8)")
    add("--no-dbos", action="store_true", help="leave DBOS out even when var/bench-peers/venv exists")
    add("--sweep", action="store_true", help="measure the no-op workflow at 1×8, 1×4, 2×4, 2×8 instead")
    add("--database", default=BENCH_DB, help=f"bench database, dropped and rebuilt (default {BENCH_DB}; "
        "env DOCG_BENCH_DB)")
    add("--redis-db", type=int, default=BENCH_REDIS_DB, help=f"Redis db, flushed (default {BENCH_REDIS_DB}; "
        "env DOCG_BENCH_REDIS_DB)")
    add("--quick", action="store_true", help="N=20, 1 repetition: checks that everything runs")
    add("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.executions, args.repeats = 20, 1
    return args


# -- servers ------------------------------------------------------------------


def servers(args):
    """Return (database_url, redis_url, ours); only servers of our own choosing get wiped."""
    from storage import embedded

    db_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    ours = not db_url and not redis_url
    if not db_url:
        if reachable("127.0.0.1", 5432):
            admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            admin = with_database(embedded.ensure_postgres(VAR_DIR), "postgres")
        embedded.create_database_if_missing(admin, args.database)
        db_url = with_database(admin, args.database)
    if not redis_url:
        redis_url = common.servers(VAR_DIR, args.database, args.redis_db)[1]
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


def configure_environment(args, db_url, redis_url, smtp_port, sink_port):
    """Put the bench settings in os.environ, read by this process and the worker."""
    files = VAR_DIR / "files"
    shutil.rmtree(files, ignore_errors=True)
    os.environ.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "BROKER_NAMESPACE": NAMESPACE,
        "VAR_DIR": str(VAR_DIR), "STORAGE_ROOT": str(files), "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "dramatiq_worker_timeout": str(args.worker_timeout_ms), "ORG_MAX_INFLIGHT": str(args.org_max_inflight),
    })
    os.environ.setdefault("DOCG_PROFILE", "dev")  # NOTE: the bench's throw-away database and dev secrets
    os.environ["OUTBOUND_ALLOW"] = f"127.0.0.1:{sink_port}"  # the webhook sink is on loopback
    for name, value in (("dramatiq_queue_prefetch", args.prefetch), ("DB_POOL_SIZE", args.db_pool)):
        if value:
            os.environ[name] = str(value)
        else:
            os.environ.pop(name, None)


# -- running ------------------------------------------------------------------


def start_worker(processes, threads):
    """Start the worker with its statement counter on (bench/sqlcount.py)."""
    logs = VAR_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(COUNTS_DIR, ignore_errors=True)
    worker = Process("bench-worker", [sys.executable, "-m", "dramatiq", "actors", "bench.rawchain",
                                      "--processes", str(processes), "--threads", str(threads),
                                      "--worker-shutdown-timeout", "15000"], logs,
                     env={sqlcount.ENV: str(COUNTS_DIR)}).start()
    wait_until(lambda: worker.log().count("Worker process is ready") >= processes
               or worker.proc.poll() is not None, 90, message="worker ready")
    if worker.proc.poll() is not None:
        raise SystemExit(f"worker exited early:\n{worker.log()[-3000:]}")
    worker.processes = processes
    return worker


class Window:
    """What the worker, its PostgreSQL backends and Redis did between begin() and end().

    Statements come from pg_stat_statements when the server has it loaded,
    less the bench process's own (its run creation, polling and these reads,
    counted by wrapping its cursors), else from the worker's in-process
    counts (bench/sqlcount.py). `source` says which.
    """

    def __init__(self, services, worker):
        self.services, self.worker = services, worker
        port = urlparse(services.settings.database_url).port or 5432
        self.backends = procstat.Backends(self.query, [worker.proc.pid], port)
        self.own = getattr(services.db, "_bench_counts", None)
        if self.own is None:
            self.own = services.db._bench_counts = sqlcount.wrap(services.db)
        why_not = procstat.stat_statements(self.query)
        self.pgss = why_not is None
        self.source = ("pg_stat_statements (calls in the bench database, less the bench process's own)"
                       if self.pgss else f"counted in the worker's process ({why_not})")

    def query(self, sql):
        with self.services.db.connection_context():
            cursor = self.services.db.execute_sql(sql)
            return cursor.fetchall() if cursor.description else []

    def _statements(self, after):
        if self.pgss:
            calls, control = self.query(procstat.STAT_STATEMENTS_SQL)[0]
            own = self.own.snapshot()
            return {"statements": int(calls) - own["statements"], "control": int(control) - own["control"]}
        return sqlcount.totals(COUNTS_DIR, self.worker.processes, after) or {"statements": 0, "control": 0}

    def begin(self):
        self.statements = self._statements(time.time())
        self.redis = procstat.redis_commands(self.services.redis)
        self.cpu = procstat.tree_cpu(self.worker.proc.pid)
        self.backends.begin()

    def end(self):
        """Wait until the worker stops issuing statements (its last commits), then take the deltas."""
        last, settled = None, time.monotonic() + 10
        while (now := self._statements(time.time())) != last and time.monotonic() < settled:
            last = now
            time.sleep(sqlcount.FLUSH_SECONDS * 3)
        pg_cpu, backends = self.backends.end()
        return {"cpu": procstat.tree_cpu(self.worker.proc.pid) - self.cpu, "pg_cpu": pg_cpu, "backends": backends,
                "statements": now["statements"] - self.statements["statements"],
                "control": now["control"] - self.statements["control"],
                "redis": procstat.redis_commands(self.services.redis) - self.redis - 1}


def measure(side, name, count, rate, worker, window):
    """Start `count` runs at once (rate None) or at `rate`/s, wait for all; return what happened.

    A run's creation time is when its first hop was sent (for a held DocG burst, the release).
    """
    start_one = side.begin(name)
    window.begin()
    began = time.monotonic()
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
    return {"traces": side.traces(), "enqueue": enqueue, **window.end()}


def dbos_available(args):
    if args.no_dbos:
        return False, "left out (--no-dbos)"
    if not PEER_READY.exists():
        return False, "skipped: no var/bench-peers/venv (run `make bench-peers` to build it)"
    return True, f"dbos {peer_version()}, {args.dbos_processes} processes × {args.dbos_workers}"


def peer_version():
    done = subprocess.run([str(PEER_PYTHON), "-c", "import importlib.metadata as m; print(m.version('dbos'))"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def run_dbos(args, count, paced, repetition):
    """One DBOS repetition in its own processes (bench/dbos_peer.py); returns its burst and paced."""
    out = VAR_DIR / f"dbos-{repetition}.json"
    command = [str(PEER_PYTHON), str(ROOT / "bench" / "dbos_peer.py"), "--executions", str(count),
               "--paced", str(paced), "--repeats", "1", "--processes", str(args.dbos_processes),
               "--workers", str(args.dbos_workers), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench/dbos_peer.py failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    import json

    return json.loads(out.read_text())["repetitions"][0]


def run(args, sides, worker, window, dbos):
    """Warm every configuration up, then burst and pace each, interleaved; return {key: [repetition]}."""
    for key, side in sides.items():
        measure(side, "warmup", WARMUP_RUNS * (4 if key == "raw" else 1), None, worker, window)
    paced = max(10, args.executions // 10)
    results = {key: [] for key in [*sides, *(["dbos"] if dbos else [])]}
    for repetition in range(args.repeats):
        for key, side in sides.items():
            burst = measure(side, f"burst{repetition}", args.executions, None, worker, window)
            results[key].append({"burst": burst,
                                 "paced": measure(side, f"paced{repetition}", paced, PACED_RATE, worker, window)})
            print(f"  {repetition + 1}/{args.repeats} {side.title}: {len(burst['traces'])} runs", flush=True)
        if dbos:
            results["dbos"].append(run_dbos(args, args.executions, paced, repetition))
            print(f"  {repetition + 1}/{args.repeats} DBOS", flush=True)
    real_runs = WARMUP_RUNS + args.repeats * (args.executions + paced)
    return results, real_runs


def sweep(args, services, http):
    """The no-op workflow (and the chain) at each processes × threads of SWEEP, interleaved."""
    results = {shape: [] for shape in SWEEP}
    for repetition in range(args.repeats):
        for processes, threads in SWEEP:
            worker = start_worker(processes, threads)
            try:
                window = Window(services, worker)
                noop, raw = Docg(services, http.url, noop=True), RawChain(services)
                measure(noop, "warmup", WARMUP_RUNS, None, worker, window)
                results[(processes, threads)].append({
                    "noop": measure(noop, f"sweep{repetition}", args.executions, None, worker, window),
                    "raw": measure(raw, f"sweep{repetition}", args.executions, None, worker, window)})
            finally:
                worker.stop()
            print(f"  {repetition + 1}/{args.repeats} {processes}×{threads}", flush=True)
    return results


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    db_url, redis_url, ours = servers(args)
    reset(db_url, redis_url, ours=ours)
    with contextlib.ExitStack() as stack:
        mailbox = Mailbox(free_port()).start()
        stack.callback(mailbox.stop)
        http = stack.enter_context(HttpSink())
        configure_environment(args, db_url, redis_url, mailbox.port, http.server.server_port)
        from actors import broker as docg_broker  # NOTE: reads the settings just put in os.environ

        services = docg_broker.services
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at info
        with services.db.connection_context():
            postgres = services.db.execute_sql("SHOW server_version").fetchone()[0].split()[0]
        load_before = os.getloadavg()[0]
        machine = (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL {postgres}, "
                   f"Redis {services.redis.info('server')['redis_version']}")
        print(f"{configuration(args)}\n{machine}, 1-minute load average {load_before:.1f}", flush=True)
        if args.sweep:
            results = sweep(args, services, http)
            text = sweep_report(args, argv, results, machine, (load_before, os.getloadavg()[0]))
            section = "pipeline-sweep"
        else:
            use_dbos, dbos_note = dbos_available(args)
            print(f"DBOS: {dbos_note}", flush=True)
            worker = start_worker(args.processes, args.threads)
            stack.callback(worker.stop)
            sides = {"raw": RawChain(services), "noop": Docg(services, http.url, noop=True),
                     "real": Docg(services, http.url)}
            window = Window(services, worker)
            results, real_runs = run(args, sides, worker, window, use_dbos)
            emails = len(mailbox.messages())
            if (emails, http.count) != (real_runs, real_runs):
                raise SystemExit(f"{real_runs} real DocG runs completed but {emails} emails and {http.count} "
                                 "webhook calls arrived")
            if not use_dbos and PEER_RESULTS.exists() and not args.no_dbos:
                dbos_note = f"from {PEER_RESULTS.relative_to(ROOT)} (`make bench-peers`), not interleaved"
            text = report(args, argv, results, machine, (load_before, os.getloadavg()[0]),
                          {"dbos": dbos_note, "statements": window.source},
                          PEER_RESULTS if not use_dbos and not args.no_dbos else None)
            section = "pipeline"
    print("\n" + text)
    if not args.no_write:
        common.write_section(section, text)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
