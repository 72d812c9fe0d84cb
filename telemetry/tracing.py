"""OpenTelemetry: one trace per run, from the POST through every hop and wait.

`configure(settings, role)` turns tracing on only when
`OTEL_EXPORTER_OTLP_ENDPOINT` is set: then it installs an SDK tracer
provider exporting over OTLP/HTTP and the maintained instrumentations for
Falcon, requests, psycopg2 and redis. Otherwise nothing is installed, the
API's no-op tracer stays in place and `enabled()` is False, so the Dramatiq
middleware and the helpers below return at once (no cost).

A run's trace context is stored on its row (`workflow_executions.traceparent`)
when it is created. Hop messages carry `traceparent` in their options; a hop
sent from another trace (a webhook that resumed a wait, the reaper) is sent
inside the run's own context instead and keeps a link to the trace it came
from, so a run stays one trace however long it waits.
"""
import threading

from opentelemetry import context, propagate, trace

TRACER_NAME = "docg"
_state = {"enabled": False, "provider": None}


def enabled():
    return _state["enabled"]


def tracer():
    return trace.get_tracer(TRACER_NAME)


def configure(settings, role):
    """Export spans over OTLP when an endpoint is configured (idempotent)."""
    if _state["enabled"] or not settings.otel_exporter_otlp_endpoint:
        return _state["provider"]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"{settings.otel_service_name}-{role}",
                                                        "docg.role": role}))
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/")
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    return install(provider)


def install(provider):
    """Make `provider` the global tracer provider and instrument the libraries.

    Must run before `web.app.create_app` (the Falcon instrumentation wraps
    `falcon.App`). Tests call it with an in-memory exporter.
    """
    from opentelemetry.instrumentation.falcon import FalconInstrumentor
    from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    trace.set_tracer_provider(provider)
    for instrumentor in (FalconInstrumentor(), RequestsInstrumentor(), RedisInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
    psycopg2 = Psycopg2Instrumentor()
    if not psycopg2.is_instrumented_by_opentelemetry:
        # NOTE: psycopg2-binary provides the same module; the dependency check looks for "psycopg2".
        psycopg2.instrument(tracer_provider=provider, skip_dep_check=True)
    _state.update(enabled=True, provider=provider)
    import settings as settings_module

    if log_fields not in settings_module.log_field_hooks:
        settings_module.log_field_hooks.append(log_fields)
    return provider


def uninstall():
    """Turn tracing off again and remove the instrumentations (tests)."""
    from opentelemetry.instrumentation.falcon import FalconInstrumentor
    from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    for instrumentor in (FalconInstrumentor(), RequestsInstrumentor(), RedisInstrumentor(), Psycopg2Instrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    _state.update(enabled=False, provider=None)


def current_traceparent():
    """The W3C traceparent of the current span, or None (tracing off, no span)."""
    if not _state["enabled"]:
        return None
    carrier = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent):
    """The context a `traceparent` string names (the current one when empty)."""
    if not traceparent:
        return None
    return propagate.extract({"traceparent": traceparent})


def trace_id_of(traceparent):
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None


class within_run:
    """Context manager: send messages inside a run's own trace.

    If the current span already belongs to the run's trace nothing changes
    (a hop sending the next hop). Otherwise the run's stored context becomes
    current for the block and `link` holds the traceparent of the span that
    caused it, which the Dramatiq middleware records as a span link.
    """

    def __init__(self, run_traceparent):
        self.run_traceparent, self.token, self.link = run_traceparent, None, None

    def __enter__(self):
        if not _state["enabled"] or not self.run_traceparent:
            return self
        current = current_traceparent()
        if trace_id_of(current) == trace_id_of(self.run_traceparent):
            return self
        self.link = current
        _links.stack.append(current)
        self.token = context.attach(context_from(self.run_traceparent))
        return self

    def __exit__(self, *exc):
        if self.token is not None:
            context.detach(self.token)
            _links.stack.pop()
        return False


class _Links:
    """Per-thread stack of the traceparents `within_run` switched away from."""

    def __init__(self):
        self._local = threading.local()

    @property
    def stack(self):
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def current(self):
        return self.stack[-1] if self.stack else None


_links = _Links()


def pending_link():
    """The traceparent a message sent now should link to (see `within_run`)."""
    return _links.current()


def log_fields():
    """trace_id and span_id of the current span for a log line, or {}."""
    if not _state["enabled"]:
        return {}
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": format(span_context.trace_id, "032x"), "span_id": format(span_context.span_id, "016x")}


def annotate(**attributes):
    """Set attributes (e.g. docg.correlation_id) on the current span."""
    if not _state["enabled"]:
        return
    span = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key, str(value))
