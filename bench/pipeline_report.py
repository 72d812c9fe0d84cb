"""The report of `python -m bench.pipeline`: its numbers, its tables and its docs section.

`report()` turns the measurements of a run into the markdown section of one
configuration; `write_docs()` puts that section into docs/benchmarks.md.
"""
import datetime
import os
import re

from bench.common import DOCS, ms, percentile, revision

HOPS = 5
PACED_RATE = 5.0


def configuration(args):
    prefetch = args.prefetch or f"default ({2 * args.threads})"
    return (f"N={args.executions}, {args.processes} process(es) × {args.threads} threads, "
            f"worker_timeout={args.worker_timeout_ms} ms, prefetch={prefetch}, "
            f"DB_POOL_SIZE={args.db_pool or 'default (20)'}")


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
