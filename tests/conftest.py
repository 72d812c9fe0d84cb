"""Fixtures on real services: PostgreSQL, Redis, SMTP, dramatiq and gunicorn.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL when set; otherwise the local
PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) when they answer;
otherwise (or with DOCG_TEST_EMBEDDED=1) the embedded default started under
var/test. The schema of the
`docg_test` database is rebuilt from the migrations once per session.

Under pytest-xdist (`make test` runs `-n 3`) each worker process gw<N> gets
its own database (`docg_test_gw<N>`), Redis db (DOCG_TEST_REDIS_DB + N),
ports and VAR_DIR, so the processes share only the servers.

Broker: Redis by default. DOCG_TEST_BROKER=rabbitmq (or a BROKER_URL of
amqp://) runs the pipeline on RabbitMQ in a vhost named after DOCG_TEST_DB,
emptied per session; without a reachable RabbitMQ the e2e tests skip.
"""
import os
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from tests.support import (ROOT, Mailbox, free_port, http_ok, reachable, reset_servers, start_web, start_worker,
                           stop_workers, wait_until)

#: the pytest-xdist worker this process is (gw0, gw1, ...; None without -n): each has its own database,
#: Redis db, ports and var folder, so the suite's processes share nothing but the servers
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_INDEX = int(XDIST_WORKER[2:]) if XDIST_WORKER else 0
TEST_DB = os.environ.get("DOCG_TEST_DB", "docg_test") + (f"_{XDIST_WORKER}" if XDIST_WORKER else "")
TEST_REDIS_DB = int(os.environ.get("DOCG_TEST_REDIS_DB", "12")) + _INDEX
if TEST_REDIS_DB > 15:
    raise pytest.UsageError(f"Redis db {TEST_REDIS_DB} does not exist: with -n N the suite uses "
                            "DOCG_TEST_REDIS_DB ... DOCG_TEST_REDIS_DB+N-1, so that one must be at most 16-N")


def _with_database(url, name):
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def _servers(var_dir):
    from storage import embedded

    db_url, redis_url = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    local = os.environ.get("DOCG_TEST_EMBEDDED") != "1"
    if not db_url:
        if local and reachable("127.0.0.1", 5432):
            admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            admin = _with_database(embedded.ensure_postgres(var_dir), "postgres")
        embedded.create_database_if_missing(admin, TEST_DB)
        db_url = _with_database(admin, TEST_DB)
    if not redis_url:
        if local and reachable("127.0.0.1", 6379):
            redis_url = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"
        else:
            redis_url = f"{embedded.ensure_redis(var_dir)}?db={TEST_REDIS_DB}"
    return db_url, redis_url


