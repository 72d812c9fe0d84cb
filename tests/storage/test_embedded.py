"""The embedded default: real PostgreSQL 18 and Redis under a var dir."""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg2
import pytest
import redis

from storage import embedded

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def var_dir():
    # NOTE: a short path under /tmp keeps both sockets inside the var dir.
    path = Path(tempfile.mkdtemp(prefix="docg-", dir="/tmp"))
    yield path
    embedded.stop(path)
    shutil.rmtree(path, ignore_errors=True)


def in_subprocess(function, var_dir):
    """Call `embedded.<function>(var_dir)` in a fresh interpreter; return its URL."""
    code = "import sys; from pathlib import Path; from storage import embedded; "
    code += f"print(embedded.{function}(Path(sys.argv[1])))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(var_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def query(url, statement):
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone()[0] if cur.description else None
    finally:
        conn.close()


def test_postgres_starts_once_and_is_shared_by_other_processes(var_dir):
    # Given a fresh var dir, when the embedded PostgreSQL is ensured
    url = embedded.ensure_postgres(var_dir)

    # Then it is a real PostgreSQL 18 serving the docg database over a socket
    assert query(url, "SELECT version()").startswith("PostgreSQL 18")
    assert query(url, "SELECT current_database()") == "docg"
    assert query(url, "SHOW listen_addresses") == ""
    started = query(url, "SELECT pg_postmaster_start_time()")

    # When another process ensures it, then it gets the same running server
    assert in_subprocess("ensure_postgres", var_dir) == url
    assert query(url, "SELECT pg_postmaster_start_time()") == started
    # And the server outlived that process
    assert embedded.ensure_postgres(var_dir) == url


def test_create_database_if_missing_is_idempotent(var_dir):
    url = embedded.ensure_postgres(var_dir)
    admin_url = url.replace("/docg?", "/postgres?")

    embedded.create_database_if_missing(admin_url, "docg_test")
    embedded.create_database_if_missing(admin_url, "docg_test")

    assert query(admin_url, "SELECT count(*) FROM pg_database WHERE datname = 'docg_test'") == 1
    assert query(url.replace("/docg?", "/docg_test?"), "SELECT current_database()") == "docg_test"


def test_redis_starts_once_and_is_shared_by_other_processes(var_dir):
    # Given a fresh var dir, when the embedded Redis is ensured
    url = embedded.ensure_redis(var_dir)

    # Then redis-py reaches it on the unix socket inside the var dir
    assert url == f"unix://{var_dir / 'redis' / 'redis.sock'}"
    client = redis.Redis.from_url(url)
    assert client.ping()
    info = client.info("server")
    assert client.config_get("port")["port"] == "0"
    assert client.config_get("appendonly")["appendonly"] == "yes"

    # When another process ensures it, then it gets the same server
    assert in_subprocess("ensure_redis", var_dir) == url
    assert redis.Redis.from_url(url).info("server")["process_id"] == info["process_id"]
    client.close()


def test_stop_ends_both_servers_and_a_restart_keeps_the_data(var_dir):
    # Given both servers running, with a row and a queued message
    pg_url = embedded.ensure_postgres(var_dir)
    redis_url = embedded.ensure_redis(var_dir)
    query(pg_url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('row')")
    client = redis.Redis.from_url(redis_url)
    client.rpush("queue", "message")
    client.close()

    # When they are stopped (twice: stopping is idempotent)
    embedded.stop(var_dir)
    embedded.stop(var_dir)

    # Then neither answers
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(pg_url, connect_timeout=2)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_url).ping()

    # When they are ensured again, then both come back with their data
    assert embedded.ensure_postgres(var_dir) == pg_url
    assert query(pg_url, "SELECT v FROM kept") == "row"
    assert embedded.ensure_redis(var_dir) == redis_url
    assert redis.Redis.from_url(redis_url).lrange("queue", 0, -1) == [b"message"]


def test_a_deep_var_dir_moves_the_sockets_to_short_paths(var_dir):
    # Given a var dir whose socket paths would exceed the unix socket limit
    deep = var_dir / ("d" * 100)
    deep.mkdir()
    try:
        # When both servers are ensured
        pg_url = embedded.ensure_postgres(deep)
        redis_url = embedded.ensure_redis(deep)

        # Then their sockets live in short directories and both answer
        pg_socket_dir = parse_qs(urlparse(pg_url).query)["host"][0]
        redis_socket = urlparse(redis_url).path
        assert len(pg_socket_dir) + len("/.s.PGSQL.5432") < embedded.SUN_PATH_MAX
        assert len(redis_socket) < embedded.SUN_PATH_MAX
        assert redis_socket.startswith("/tmp/docg-redis-")
        assert query(pg_url, "SELECT 1") == 1
        assert redis.Redis.from_url(redis_url).ping()
    finally:
        embedded.stop(deep)
        shutil.rmtree(embedded.redis_socket_path(deep).parent, ignore_errors=True)
