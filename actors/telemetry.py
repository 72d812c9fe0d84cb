"""Dramatiq middleware for traces and worker metrics.

`TraceContext` carries W3C `traceparent` in each message's options and runs
each message inside a CONSUMER span named after its actor (one per hop),
with the run's correlation id as `docg.correlation_id`. With tracing off it
returns at once. `WorkerMetrics` counts hops by phase and outcome, their
duration, retries and dead letters (see telemetry/metrics.py).
"""
import contextlib
import threading
import time

import dramatiq
from opentelemetry import context, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from telemetry import metrics, tracing

PIPELINE_QUEUE = "pipeline"


def _first_arg(message):
    first = message.args[0] if message.args else None
    return first if isinstance(first, dict) else {}


class TraceContext(dramatiq.Middleware):
    """Propagate trace context through messages; a span per processed message."""

    def __init__(self):
        self._local = threading.local()

    def before_enqueue(self, broker, message, delay):
        if not tracing.enabled() or "traceparent" in message.options:
            return
        traceparent = tracing.current_traceparent()
        if traceparent:
            message.options["traceparent"] = traceparent
            link = tracing.pending_link()
            if link:
                message.options["tracelink"] = link

    def before_process_message(self, broker, message):
        if not tracing.enabled():
            return
        envelope = _first_arg(message)
        parent = tracing.context_from(message.options.get("traceparent"))
        links = []
        if message.options.get("tracelink"):
            linked = trace.get_current_span(tracing.context_from(message.options["tracelink"])).get_span_context()
            links.append(Link(linked, {"docg.link": "resumed_by"}))
        span = tracing.tracer().start_span(
            message.actor_name, context=parent, kind=SpanKind.CONSUMER, links=links,
            attributes={"messaging.system": "dramatiq", "messaging.destination.name": message.queue_name,
                        "messaging.message.id": message.message_id,
                        "docg.retries": message.options.get("retries", 0)})
        for key in ("correlation_id", "execution_id", "node_index", "hop"):
            if envelope.get(key) is not None:
                span.set_attribute(f"docg.{key}", str(envelope[key]))
        token = context.attach(trace.set_span_in_context(span))
        self._local.current = (span, token)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        current = getattr(self._local, "current", None)
        if current is None:
            return
        span, token = current
        self._local.current = None
        if exception is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        span.end()
        context.detach(token)

    def after_skip_message(self, broker, message):
        self.after_process_message(broker, message)


@contextlib.contextmanager
def chained_span(actor, envelope, parent):
    """A span for a node run in an earlier node's message, as the span of its own message would be.

    `parent` is the context to start it in (the previous node's span), so
    a run's trace keeps one span per hop, each the child of the one before;
    yields the context to start the next node's span in.
    """
    if not tracing.enabled():
        yield None
        return
    span = tracing.tracer().start_span(
        actor.actor_name, context=parent, kind=SpanKind.CONSUMER,
        attributes={"messaging.system": "dramatiq", "messaging.destination.name": actor.queue_name,
                    "docg.chained": True, "docg.retries": 0})
    for key in ("correlation_id", "execution_id", "node_index", "hop"):
        span.set_attribute(f"docg.{key}", str(getattr(envelope, key)))
    here = trace.set_span_in_context(span, parent)
    token = context.attach(here)
    try:
        yield here
    except BaseException as ex:
        span.record_exception(ex)
        span.set_status(Status(StatusCode.ERROR, type(ex).__name__))
        raise
    finally:
        span.end()
        context.detach(token)


def chained_hop_done(phase, outcome, started):
    """Count a chained node like a hop of its own message (WorkerMetrics counts the message's first)."""
    instruments = metrics.instruments()
    instruments.hops.labels(phase, outcome).inc()
    instruments.hop_seconds.labels(phase).observe(time.monotonic() - started)


class WorkerMetrics(dramatiq.Middleware):
    """Hops by phase and outcome, hop duration, retries and dead letters.

    With `serve`, the dramatiq CLI forks `serve_worker_metrics` next to the
    worker processes: one exposition port per worker group.
    """

    def __init__(self, serve=False):
        self._local = threading.local()
        self.serve = serve

    def after_process_boot(self, broker):
        """Create every series at zero, so dashboards see them before the first event."""
        instruments = metrics.instruments()
        for actor in broker.actors.values():
            instruments.retries.labels(actor.actor_name)
            instruments.dead_letters.labels(actor.queue_name, actor.actor_name)
            if actor.queue_name == PIPELINE_QUEUE:
                phase = actor.actor_name.removesuffix("_hop")
                instruments.hop_seconds.labels(phase)
                for outcome in metrics.HOP_OUTCOMES:
                    instruments.hops.labels(phase, outcome)

    def before_process_message(self, broker, message):
        metrics.take_outcome(None)
        self._local.started = time.monotonic()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        started = getattr(self._local, "started", None)
        if started is None or message.queue_name != PIPELINE_QUEUE:
            return
        self._local.started = None
        phase = message.actor_name.removesuffix("_hop")
        outcome = "error" if exception is not None else metrics.take_outcome("done")
        instruments = metrics.instruments()
        instruments.hops.labels(phase, outcome).inc()
        instruments.hop_seconds.labels(phase).observe(time.monotonic() - started)

    def after_skip_message(self, broker, message):
        if message.queue_name == PIPELINE_QUEUE:
            metrics.instruments().hops.labels(message.actor_name.removesuffix("_hop"), "skipped").inc()
        self._local.started = None

    def after_enqueue(self, broker, message, delay):
        if message.options.get("retries"):
            metrics.instruments().retries.labels(message.actor_name).inc()

    def after_nack(self, broker, message):
        metrics.instruments().dead_letters.labels(message.queue_name, message.actor_name).inc()

    @property
    def forks(self):
        return [metrics.serve_worker_metrics] if self.serve else []
