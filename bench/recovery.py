"""kill -9 recovery time on each broker: a hop's worker dies, how soon does another run it?

    python -m bench.recovery [--trials 3] [--brokers redis,rabbitmq] [--no-write]

Per trial: worker A takes a run's outgoing-webhook hop, which blocks at a
local receiver; worker B starts; A is killed with SIGKILL. *Redelivered* is
kill -> the receiver sees the hop's second call (B runs it); *completed* is
kill -> the run is `completed`. Redis redelivers a dead worker's messages once
its heartbeat is BROKER_HEARTBEAT_MS old (10 s by default) and a maintenance
pass runs; RabbitMQ requeues them when the dead consumer's connection
closes. Each broker runs in a child process on private servers
(var/bench-recovery, a RabbitMQ vhost). Not a test: nothing asserts on time.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench import common, scale_common
from tests.support import free_port, wait_until


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.recovery", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--brokers", default="redis,rabbitmq")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    return parser.parse_args(argv)


class Gate:
    """A receiver whose first call per run blocks until released; later calls pass."""

    def __init__(self):
        gate, self.calls, self.release = self, {}, threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                run = self.headers.get("X-DocG-Execution")
                gate.calls.setdefault(run, []).append(time.monotonic())
                if len(gate.calls[run]) == 1:
                    gate.release.wait(120)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def child(broker_name, trials):
    var = scale_common.setup("bench-recovery", broker=broker_name)
    from actors import broker, pipeline
    from storage.models import Execution

    gate = Gate()
    api = scale_common.client()
    _, workflow, _ = scale_common.org_with_workflow(api, "recovery", nodes=[
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "call", "config": {"url": gate.url}}])
    results = []
    for _ in range(trials):
        gate.release.clear()
        first = scale_common.start_worker(var)
        with broker.services.db.connection_context():
            run = str(pipeline.start(workflow, trigger_data={}).id)
        wait_until(lambda: gate.calls.get(run), 60, message="hop at the receiver")
        second = scale_common.start_worker(var)
        try:
            first.kill(signal.SIGKILL)
            first.proc.wait(10)
            killed = time.monotonic()
            gate.release.set()
            wait_until(lambda: len(gate.calls.get(run, [])) >= 2, 120, interval=0.02, message="redelivered")
            redelivered = gate.calls[run][1] - killed

            def completed():
                with broker.services.db.connection_context():
                    return Execution.get_by_id(run).status == "completed"

            wait_until(completed, 60, interval=0.02, message="completed")
            results.append({"redelivered": redelivered, "completed": time.monotonic() - killed})
        finally:
            second.stop()
            first.stop()
    print(json.dumps({"broker": broker_name, "heartbeat_ms": broker.services.settings.broker_heartbeat_ms,
                      "machine": common.machine(broker.services), "results": results}))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.child:
        return child(args.child, args.trials)
    found = []
    for name in args.brokers.split(","):
        done = subprocess.run([sys.executable, "-m", "bench.recovery", "--child", name, "--trials", str(args.trials)],
                              capture_output=True, text=True, timeout=1200, env={**os.environ})
        last = [line for line in done.stdout.splitlines() if line.startswith('{"broker"')]
        if not last:
            raise SystemExit(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        found.append(json.loads(last[-1]))
        print(found[-1], flush=True)
    text = report(found)
    print(text)
    if not args.no_write:
        common.write_section("recovery", text)


def _each(results, key):
    return ", ".join(f"{r[key]:.2f}" for r in results)


def report(found):
    lines = ["## kill -9 recovery time per broker (`bench/recovery.py`)", "",
             common.stamp("python -m bench.recovery", sys.argv[1:], found[0]["machine"]), "",
             "A worker holding a run's hop (blocked in an outgoing webhook) is killed with SIGKILL while a second "
             "worker is up. Seconds from the kill:", "",
             "| broker | BROKER_HEARTBEAT_MS | trials | redelivered, each (s) | completed, each (s) | median completed (s) |",
             "|---|---:|---:|---|---|---:|"]
    for item in found:
        res = item["results"]
        lines.append(f"| {item['broker']} | {item['heartbeat_ms']} | {len(res)} | "
                     f"{_each(res, 'redelivered')} | {_each(res, 'completed')} | "
                     f"{common.percentile([r['completed'] for r in res], 0.5):.2f} |")
    lines += ["", "Redis: the dead worker's unacked messages return once its heartbeat is older than "
              "BROKER_HEARTBEAT_MS and a maintenance pass runs (`BROKER_MAINTENANCE_CHANCE`, 2 % of broker commands by default). "
              "RabbitMQ: the messages return when the dead consumer's TCP connection closes, which a local "
              "kill -9 does at once; a host that vanishes is noticed by the AMQP heartbeat (BROKER_HEARTBEAT_MS, "
              "in whole seconds) instead."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