def pytest_configure(config):
    var_dir = ROOT / "var" / "test"
    var_dir.mkdir(parents=True, exist_ok=True)
    db_url, redis_url = _servers(var_dir)
    if not XDIST_WORKER and getattr(config.option, "numprocesses", None):
        return  # the xdist controller runs no test: each worker sets its own resources up
    own_var = var_dir / XDIST_WORKER if XDIST_WORKER else var_dir  # mail drop, worker metrics
    own_var.mkdir(exist_ok=True)
    files = Path(tempfile.mkdtemp(prefix="docg-files-"))
    web_port = free_port()
    os.environ.update({
        "DOCG_TEST_WEB_PORT": str(web_port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "VAR_DIR": str(own_var),
        "STORAGE_ROOT": str(files), "SMTP_URL": f"smtp://127.0.0.1:{free_port()}",
        "BROKER_NAMESPACE": "docg-test", "ADMIN_TOKEN": "test-admin-token",
        "SECRET_KEY": "test-secret", "dramatiq_worker_timeout": "100",
        "HOP_MAX_RETRIES": "3", "DB_POOL_SIZE": "16", "DB_POOL_IDLE": "4", "SSE_HEARTBEAT_SECONDS": "1",
        # short waits where a test waits out a timer, not a condition: the browser-like reconnect after a
        # stream ends, and the hub's quiet XREAD (tests/web/test_idle_streams.py sets its own)
        "SSE_RETRY_MS": "200", "SSE_HUB_BLOCK_MS": "1000",
        "CLICKSIGN_WEBHOOK_SECRET": "cs-webhook-secret", "ZAPSIGN_WEBHOOK_SECRET": "zs-webhook-secret",
        "WORKER_METRICS_PORT": "0", "CLOCK_METRICS_PORT": "0",  # tests that scrape pass free ports
        # provider fakes and receivers run on loopback; tests/security starts workers without this
        "OUTBOUND_ALLOW": "127.0.0.1,localhost,::1",
        "ENCRYPTION_KEY": "test:" + "A" * 42 + "Q",
    })
    reset_servers(db_url, redis_url)
    config.docg_broker_missing = _rabbitmq_for_tests()
    if not os.environ.get("BROKER_URL"):
        # NOTE: on Redis a kill -9'd worker's hop comes back once its heartbeat is this old (10 s by
        # default) and a maintenance pass runs; tests that kill workers wait that out. Redis only: on
        # RabbitMQ this is the AMQP heartbeat, and a killed worker's messages come back when its
        # connection drops anyway.
        os.environ.setdefault("BROKER_HEARTBEAT_MS", "3000")
        # A pass on every broker command, not 2 % of them: an idle worker polls a queue every 100-200 ms
        # (dramatiq_worker_timeout plus jitter), so at 2 % the pass on the killed worker's queue came
        # about 7 s after its heartbeat expired on average, and often 15.
        os.environ.setdefault("BROKER_MAINTENANCE_CHANCE", "1000000")


def _rabbitmq_for_tests():
    """Point BROKER_URL at a fresh per-suite vhost when asked; the reason to skip, or None."""
    from tests import rabbit

    wanted = os.environ.get("DOCG_TEST_BROKER") == "rabbitmq" or os.environ.get("BROKER_URL", "").startswith("amqp")
    if not wanted:
        os.environ.pop("BROKER_URL", None)
        return None
    try:
        os.environ["BROKER_URL"] = rabbit.fresh_vhost(f"{TEST_DB}-vhost")
    except rabbit.Unavailable as ex:
        os.environ.pop("BROKER_URL", None)
        return str(ex)
    return None


def pytest_collection_modifyitems(config, items):
    reason = getattr(config, "docg_broker_missing", None)
    if reason:
        skip = pytest.mark.skip(reason=f"RabbitMQ variant asked for but {reason}")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def services():
    from actors import broker

    return broker.services


@pytest.fixture(scope="session")
def broker(services):
    from actors import broker as broker_module

    return broker_module.broker


@pytest.fixture(scope="session")
def redis(services):
    return services.redis


@pytest.fixture(scope="session")
def app(services, broker):
    from web.app import create_app

    return create_app(services, broker=broker)


@pytest.fixture
def client(app):
    import falcon.testing

    return falcon.testing.TestClient(app)


@pytest.fixture
def db(services):
    with services.db.connection_context():
        yield services.db


class Org:
    def __init__(self, organization_id, token):
        self.id, self.token = str(organization_id), token
        self.headers = {"Authorization": f"Bearer {token}", "X-Organization-ID": self.id}


@pytest.fixture
def org(db):
    from storage import tenancy

    organization, token = tenancy.create_organization(f"org-{uuid.uuid4().hex[:6]}")
    return Org(organization.id, token)


@pytest.fixture
def other_org(db):
    from storage import tenancy

    organization, token = tenancy.create_organization("other")
    return Org(organization.id, token)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("process-logs")


@pytest.fixture(scope="session")
def mailbox():
    port = urlparse(os.environ["SMTP_URL"]).port
    box = Mailbox(port).start()
    yield box
    box.stop()


class SharedWorker:
    """The `dramatiq actors` process that the `worker` fixture hands out, reused from module to module.

    NOTE: a worker costs 3-5 s to start and stop, and most test modules ask
    for one. A module still has one from its first test that asks for
    `worker` to its end, and none before (or at all, if it never asks):
    `_worker_only_where_asked` stops it for those tests (tests with their
    own processes decide who holds a hop), so a test sees a worker exactly
    when a module-scoped one would have been up. Its log starts afresh for
    each module.
    """

    made = []  # the session's one SharedWorker, once a test asked for it

    def __init__(self, logs_dir):
        self.logs_dir, self.process = logs_dir, None
        SharedWorker.made.append(self)

    def ensure(self):
        if self.process is None or self.process.proc.poll() is not None:
            self.process = start_worker(self.logs_dir)
        return self.process

    def stop(self, wait=False):
        process, self.process = self.process, None
        if process is not None and wait:
            process.stop()
        elif process is not None:
            stop_workers([process])


@pytest.fixture(scope="session")
def shared_worker(services, mailbox, logs_dir):
    shared = SharedWorker(logs_dir)
    yield shared
    shared.stop(wait=True)


@pytest.fixture(scope="module")
def worker(shared_worker):
    """A real `dramatiq actors` process for the test module (see SharedWorker)."""
    process = shared_worker.ensure()
    process.mark_log()
    return process


def _asks_for_the_shared_worker(item):
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).get("worker")
    return bool(defs) and getattr(defs[-1].func, "__module__", "") == __name__


