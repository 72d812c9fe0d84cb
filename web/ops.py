"""Operator pages behind the admin token: Dramatiq dashboard, caught mail, metrics.

The dashboard (dramatiq_dashboard) is a WSGI app mounted under
`/ops/dramatiq` through its own middleware; `AdminGate` in front of it and
of `/metrics` accepts `Authorization: Bearer <ADMIN_TOKEN>` or HTTP Basic
with the token as password (so a browser can open the dashboard).
"""
import base64
import hmac
import json

from dramatiq_dashboard import make_wsgi_middleware
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from peewee import fn

from actors.broker import queue_depth
from storage.models import Execution

DASHBOARD_PREFIX = "/ops/dramatiq"
PROTECTED = ("/ops/", DASHBOARD_PREFIX, "/metrics")


def _token_from(environ):
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


class AdminGate:
    """WSGI middleware refusing /ops and /metrics without the admin token."""

    def __init__(self, app, admin_token):
        self.app, self.admin_token = app, admin_token

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PROTECTED):
            token = _token_from(environ)
            if not self.admin_token or not hmac.compare_digest(token.encode(), self.admin_token.encode()):
                body = json.dumps({"error": {"code": "unauthorized", "message_human": "Admin token required.",
                                             "message_tech": "ADMIN_TOKEN missing or wrong" if self.admin_token
                                             else "ops pages are disabled: ADMIN_TOKEN is not set"}}).encode()
                start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                                    ("WWW-Authenticate", 'Basic realm="docg-ops"'),
                                                    ("Content-Length", str(len(body)))])
                return [body]
        if path == DASHBOARD_PREFIX:
            # NOTE: the dashboard answers only under the prefix with a slash; the banner prints it without.
            query = environ.get("QUERY_STRING")
            location = f"{DASHBOARD_PREFIX}/{'?' + query if query else ''}"
            start_response("308 Permanent Redirect", [("Location", location), ("Content-Type", "text/plain"),
                                                      ("Content-Length", "0")])
            return [b""]
        return self.app(environ, start_response)


def mount(app, *, broker, admin_token):
    """Wrap the Falcon app with the dashboard and the admin gate."""
    from dramatiq.brokers.redis import RedisBroker

    # NOTE: dramatiq_dashboard reads Redis only; on RabbitMQ use its management UI.
    with_dashboard = make_wsgi_middleware(DASHBOARD_PREFIX, broker=broker)(app) \
        if isinstance(broker, RedisBroker) else app
    return AdminGate(with_dashboard, admin_token)


class RunCollector:
    """Prometheus gauges read at scrape time: runs by status, queues, SSE clients."""

    def __init__(self, broker, hub, admission):
        self.broker, self.hub, self.admission = broker, hub, admission

    def describe(self):
        return []

    def collect(self):
        runs = GaugeMetricFamily("docg_executions", "Executions by status", labels=["status"])
        for status, count in Execution.select(Execution.status, fn.COUNT(Execution.id)).group_by(Execution.status).tuples():
            runs.add_metric([status], count)
        yield runs
        depth = GaugeMetricFamily("docg_queue_messages", "Messages waiting per Dramatiq queue", labels=["queue"])
        for queue_name in sorted(self.broker.get_declared_queues()):
            depth.add_metric([queue_name], queue_depth(self.broker, queue_name))
        yield depth
        clients = GaugeMetricFamily("docg_sse_clients", "SSE clients connected to this process")
        clients.add_metric([], self.hub.client_count)
        yield clients
        streams = GaugeMetricFamily("docg_sse_streams", "SSE streams open in this process (replaying or live)")
        streams.add_metric([], self.admission.open_count)
        yield streams
        limit = GaugeMetricFamily("docg_sse_stream_limit", "SSE streams this process admits before answering 503")
        limit.add_metric([], self.admission.limit)
        yield limit


class Metrics:
    auth = "public"

    def __init__(self, broker, hub, admission):
        self.registry = CollectorRegistry()
        self.registry.register(RunCollector(broker, hub, admission))

    def on_get(self, req, resp):
        resp.content_type = "text/plain; version=0.0.4"
        resp.data = generate_latest(self.registry)
