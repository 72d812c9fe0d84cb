"""The report of `python -m bench.pipeline`: per-configuration figures, issue 11's goal ratios, the sweep.

Every figure is the median over the interleaved repetitions; latencies pool
the paced runs of all repetitions. The text goes into docs/benchmarks.md's
`pipeline` (or `pipeline-sweep`) section through bench.common.write_section.
"""
import datetime
import json
import statistics

from bench.common import ms, percentile, revision

HOPS = 5
PACED_RATE = 5.0
TITLES = {"raw": "raw 5-actor Dramatiq chain (`bench/rawchain.py`)",
          "noop": "DocG, 5 no-op nodes (`bench/noop.py`)",
          "real": "DocG, the real local workflow",
          "dbos": "DBOS Transact, 5 no-op durable steps, its queue"}


def configuration(args):
    prefetch = args.prefetch or f"default ({2 * args.threads})"
    return (f"N={args.executions} × {args.repeats} interleaved, {args.processes} process(es) × {args.threads} "
            f"threads, worker_timeout={args.worker_timeout_ms} ms, prefetch={prefetch}, "
            f"DB_POOL_SIZE={args.db_pool or 'default (20)'}, ORG_MAX_INFLIGHT={args.org_max_inflight}")


def burst_figures(burst):
    """runs/s over first hop sent → last completed, and per-run CPU, statements and Redis commands."""
    traces, runs = burst["traces"], len(burst["traces"])
    window = max(t["completed"] for t in traces) - min(t["created"] for t in traces)
    redis = burst.get("redis")
    return {"rate": runs / window, "cpu": burst["cpu"] / runs * 1000, "pg_cpu": burst["pg_cpu"] / runs * 1000,
            "statements": burst["statements"] / runs, "control": burst["control"] / runs,
            "redis": None if redis is None else redis / runs}


def latency_figures(traces):
    if any(len(t["hops"]) != HOPS for t in traces):
        raise SystemExit(f"a run recorded a number of hops other than {HOPS}")
    e2e = [t["completed"] - t["created"] for t in traces]
    gaps = [b[0] - a[1] for t in traces for a, b in zip(t["hops"], t["hops"][1:])]
    return {"e2e": (percentile(e2e, 0.5) * 1000, percentile(e2e, 0.99) * 1000),
            "gap": percentile(gaps, 0.5) * 1000}


def summarize(repetitions):
    """Median of each burst figure over the repetitions, latencies over all paced runs."""
    bursts = [burst_figures(r["burst"]) for r in repetitions]
    out = {key: statistics.median(b[key] for b in bursts) if bursts[0][key] is not None else None
           for key in bursts[0]}
    out["rates"] = [b["rate"] for b in bursts]
    out.update(latency_figures([t for r in repetitions for t in r["paced"]["traces"]]))
    return out


def _ratio(a, b):
    return a / b if a is not None and b else None


def goals(figures):
    """Issue 11's goals: (what, measured ratio or figure, target, met); None where a configuration is missing."""
    def get(key, field, index=None):
        value = (figures.get(key) or {}).get(field)
        return value[index] if value is not None and index is not None else value

    rows = [("no-op worker CPU per run ÷ raw chain's", _ratio(get("noop", "cpu"), get("raw", "cpu")), "≤ 2",
             lambda v: v <= 2),
            ("no-op runs/s ÷ raw chain's", _ratio(get("noop", "rate"), get("raw", "rate")), "≥ 0.5",
             lambda v: v >= 0.5),
            ("no-op runs/s ÷ DBOS's", _ratio(get("noop", "rate"), get("dbos", "rate")), "≥ 2", lambda v: v >= 2),
            ("idle end-to-end p50, no-op ÷ raw chain's", _ratio(get("noop", "e2e", 0), get("raw", "e2e", 0)),
             "≤ 1.2", lambda v: v <= 1.2),
            ("real local workflow runs/s", get("real", "rate"), "≥ 30", lambda v: v >= 30)]
    return [(what, value, target, None if value is None else test(value)) for what, value, target, test in rows]


