"""Fair share: a quiet organization's end-to-end latency while a noisy one bursts.

    python -m bench.fairness [--noisy 2000] [--quiet 30] [--limit 4] [--threads 8] [--no-write]

Three phases on private servers (embedded PostgreSQL and Redis under
var/bench-fairness) and one `dramatiq actors` process (1 x threads):

- idle: only the quiet org, one run every 0.5 s;
- before: the noisy org's N runs, created beforehand with their first hops
  held back, are all sent at once with ORG_MAX_INFLIGHT=0 (no admission);
  one second later the quiet org starts its runs as in idle;
- after: the same with ORG_MAX_INFLIGHT=--limit.

Each run is the 3-node workflow of bench/scale_common.py (4 hops with the
preflight). End-to-end is `workflow_executions.created_at` -> `completed_at`.
The noisy phases also give per-hop resource costs (worker, PostgreSQL and
Redis CPU, commits, Redis commands) for docs/scaling.md. Not a test:
nothing asserts on time.
"""
import argparse
import dataclasses
import os
import sys
import threading
import time

from bench import common, scale_common

HOPS_PER_RUN = len(scale_common.WORKFLOW_NODES) + 1


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.fairness", description=__doc__.split("\n")[0])
    parser.add_argument("--noisy", type=int, default=2000, help="runs of the noisy org (default 2000)")
    parser.add_argument("--quiet", type=int, default=30, help="runs of the quiet org per phase (default 30)")
    parser.add_argument("--limit", type=int, default=4, help="ORG_MAX_INFLIGHT of the after phase (default 4)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    return parser.parse_args(argv)


def e2e_ms(ids):
    from storage.models import Execution
    from actors import broker

    with broker.services.db.connection_context():
        rows = list(Execution.select(Execution.created_at, Execution.completed_at, Execution.status)
                    .where(Execution.id.in_(ids)))
    assert all(r.status == "completed" for r in rows), "a run did not complete"
    return [(r.completed_at - r.created_at).total_seconds() * 1000 for r in rows]


def wait_done(ids, timeout):
    from storage.models import Execution
    from actors import broker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with broker.services.db.connection_context():
            left = Execution.select().where(Execution.id.in_(ids) & Execution.status.not_in(
                ("completed", "failed", "canceled"))).count()
        if not left:
            return
        time.sleep(0.5)
    raise SystemExit(f"{left} runs still unfinished after {timeout}s")


def start_runs(workflow, count, *, every=0.0, tag):
    from actors import broker, pipeline

    ids = []
    for i in range(count):
        with broker.services.db.connection_context():
            ids.append(pipeline.start(workflow, trigger_data={tag: i}).id)
        if every:
            time.sleep(every)
    return ids


def create_held(workflow, count):
    """Create `count` queued runs without sending their first hops (as bench/pipeline.py does)."""
    from actors import broker, pipeline

    ids = []
    with broker.services.db.connection_context():
        for i in range(count):
            execution, batch = pipeline._create(workflow, trigger_data={"n": i})
            batch.flush()
            ids.append(execution.id)
    return ids


def send_all(ids):
    from actors import broker, pipeline

    with broker.services.db.connection_context():
        for execution_id in ids:
            pipeline.advance(execution_id)


def phase(name, var, quiet, noisy, args, limit):
    """Run one phase with a fresh worker; return (quiet latencies, usage, noisy runs)."""
    from actors import broker

    broker.services.settings = dataclasses.replace(broker.services.settings, org_max_inflight=limit)
    noisy_ids = create_held(noisy, args.noisy) if noisy else []
    worker = scale_common.start_worker(var, threads=args.threads, env={"ORG_MAX_INFLIGHT": str(limit)})
    try:
        usage = scale_common.Usage(worker.children()[0] if worker.children() else worker.proc.pid, var)
        before = usage.sample()
        burst = None
        if noisy:
            burst = threading.Thread(target=send_all, args=(noisy_ids,))
            burst.start()
            time.sleep(1.0)
        quiet_ids = start_runs(quiet, args.quiet, every=0.5, tag="q")
        if burst:
            burst.join()
        wait_done(quiet_ids + noisy_ids, 1800)
        after = usage.sample()
        return e2e_ms(quiet_ids), scale_common.delta(before, after), len(noisy_ids)
    finally:
        worker.stop()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    var = scale_common.setup("bench-fairness")
    from actors import broker

    api = scale_common.client()
    _, quiet, _ = scale_common.org_with_workflow(api, "quiet")
    _, noisy, _ = scale_common.org_with_workflow(api, "noisy")
    machine = common.machine(broker.services)
    results = {}
    for name, load, limit in (("idle", None, args.limit), ("before", noisy, 0), ("after", noisy, args.limit)):
        load_avg = os.getloadavg()[0]
        latencies, used, noisy_runs = phase(name, var, quiet, load, args, limit)
        results[name] = (latencies, used, noisy_runs, load_avg)
        print(name, f"p50 {common.percentile(latencies, 0.5):.0f} ms p99 {common.percentile(latencies, 0.99):.0f} ms",
              used, f"load {load_avg:.1f}", flush=True)
    text = report(args, results, machine, limit=args.limit)
    print(text)
    if not args.no_write:
        common.write_section("fairness", text)


def report(args, results, machine, *, limit):
    idle_p99 = common.percentile(results["idle"][0], 0.99)
    lines = ["## Fair share: a quiet org during a noisy org's burst (`bench/fairness.py`)", "",
             common.stamp("python -m bench.fairness", sys.argv[1:], machine), "",
             f"One worker process (1 × {args.threads} threads), private embedded PostgreSQL and Redis. The noisy "
             f"org's {args.noisy} runs (created beforehand, first hops held back) are sent at once; a second "
             f"later the quiet org starts {args.quiet} runs, one every 0.5 s. Each run has {HOPS_PER_RUN} hops "
             "(preflight + 3 nodes). End-to-end = created → completed.",
             "", "| phase | ORG_MAX_INFLIGHT | quiet p50 (ms) | quiet p99 (ms) | p99 ÷ idle p99 | noisy runs | "
             "1-min load at start |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, (latencies, _, noisy_runs, load_avg) in results.items():
        p99 = common.percentile(latencies, 0.99)
        lines.append(f"| {name} | {limit if name != 'before' else 0} | {common.percentile(latencies, 0.5):.0f} | "
                     f"{p99:.0f} | {p99 / idle_p99:.2f} | {noisy_runs} | {load_avg:.1f} |")
    lines += ["", "Cost per hop during the noisy phases (all hops of the phase: noisy + quiet runs; CPU is user + "
              "system of the process trees; commits from pg_stat_database; commands from Redis INFO):", "",
              "| phase | hops | wall (s) | hops/s | worker CPU (ms/hop) | PostgreSQL CPU (ms/hop) | "
              "commits/hop | Redis CPU (ms/hop) | Redis commands/hop |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in ("before", "after"):
        _, used, noisy_runs, _ = results[name]
        hops = (noisy_runs + args.quiet) * HOPS_PER_RUN
        lines.append(f"| {name} | {hops} | {used['t']:.1f} | {hops / used['t']:.0f} | "
                     f"{1000 * used['worker_cpu'] / hops:.2f} | {1000 * used['pg_cpu'] / hops:.2f} | "
                     f"{used['pg_commits'] / hops:.1f} | {1000 * used['redis_cpu'] / hops:.2f} | "
                     f"{used['redis_commands'] / hops:.1f} |")
    lines += ["", "The machine is shared with other engineers' test runs (2 CPUs), so absolute numbers move "
              "±30 % between runs; the 1-minute load average at the start of each phase is in the table."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
