"""One run is one trace: web span → preflight → each hop → the outbound call, across a wait.

The worker runs in this process (dramatiq's own Worker on the real Redis
broker) so the SDK's in-memory exporter sees every span; the web request
goes through the Falcon app built after the instrumentation was installed.
"""
import uuid

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cli import sample
from storage.models import SignatureRequest
from tests import factories
from tests.actors.test_signatures import sandbox_webhook, signers_of
from tests.support import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def traced(services, broker):
    """Tracing on with an in-memory exporter, an instrumented app and an in-process worker."""
    import dramatiq
    import falcon.testing

    from telemetry import tracing
    from web.app import create_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    # NOTE: the psycopg2 instrumentation wraps connect(); connections pooled by earlier
    # tests were made before it and would run their queries untraced.
    services.db.close_all()
    client = falcon.testing.TestClient(create_app(services, broker=broker))
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    yield client, exporter
    worker.stop()
    tracing.uninstall()
    provider.shutdown()


def hex_id(value):
    return format(value, "032x")


def test_a_run_is_one_trace_from_the_post_through_a_wait_to_the_outbound_call(traced, org, db, web_server,
                                                                             httpserver, services, redis):
    client, exporter = traced
    httpserver.expect_request("/notify", method="POST").respond_with_data("ok")
    (ana,) = signers_of(org, "ana")
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "ana", "email": ana}]}},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": httpserver.url_for("/notify")}},
    ])

    # Given a run that started with a POST and now waits for its signer
    exporter.clear()
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    correlation_id = factories.run_state(client, org, execution_id)["correlation_id"]

    # (the sandbox's own "sent" webhook is applied first, so only the "signed" one below can resume the run)
    wait_until(lambda: "signature.sent" in factories.stream_types(redis, execution_id), 20, message="sent event")

    # When the provider's webhook says the signer signed
    request = wait_until(lambda: SignatureRequest.get_or_none(SignatureRequest.execution == execution_id), 20,
                         message="signature request")
    body, headers = sandbox_webhook(services.settings, request.envelope_id, ana, f"evt-{uuid.uuid4()}")
    resp = client.simulate_post("/api/v1/webhooks/signature/sandbox", body=body, headers=headers)
    assert resp.status_code in (200, 202), resp.text
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"

    # Then the POST's server span roots one trace holding every hop and the outbound call
    def spans():
        return list(exporter.get_finished_spans())

    wait_until(lambda: any(s.name == "delivery_hop" for s in spans()), 20, message="delivery hop span")
    everything = spans()
    post = next(s for s in everything if s.kind == SpanKind.SERVER
                and s.attributes.get("docg.execution_id") == execution_id)
    assert post.attributes["docg.correlation_id"] == correlation_id
    run_trace = post.context.trace_id
    in_run = [s for s in everything if s.context.trace_id == run_trace]
    by_id = {s.context.span_id: s for s in in_run}
    hops = [s for s in in_run if s.kind == SpanKind.CONSUMER and s.name.endswith("_hop")]
    assert [s.name for s in sorted(hops, key=lambda s: s.start_time)] == [
        "preflight_hop", "trigger_hop", "render_hop", "signature_hop", "delivery_hop"]
    assert all(s.attributes["docg.correlation_id"] == correlation_id for s in hops)
    named = {s.name: s for s in hops}
    assert named["preflight_hop"].parent.span_id == post.context.span_id
    assert named["trigger_hop"].parent.span_id == named["preflight_hop"].context.span_id
    assert named["render_hop"].parent.span_id == named["trigger_hop"].context.span_id
    assert named["signature_hop"].parent.span_id == named["render_hop"].context.span_id

    # and the hop after the wait is in the run's trace, linked to the webhook that resumed it
    resumed = named["delivery_hop"]
    webhook = next(s for s in everything if s.kind == SpanKind.SERVER and "webhooks/signature" in
                   str(s.attributes.get("http.route", s.attributes.get("http.target", s.name))))
    assert webhook.context.trace_id != run_trace
    linked = {link.context.trace_id for link in resumed.links}
    assert webhook.context.trace_id in linked
    apply = next(s for s in everything if s.name == "apply_signature_delivery"
                 and s.context.trace_id == webhook.context.trace_id)
    assert apply.attributes["docg.correlation_id"] == correlation_id
    outbound = [s for s in in_run if s.kind == SpanKind.CLIENT and s.parent is not None
                and s.parent.span_id == resumed.context.span_id
                and "/notify" in str(s.attributes.get("http.url", s.attributes.get("url.full", "")))]
    assert len(outbound) == 1, [(s.name, dict(s.attributes)) for s in in_run if s.kind == SpanKind.CLIENT]
    # and PostgreSQL and Redis calls of the hops are spans of the same trace
    assert any(s.attributes.get("db.system") == "postgresql" and s.parent and s.parent.span_id in by_id
               for s in in_run)
    assert any(s.attributes.get("db.system") == "redis" for s in in_run)


