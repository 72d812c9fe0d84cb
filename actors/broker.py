"""Build the Redis broker with its middleware and make it Dramatiq's broker.

Imported first by `actors/__init__.py`, before any actor is declared. The
broker is tuned for crash safety: a worker that stops heartbeating for
`BROKER_HEARTBEAT_MS` has its unacked messages put back by the next
maintenance pass, and maintenance runs often enough for that to take seconds.
"""
import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from periodiq import PeriodiqMiddleware

import settings as settings_module
from actors.middleware import CorrelationId, DatabaseConnection
from integrations.base import load_apps

#: out of a million broker commands, how many trigger requeue maintenance
MAINTENANCE_CHANCE = 20000


def build_broker(settings):
    """The broker, on its own bounded pool of `REDIS_POOL_SIZE` connections
    (Dramatiq's default pool is unbounded)."""
    from storage.bootstrap import pooled_redis_client

    broker = RedisBroker(
        client=pooled_redis_client(settings.redis_url, settings.redis_pool_size, settings.redis_pool_timeout,
                                   role="broker"),
        namespace=settings.broker_namespace,
        heartbeat_timeout=settings.broker_heartbeat_ms,
        maintenance_chance=MAINTENANCE_CHANCE,
    )
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(DatabaseConnection())
    broker.add_middleware(CorrelationId())
    broker.add_middleware(PeriodiqMiddleware(skip_delay=30))
    return broker


def setup():
    """Configure storage for this process and install the broker (once)."""
    global broker, services
    settings = settings_module.load()
    settings_module.configure_logging(settings.log_level)
    settings_module.refuse_insecure(settings)
    from storage import bootstrap, embedded

    settings = embedded.with_servers(settings)

    services = bootstrap.configure(settings)
    load_apps()
    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    return broker


broker = None
services = None
setup()
