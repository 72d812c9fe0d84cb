"""DBOS Transact's floor on this machine: a 5-step queued workflow of no-op durable steps.

    var/bench-peers/venv/bin/python bench/dbos_peer.py [--quick] [--executions N] [--repeats R]
        [--processes P] [--workers W] [--polling-interval S] [--database NAME] [--out FILE]

Run by `make bench-peers` (which builds var/bench-peers/venv with the pinned
`dbos`) and, one repetition at a time, by `python -m bench.pipeline` when
that venv exists. It starts P processes (this file with `--serve`), each
`DBOS(config=...)` + `DBOS.launch()` on its own database of the local
PostgreSQL, listening to one queue with `worker_concurrency=W`, and measures
what bench.pipeline measures for ours: a burst of N workflows enqueued in one
transaction (`DBOSClient.enqueue_in_transaction`, so they appear at once, as
our held first hops do), runs/s, the DBOS processes' CPU, their PostgreSQL
backends' CPU and their statements per run (counted in process by wrapping
psycopg, bench/sqlcount.py), then runs enqueued one by one at 5/s for the
idle end-to-end and the gap between steps (`operation_outputs` times).
It writes JSON whose repetitions have bench.pipeline's measurement shape.
Only the stdlib, psutil, psycopg and dbos: it never imports DocG.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # NOTE: procstat and sqlcount only, by file: this venv has no DocG

import procstat  # noqa: E402
import sqlcount  # noqa: E402

ROOT = HERE.parent
QUEUE = "bench"
WORKFLOW = "bench_noop_workflow"
APP_VERSION = "docg-bench"
PACED_RATE = 5.0
STALL_SECONDS = 90


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bench/dbos_peer.py", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--executions", type=int, default=200, help="workflows per burst (default 200)")
    add("--paced", type=int, default=20, help="workflows at 5/s after each burst (default 20)")
    add("--repeats", type=int, default=3, help="repetitions (default 3)")
    add("--processes", type=int, default=2, help="DBOS processes (default 2: its best seen here was 2 × 8)")
    add("--workers", type=int, default=8, help="the queue's worker_concurrency per process (default 8)")
    add("--polling-interval", type=float, default=0.1,
        help="the queue's polling_interval_sec (default 0.1, like our worker_timeout of 100 ms; DBOS's is 1.0)")
    add("--database", default=os.environ.get("DOCG_BENCH_DBOS_DB", "docg_bench_dbos"),
        help="DBOS system database, dropped and rebuilt (default docg_bench_dbos; env DOCG_BENCH_DBOS_DB)")
    add("--admin-url", default=os.environ.get("DOCG_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    add("--out", default=str(ROOT / "var" / "bench-peers" / "dbos.json"))
    add("--quick", action="store_true", help="N=20, 10 paced, 1 repetition")
    add("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.executions, args.paced, args.repeats = 20, 10, 1
    return args


def database_url(args):
    return args.admin_url.rsplit("/", 1)[0] + f"/{args.database}"


# -- one DBOS process -----------------------------------------------------------


def count_psycopg(counts):
    """Count every statement psycopg sends: cursor executes, plus BEGIN/COMMIT per transaction ended."""
    import psycopg
    from psycopg.pq import TransactionStatus

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def counted_execute(self, query, *args, **kwargs):
        counts.add(query if isinstance(query, str) else "")
        return execute(self, query, *args, **kwargs)

    def counted_executemany(self, query, *args, **kwargs):
        counts.add(query if isinstance(query, str) else "")
        return executemany(self, query, *args, **kwargs)

    psycopg.Cursor.execute, psycopg.Cursor.executemany = counted_execute, counted_executemany
    for name in ("commit", "rollback"):
        original = getattr(psycopg.Connection, name)

        def ending(self, _original=original):
            if self.info.transaction_status != TransactionStatus.IDLE:
                counts.add_transaction()
            return _original(self)

        setattr(psycopg.Connection, name, ending)


def serve(args):
    """One DBOS executor: launch, register the queue, then run workflows until SIGTERM."""
    from dbos import DBOS

    counts = sqlcount.Counts()
    count_psycopg(counts)
    sqlcount.start_flushing(counts, os.environ[sqlcount.ENV])

    @DBOS.step(name="bench_noop_step")
    def noop_step(i):
        return i

    @DBOS.workflow(name=WORKFLOW)
    def noop_workflow(run):
        for i in range(5):
            noop_step(i)
        return run

    DBOS(config={"name": "docg-bench-dbos", "system_database_url": database_url(args),
                 "application_version": APP_VERSION, "executor_id": f"bench-{os.getpid()}",
                 "log_level": "WARNING", "sys_db_pool_size": args.workers + 4})
    DBOS.launch()
    DBOS.register_queue(QUEUE, worker_concurrency=args.workers, polling_interval_sec=args.polling_interval,
                        on_conflict="always_update")
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    DBOS.destroy()


# -- the controller ---------------------------------------------------------------


def reset(args):
    import psycopg

    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')


def start_servers(args, counts_dir, logs):
    servers = []
    for index in range(args.processes):
        log = open(logs / f"dbos-{index}.log", "wb")
        argv = [sys.executable, __file__, "--serve", "--workers", str(args.workers), "--database", args.database,
                "--admin-url", args.admin_url, "--polling-interval", str(args.polling_interval)]
        servers.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        env={**os.environ, sqlcount.ENV: str(counts_dir)}))
        wait_for(lambda: (logs / f"dbos-{index}.log").read_text(errors="replace").count("ready")
                 or servers[-1].poll() is not None, 120, f"DBOS process {index}")
        if servers[-1].poll() is not None:
            raise SystemExit(f"DBOS process {index} exited:\n{(logs / f'dbos-{index}.log').read_text()[-3000:]}")
    return servers


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


class Peer:
    """Enqueue batches on the DBOS queue and read their traces back from the system database."""

    def __init__(self, args, servers, counts_dir):
        import psycopg
        import sqlalchemy as sa
        from dbos import DBOSClient

        self.url, self.servers, self.counts_dir, self.processes = database_url(args), servers, counts_dir, args.processes
        self.client = DBOSClient(system_database_url=self.url)
        self.engine = sa.create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.conn = psycopg.connect(self.url, autocommit=True)
        self.backends = procstat.Backends(lambda sql: self.conn.execute(sql).fetchall(), [s.pid for s in servers],
                                          sa.make_url(self.url).port or 5432)

    def options(self, batch, i):
        return {"queue_name": QUEUE, "workflow_name": WORKFLOW, "workflow_id": f"{batch}-{i}",
                "app_version": APP_VERSION}

    def cpu(self):
        return sum(procstat.tree_cpu(s.pid) for s in self.servers)

    def statements(self):
        return sqlcount.totals(str(self.counts_dir), self.processes, time.time()) or {"statements": 0, "control": 0}

    def ended(self, batch):
        return self.conn.execute("SELECT count(*) FROM dbos.workflow_status WHERE workflow_uuid LIKE %s "
                                 "AND status IN ('SUCCESS', 'ERROR')", (f"{batch}-%",)).fetchone()[0]

    def measure(self, count, rate):
        batch = uuid.uuid4().hex[:10]
        before, cpu = self.statements(), self.cpu()
        self.backends.begin()
        began, created = time.monotonic(), {}
        if rate is None:
            with self.engine.begin() as conn:
                for i in range(count):
                    self.client.enqueue_in_transaction(conn, self.options(batch, i), i)
            released = time.time()
            created = {f"{batch}-{i}": released for i in range(count)}
        else:
            for i in range(count):
                time.sleep(max(0.0, began + i / rate - time.monotonic()))
                created[f"{batch}-{i}"] = time.time()
                self.client.enqueue(self.options(batch, i), i)
        enqueue = time.monotonic() - began
        last, moved = -1, time.monotonic()
        while (done := self.ended(batch)) < count:
            if done != last:
                last, moved = done, time.monotonic()
            if time.monotonic() - moved > STALL_SECONDS or any(s.poll() is not None for s in self.servers):
                raise SystemExit(f"DBOS: {done}/{count} workflows ended, then nothing for {STALL_SECONDS}s")
            time.sleep(0.2)
        # NOTE: no waiting for the counts to settle, as bench.pipeline does for ours: DBOS's
        # executors poll their queue with a transaction every polling interval, so they never do.
        now = self.statements()
        pg_cpu, _ = self.backends.end()
        return {"traces": self.traces(batch, created), "enqueue": enqueue, "cpu": self.cpu() - cpu, "pg_cpu": pg_cpu,
                "statements": now["statements"] - before["statements"], "control": now["control"] - before["control"],
                "redis": None}

    def traces(self, batch, created):
        rows = self.conn.execute("SELECT workflow_uuid, status, updated_at FROM dbos.workflow_status "
                                 "WHERE workflow_uuid LIKE %s", (f"{batch}-%",)).fetchall()
        failed = [r for r in rows if r[1] != "SUCCESS"]
        if failed:
            raise SystemExit(f"{len(failed)} of {len(rows)} DBOS workflows did not succeed: {failed[0]}")
        steps = {}
        for workflow, started, completed in self.conn.execute(
                "SELECT workflow_uuid, started_at_epoch_ms, completed_at_epoch_ms FROM dbos.operation_outputs "
                "WHERE workflow_uuid LIKE %s ORDER BY workflow_uuid, function_id", (f"{batch}-%",)):
            steps.setdefault(workflow, []).append((started / 1000, completed / 1000))
        return [{"created": created[workflow], "completed": updated / 1000, "hops": steps.get(workflow, [])}
                for workflow, _, updated in rows]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.serve:
        return serve(args)
    try:
        import dbos  # noqa: F401
    except ImportError:
        print("bench/dbos_peer.py: dbos is not installed here; skipped (run `make bench-peers`)")
        return None
    import importlib.metadata

    var = ROOT / "var" / "bench-peers"
    counts_dir, logs = var / f"sqlcount-{os.getpid()}", var / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    reset(args)
    servers = start_servers(args, counts_dir, logs)
    try:
        peer = Peer(args, servers, counts_dir)
        peer.measure(5, None)
        repetitions = []
        for repetition in range(args.repeats):
            repetitions.append({"burst": peer.measure(args.executions, None),
                                "paced": peer.measure(args.paced, PACED_RATE)})
            burst = repetitions[-1]["burst"]
            window = max(t["completed"] for t in burst["traces"]) - min(t["created"] for t in burst["traces"])
            print(f"  DBOS {repetition + 1}/{args.repeats}: {args.executions / window:.1f} runs/s, "
                  f"{burst['cpu'] / args.executions * 1000:.1f} ms CPU per run", flush=True)
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dbos": importlib.metadata.version("dbos"), "processes": args.processes,
                               "workers": args.workers, "polling_interval_sec": args.polling_interval,
                               "repetitions": repetitions}))
    print(f"wrote {out}")
    return None


if __name__ == "__main__":
    main()
