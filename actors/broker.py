"""Build the broker with its middleware and make it Dramatiq's broker.

Imported first by `actors/__init__.py`, before any actor is declared. Redis
is the default: a worker that stops heartbeating for `BROKER_HEARTBEAT_MS`
has its unacked messages put back by the next maintenance pass, and
maintenance runs often enough for that to take seconds. `BROKER_URL=amqp://`
selects Dramatiq's RabbitMQ broker instead: RabbitMQ acknowledges per
message, so a killed worker's messages come back as soon as its connection
drops. Redis stays the event store and cache either way.
"""
import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from periodiq import PeriodiqMiddleware

import settings as settings_module
from actors.middleware import CorrelationId, DatabaseConnection, EnvelopeVersion, SmtpConnections
from actors.telemetry import TraceContext, WorkerMetrics
from integrations.base import load_apps
from telemetry import metrics, process_role, tracing

def build_broker(settings, role="web"):
    """The broker named by `BROKER_URL` (Redis when empty), with our middleware.

    A worker group also serves its metrics on `WORKER_METRICS_PORT`
    (telemetry/metrics.py).
    """
    broker = _rabbitmq(settings) if is_amqp(settings.broker_url) else _redis(settings)
    broker.add_middleware(EnvelopeVersion())
    broker.add_middleware(TraceContext())
    broker.add_middleware(WorkerMetrics(serve=role == "worker" and bool(settings.worker_metrics_port)))
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(DatabaseConnection())
    broker.add_middleware(CorrelationId())
    broker.add_middleware(SmtpConnections())
    broker.add_middleware(PeriodiqMiddleware(skip_delay=30))
    return broker


def is_amqp(url):
    return url.startswith(("amqp://", "amqps://"))


def _redis(settings):
    """The Redis broker, on its own bounded pool of `REDIS_POOL_SIZE`
    connections (Dramatiq's default pool is unbounded)."""
    from storage.bootstrap import pooled_redis_client

    return RedisBroker(
        client=pooled_redis_client(settings.redis_url, settings.redis_pool_size, settings.redis_pool_timeout,
                                   role="broker"),
        namespace=settings.broker_namespace,
        heartbeat_timeout=settings.broker_heartbeat_ms,
        maintenance_chance=settings.broker_maintenance_chance,
    )


def _rabbitmq(settings):
    """The RabbitMQ broker; the AMQP heartbeat follows `BROKER_HEARTBEAT_MS`.

    NOTE: confirm_delivery makes `send()` return only once RabbitMQ holds
    the message, as a Redis LPUSH does; the hop commits before it sends.
    """
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    url = settings.broker_url
    if "heartbeat=" not in url:
        url += f"{'&' if '?' in url else '?'}heartbeat={max(1, settings.broker_heartbeat_ms // 1000)}"
    return RabbitmqBroker(url=url, confirm_delivery=True)


def ping(broker):
    """Raise if the broker cannot be reached (for /health)."""
    if isinstance(broker, RedisBroker):
        broker.client.ping()
        return
    connection = broker.connection
    connection.process_data_events(0)


def queue_depth(broker, queue_name):
    """Messages waiting in `queue_name` (not counting delayed ones)."""
    if isinstance(broker, RedisBroker):
        return broker.client.llen(f"{broker.namespace}:{queue_name}")
    return broker.get_queue_message_counts(queue_name)[0]


def setup():
    """Configure storage for this process and install the broker (once)."""
    global broker, services
    settings = settings_module.load()
    role = process_role()
    metrics.prepare(role, settings)
    settings_module.configure_logging(settings.log_level)
    settings_module.refuse_insecure(settings)
    tracing.configure(settings, role)
    from storage import bootstrap, embedded

    settings = embedded.with_servers(settings)

    services = bootstrap.configure(settings)
    load_apps()
    broker = build_broker(settings, role)
    dramatiq.set_broker(broker)
    if role == "clock":
        metrics.serve_clock_metrics(settings, broker, services.redis)
    return broker


broker = None
services = None
setup()