def test_tracing_is_off_without_an_endpoint_and_sends_nothing():
    import settings as settings_module
    from actors.telemetry import TraceContext
    from telemetry import tracing

    assert not tracing.enabled()
    assert tracing.configure(settings_module.load({}, start_embedded=False), "web") is None
    assert not tracing.enabled() and tracing.current_traceparent() is None

    class Message:
        options = {}

    TraceContext().before_enqueue(None, Message, None)
    assert Message.options == {}


def test_real_web_and_worker_processes_export_one_trace_over_otlp(org, spawn_worker, httpserver, logs_dir):
    import requests
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from werkzeug import Response

    from tests.support import free_port, http_ok, start_web, wait_for_web

    # Given an OTLP/HTTP collector, and a gunicorn web process and a worker process pointed at it
    received = []

    def collect(request):
        received.append(ExportTraceServiceRequest.FromString(request.get_data()))
        return Response(b"", status=200, content_type="application/x-protobuf")

    httpserver.expect_request("/v1/traces", method="POST").respond_with_handler(collect)
    otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": httpserver.url_for("/").rstrip("/"), "OTEL_BSP_SCHEDULE_DELAY": "200"}
    port = free_port()
    web = start_web(logs_dir, port, env=otlp, wait=False)
    spawn_worker(env=otlp)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_web(web)
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="traced web health")
        wf = requests.post(f"{base}/api/v1/workflows", headers=org.headers, timeout=10,
                           json={"name": "traced", "nodes": [{"node_type": "webhook", "label": "deal"}]}).json()

        # When a run is started through the web process and goes through the worker
        started = requests.post(f"{base}/api/v1/workflows/{wf['id']}/executions", headers=org.headers, timeout=10,
                                json={"trigger_data": {"client_name": "Ana"}})
        assert started.status_code == 202, started.text
        execution_id = started.json()["execution_id"]
        state = wait_until(lambda: (r := requests.get(f"{base}/api/v1/executions/{execution_id}",
                                                      headers=org.headers, timeout=10).json())["status"]
                           in ("completed", "failed") and r, 60, message="traced run ended")
        assert state["status"] == "completed"

        # Then the collector holds one trace: the web's server span, then the worker's hops under it
        def spans():
            found = []
            for export in received:
                for resource_spans in export.resource_spans:
                    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            found.append((service["service.name"], span))
            return found

        def run_spans():
            found = spans()
            post = [span for service, span in found if service == "docg-web" and any(
                a.key == "docg.execution_id" and a.value.string_value == execution_id for a in span.attributes)]
            if not post:
                return None
            trace_id = post[0].trace_id
            hops = {span.name: (service, span) for service, span in found if span.trace_id == trace_id
                    and span.name.endswith("_hop")}
            return (post[0], hops) if {"preflight_hop", "trigger_hop"} <= set(hops) else None

        post, hops = wait_until(run_spans, 30, message="web and worker spans of the run at the collector")
        assert hops["preflight_hop"][0] == "docg-worker" and hops["preflight_hop"][1].parent_span_id == post.span_id
        assert hops["trigger_hop"][1].parent_span_id == hops["preflight_hop"][1].span_id
        assert any(a.key == "docg.correlation_id" and a.value.string_value == state["correlation_id"]
                   for a in post.attributes)
    finally:
        web.stop()
