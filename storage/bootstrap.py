"""Wire the storage layer for one process from Settings."""
import dataclasses
import os

import redis as redis_lib

from storage import db as db_module
from storage import events, fault, fields
from storage.crypto import Keyring
from storage.ledger import Ledger


@dataclasses.dataclass
class Services:
    settings: object
    db: object
    redis: object
    events: events.EventLog
    ledger: Ledger


def redis_client(url, role="app", **kwargs):
    """Return a Redis client whose connections are named for CLIENT LIST."""
    return redis_lib.Redis.from_url(url, health_check_interval=30,
                                    client_name=f"docg-{role}-{os.getpid()}", **kwargs)


def pooled_redis_client(url, size, timeout, role="app"):
    """Return a Redis client on at most `size` connections.

    A caller that finds them all busy waits up to `timeout` seconds for one,
    then gets `redis.ConnectionError`: however many requests or SSE clients a
    process serves, it holds no more Redis connections than this.
    """
    pool = redis_lib.BlockingConnectionPool.from_url(
        url, max_connections=size, timeout=timeout, health_check_interval=30,
        client_name=f"docg-{role}-{os.getpid()}")
    return redis_lib.Redis(connection_pool=pool)


def configure_database(settings):
    """Bind the database and the keyring only (enough for migrations and CLI)."""
    database = db_module.init(settings.database_url, max_connections=settings.db_pool_size,
                               max_idle=settings.db_pool_idle)
    fields.configure(Keyring.from_config(settings.encryption_key, settings.secret_key))
    return database


def configure(settings):
    """Bind the database, keyring and event log for this process; return them."""
    database = configure_database(settings)
    client = pooled_redis_client(settings.redis_url, settings.redis_pool_size, settings.redis_pool_timeout)
    log = events.EventLog(client, maxlen=settings.redis_stream_maxlen, ttl=settings.redis_stream_ttl)
    events.configure(log)
    fault.configure(settings.docg_fault)
    return Services(settings=settings, db=database, redis=client, events=log, ledger=Ledger())