def pytest_collection_finish(session):
    """Flag each test that runs with the shared worker up: one in a module where a test at or before it asked."""
    asked = set()
    for item in session.items:
        module = item.nodeid.split("::")[0]
        if _asks_for_the_shared_worker(item):
            asked.add(module)
        item.docg_worker_up = module in asked


@pytest.fixture(autouse=True)
def _worker_only_where_asked(request):
    if not getattr(request.node, "docg_worker_up", False):
        for shared in SharedWorker.made:
            shared.stop()


@pytest.fixture
def quiet_pipeline(db, broker):
    """No run an earlier test left moving, and no message of one still queued.

    For a test that runs the reaper over the whole database, or arms a worker
    to die at the first hop it takes: the runs earlier tests left unfinished
    are canceled (those tests are over) and the broker's queues are emptied.
    """
    from storage import runstate
    from storage.models import Execution, utcnow

    Execution.update(status="canceled", completed_at=utcnow()).where(
        Execution.status.not_in(sorted(runstate.TERMINAL))).execute()
    broker.flush_all()


@pytest.fixture
def table_lock():
    """Hold a PostgreSQL table lock from another connection; released after the test."""
    import psycopg2

    from storage.db import connect_params

    conn = psycopg2.connect(**connect_params(os.environ["DATABASE_URL"]))

    def lock(table, mode):
        conn.cursor().execute(f"LOCK TABLE {table} IN {mode} MODE")
        return conn

    yield lock
    conn.rollback()
    conn.close()


@pytest.fixture
def spawn_worker(services, mailbox, logs_dir):
    """Start extra `dramatiq actors` processes; all are stopped after the test."""
    started = []

    def spawn(**options):
        process = start_worker(logs_dir, **options)
        started.append(process)
        return process

    yield spawn
    stop_workers(started)


@pytest.fixture(scope="session")
def web_server(services, logs_dir):
    """A real gunicorn (gevent) serving the app; `.base` is its URL."""
    port = int(os.environ["DOCG_TEST_WEB_PORT"])
    process = start_web(logs_dir, port)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{base}/health"), 60, message="web health")
    process.base = base
    yield process
    process.stop()


@pytest.fixture
def broken_web(logs_dir):
    """Start a web process whose PostgreSQL or Redis URL points at a closed port."""
    started = []

    def start(variable):
        port = free_port()
        dead = {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/docg",
                "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}[variable]
        env = {variable: dead}
        if variable == "REDIS_URL" and os.environ.get("BROKER_URL"):
            # NOTE: on Redis the broker dies with Redis; on RabbitMQ the same outage takes both down.
            env["BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{free_port()}/x?connection_attempts=1"
        started.append(start_web(logs_dir, port, env=env))
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def files_root():
    return Path(os.environ["STORAGE_ROOT"])
