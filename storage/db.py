"""Connect the one Peewee DatabaseProxy from configuration.

Models bind to `database` (a proxy); `init()` points it at a pooled
PostgreSQL connection. Connections are opened and closed explicitly around
each request (web middleware) and each message (Dramatiq middleware).
"""
import contextlib
from urllib.parse import parse_qs, unquote, urlparse

import peewee
from playhouse.postgres_ext import PooledPostgresqlExtDatabase

database = peewee.DatabaseProxy()


def connect_params(url):
    """Turn a postgresql:// URL (TCP or ?host=/socket/dir) into psycopg2 kwargs."""
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    params = {
        "database": unquote(parsed.path.lstrip("/")) or "postgres",
        "user": unquote(parsed.username or "") or "postgres",
        "host": query.pop("host", None) or parsed.hostname or "localhost",
    }
    if parsed.password:
        params["password"] = unquote(parsed.password)
    if parsed.port:
        params["port"] = parsed.port
    params.update(query)
    return params


def init(url, *, max_connections=20):
    """Bind the proxy to a pooled database for `url` and return it."""
    db = PooledPostgresqlExtDatabase(
        autoconnect=False,
        max_connections=max_connections,
        stale_timeout=300,
        timeout=10,
        register_hstore=False,
        **connect_params(url),
    )
    database.initialize(db)
    return db


@contextlib.contextmanager
def connection():
    """Hold a pooled connection for the block (reentrant)."""
    opened = database.connect(reuse_if_open=True)
    try:
        yield database
    finally:
        if opened and not database.in_transaction():
            database.close()