def figures_table(figures):
    lines = ["| 5-node run | runs/s (burst) | worker CPU per run (ms) | PostgreSQL CPU per run (ms) "
             "| SQL statements per run (BEGIN/COMMIT) | Redis commands per run | idle end-to-end p50 / p99 (ms) "
             "| idle hop gap p50 (ms) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, f in figures.items():
        redis = "—" if f["redis"] is None else f"{f['redis']:.0f}"
        rates = ", ".join(f"{r:.1f}" for r in f["rates"])
        lines.append(f"| {TITLES[key]} | {f['rate']:.1f} ({rates}) | {ms(f['cpu'])} | {ms(f['pg_cpu'])} "
                     f"| {f['statements']:.0f} ({f['control']:.0f}) | {redis} | {ms(f['e2e'][0])} / {ms(f['e2e'][1])} "
                     f"| {ms(f['gap'])} |")
    return "\n".join(lines)


def goals_table(figures):
    lines = ["| goal (issue 11) | measured | target | met |", "|---|---:|---:|:---:|"]
    for what, value, target, met in goals(figures):
        shown = "—" if value is None else f"{value:.2f}"
        lines.append(f"| {what} | {shown} | {target} | {'—' if met is None else ('yes' if met else '**no**')} |")
    return "\n".join(lines)


def node_table(traces):
    """Per node of the real workflow, paced: the gap before it, its hop time, the node's own work and the rest."""
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


def peer_from_file(path):
    """DBOS's repetitions from the JSON `make bench-peers` wrote, or None."""
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text())["repetitions"]


def report(args, argv, results, machine, loads, notes, peer_file=None):
    """The `pipeline` section; `notes` says where DBOS's figures and the statement counts came from."""
    if "dbos" not in results and (peer := peer_from_file(peer_file)):
        results = {**results, "dbos": peer}
    figures = {key: summarize(reps) for key, reps in results.items() if reps}
    return "\n".join([
        "#### Pipeline side by side: raw chain, DocG no-op, DocG real, DBOS (`bench/pipeline.py`)", "",
        f"`{' '.join(['python -m bench.pipeline', *argv])}` at `{revision()}` — "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {machine}; 1-minute load average "
        f"{loads[0]:.1f} before, {loads[1]:.1f} after.", "",
        f"{configuration(args)}. DBOS: {notes['dbos']}. Statements: {notes['statements']}.", "",
        figures_table(figures), "",
        goals_table(figures), "",
        "Runs/s is the median of the repetitions (each in brackets); CPU, statements and Redis commands are "
        "per run of the burst, medians. Worker CPU: utime + stime of the worker's process tree from /proc "
        "(DBOS: its processes). PostgreSQL CPU: utime + stime from /proc of the backends whose client port "
        "belongs to the worker (the bench's own connections left out). DocG's CPU and statements cover all of a "
        "run's hops: its preflight hop and the 5 nodes. Statements: BEGIN/COMMIT included (the in-process "
        "counter costs a few µs per statement); "
        "DBOS's are always counted in its processes (psycopg cursor executes, plus BEGIN and COMMIT per "
        "transaction). Redis commands: the server's INFO commandstats delta, so other clients of "
        "the same server count too. Idle: runs started at "
        f"{PACED_RATE:g}/s; DocG's start is when `pipeline.start` sent the run's first hop (after its "
        "transaction), as the chain's is its first send. "
        "While DBOS runs, the idle Dramatiq worker still polls Redis (about 8% of a core at worker_timeout 100).",
        *(["", "The real local workflow per node, idle (p50):", "",
           node_table([t for r in results["real"] for t in r["paced"]["traces"]]), "",
           "¹ from the run's first hop sent (`pipeline.start`'s enqueue)."]
          if results.get("real") else []),
    ])


def sweep_report(args, argv, results, machine, loads):
    lines = ["#### Pipeline: processes × threads for the no-op workflow (`bench/pipeline.py --sweep`)", "",
             f"`{' '.join(['python -m bench.pipeline', *argv])}` at `{revision()}` — "
             f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {machine}; 1-minute load average "
             f"{loads[0]:.1f} before, {loads[1]:.1f} after. N={args.executions} × {args.repeats} interleaved.", "",
             "| processes × threads | no-op runs/s | no-op worker CPU per run (ms) | no-op PostgreSQL CPU per run (ms) "
             "| raw chain runs/s | raw chain worker CPU per run (ms) |", "|---|---:|---:|---:|---:|---:|"]
    for (processes, threads), reps in results.items():
        noop = [burst_figures(r["noop"]) for r in reps]
        raw = [burst_figures(r["raw"]) for r in reps]
        med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
        lines.append(f"| {processes} × {threads} | {med(noop, 'rate'):.1f} | {ms(med(noop, 'cpu'))} "
                     f"| {ms(med(noop, 'pg_cpu'))} | {med(raw, 'rate'):.1f} | {ms(med(raw, 'cpu'))} |")
    return "\n".join(lines)
