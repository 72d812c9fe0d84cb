"""Connect the one Peewee DatabaseProxy from configuration.

Models bind to `database` (a proxy); `init()` points it at a pooled
PostgreSQL connection. Connections are opened and closed explicitly around
each request (web middleware) and each message (Dramatiq middleware).
"""
import contextlib
import re
import time
import weakref
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
    if not params["host"].startswith("/"):
        for name, value in TCP_KEEPALIVES.items():
            params.setdefault(name, value)
    return params


#: NOTE: a worker host that vanishes (power, network) never closes its TCP
#: connections, and PostgreSQL keeps their sessions, with the step claims
#: (advisory locks) they hold, until TCP gives up: two hours by default.
#: These probe both ends of an idle connection and drop a dead one in about
#: 11 s. `options` in DATABASE_URL replaces the server half (PgBouncer wants
#: `ignore_startup_parameters = options`, or set them in postgresql.conf).
TCP_KEEPALIVES = {
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 "
               "-c tcp_user_timeout=15000",
}


class Pool(PooledPostgresqlExtDatabase):
    """Peewee's pool, without a round trip on every checkout.

    Peewee pings each pooled connection with `SELECT 1` when it is checked
    out, inside the pool lock, so every request and every hop paid a round
    trip while the other callers queued on the lock. A connection returned
    idle less than PING_AFTER seconds ago is handed out without it (psycopg2
    still reports a connection it saw break as closed); older ones are pinged
    as before, which catches connections a database restart or a network
    timeout killed while they sat in the pool.
    """

    PING_AFTER = 10.0

    def __init__(self, *args, max_idle=None, **kwargs):
        self._returned = {}
        self.max_idle = max_idle
        super().__init__(*args, **kwargs)

    def _close(self, conn, close_conn=False):
        # beyond `max_idle` spare connections, a returned one is closed: a process keeps the connections its
        # usual concurrency needs, not every one a burst opened (they count against max_connections)
        close_conn = close_conn or (self.max_idle is not None and len(self._connections) >= self.max_idle)
        super()._close(conn, close_conn)
        if not close_conn and not conn.closed:
            self._returned[id(conn)] = time.monotonic()

    def _is_closed(self, conn):
        returned = self._returned.pop(id(conn), None)
        if (returned is not None and time.monotonic() - returned < self.PING_AFTER and not conn.closed
                and self._adapter.txn_status(conn) == self._adapter.txn_idle):
            return False
        return super()._is_closed(conn)


def init(url, *, max_connections=20, max_idle=None):
    """Bind the proxy to a pooled database for `url` and return it (`max_idle`: see Pool._close)."""
    db = Pool(
        autoconnect=False,
        max_connections=max_connections,
        max_idle=max_idle,
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


#: SQLSTATE of EXECUTE of a statement the session does not have
INVALID_STATEMENT_NAME = "26000"


class Prepared:
    """A hot statement prepared once per connection: parsed and planned once, then only EXECUTEd.

    `sql` uses pyformat parameters (`%(name)s`), as `execute_sql` takes
    them. Planning the hop's CLAIM and COMMIT (storage/hop.py) cost about
    0.5 and 0.3 ms of PostgreSQL CPU on every run of them, a quarter of a
    hop's; a prepared statement is planned on its first runs only.

    NOTE: the first run on a connection sends `PREPARE ...; EXECUTE ...` in
    one round trip, so it is still one statement. If that fails, whether
    the PREPARE took is unknown, so the connection's next run prepares it
    under a new name (`name_2`, ...) instead of colliding with it; one the
    server no longer has (SQLSTATE 26000) is prepared again. A pooler in
    transaction mode would lose them between transactions: not supported,
    as for the claim's session lock (docs/scaling.md).
    """

    def __init__(self, name, sql):
        self.name = name
        names = []

        def number(match):
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        self.body = re.sub(r"%\((\w+)\)s", number, sql).replace("%", "%%")
        self.names = tuple(names)
        self.arguments = ", ".join(["%s"] * len(names))
        #: connection -> (generation, prepared): the statement's name there is name, name_2, ...
        self._state = weakref.WeakKeyDictionary()

    def execute(self, db, params):
        """Run it with `params` (a dict) on `db`'s connection; return the cursor."""
        conn = db.connection()
        generation, prepared = self._state.get(conn, (1, False))
        name = self.name if generation == 1 else f"{self.name}_{generation}"
        text = f"EXECUTE {name}({self.arguments})"
        if not prepared:
            text = f"PREPARE {name} AS {self.body}; {text}"
        try:
            cursor = db.execute_sql(text, tuple(params[key] for key in self.names))
        except peewee.DatabaseError as ex:
            cause = ex.__cause__ or ex.__context__  # peewee re-raises psycopg2's error as its own
            lost = getattr(cause, "pgcode", None) == INVALID_STATEMENT_NAME  # the server forgot it
            self._state[conn] = (generation + 1, False) if not prepared or lost else (generation, True)
            raise
        self._state[conn] = (generation, True)
        return cursor
