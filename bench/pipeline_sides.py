"""What `bench.pipeline` runs: DocG workflows (real or no-op), the raw chain, and the HTTP sink.

Each side has `begin(name)` (returns how to start run i), `holding()` (a
block whose first hops go out together at its end), `ended()` and
`traces()`: a trace is a run's start, a (started, finished) pair per hop and
its completion.
"""
import contextlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class Docg:
    """Runs of a DocG workflow, started the way the API starts them.

    `noop=False`: the 5-node local workflow (`cli/sample.py: workflow()`);
    `noop=True`: five `bench-noop` nodes (bench/noop.py), DocG's bookkeeping alone.
    """

    def __init__(self, services, webhook_url, *, noop=False):
        from bench import noop as noop_module
        from cli import sample
        from storage import templates, tenancy

        noop_module.register()
        self.db, self.sample, self.webhook_url, self.noop = services.db, sample, webhook_url, noop
        self.title = "DocG, 5 no-op nodes" if noop else "DocG, the real local workflow"
        self.started, self.sent = 0, {}
        with self.db.connection_context():
            organization, _ = tenancy.create_organization(f"bench-{uuid.uuid4().hex[:6]}")
            self.template = None if noop else templates.create(
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
        flow.send = lambda *args, **kwargs: held.append((args, kwargs))
        try:
            yield
        finally:
            flow.send = send
        self.released = time.time()
        for args, kwargs in held:
            send(*args, **kwargs)

    @contextlib.contextmanager
    def stamping(self):
        """Note when each run's first hop is sent (the idle end-to-end starts there, as the chain's does)."""
        from actors import flow

        send = flow.send

        def stamped(envelope, phase, **kwargs):
            self.sent.setdefault(envelope.execution_id, time.time())
            return send(envelope, phase, **kwargs)

        flow.send = stamped
        try:
            yield
        finally:
            flow.send = send

    def begin(self, name):
        """Create a fresh workflow for this batch; return how to start one run of it."""
        from actors import pipeline
        from bench import noop
        from storage import workflows

        self.released = None
        if self.noop:
            body = noop.workflow()
        else:
            body = self.sample.workflow(str(self.template.id), folder=f"bench/{name}", to=["bench@example.com"],
                                        webhook_url=self.webhook_url, webhook_secret="bench")
        with self.db.connection_context():
            self.workflow = workflows.create(self.organization_id, {**body, "name": f"bench {name}"})

        def start_one(i):
            with self.db.connection_context(), self.stamping():
                pipeline.start(self.workflow, trigger_data={**self.sample.trigger_data(), "deal_id": f"{name}-{i}"})
            self.started += 1

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
            raise SystemExit(f"{len(failed)} of {len(runs)} runs of {self.title} did not complete; first: "
                             f"{failed[0].id} {failed[0].status} {failed[0].last_error_tech}")
        by_run = {run.id: [] for run in runs}
        for step in steps:
            by_run[step.execution_id].append(step)
        return [{"created": max(self.sent.get(str(run.id), run.created_at.timestamp()), self.released or 0),
                 "completed": run.completed_at.timestamp(),
                 "hops": [(s.started_at.timestamp(), s.completed_at.timestamp()) for s in by_run[run.id]],
                 "nodes": [(s.label, s.node_type, s.duration_ms, s.attempt) for s in by_run[run.id]]}
                for run in runs]


class RawChain:
    """Runs of the five no-op actors of bench.rawchain."""

    title = "raw 5-actor Dramatiq chain"

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
