"""CPU seconds from /proc: worker processes, and the PostgreSQL backends that serve them.

Stdlib and psutil only, so bench/dbos_peer.py can use it from its own venv.
The server is local, so a backend's CPU is its process's utime + stime; the
backends of a set of client processes are found by their client ports (a
connection's local port on our side is `client_port` in pg_stat_activity),
which leaves the bench's own connections (run creation, polling) out.
"""
import contextlib
import os

import psutil

_TICK = os.sysconf("SC_CLK_TCK")


def process_tree(pid):
    """Return the pids of `pid` and all of its descendants that are alive."""
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]
    return []


def cpu_seconds(pid):
    """utime + stime of one process (0 when it is gone); /proc/<pid>/stat is readable for any user."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def tree_cpu(pid):
    return sum(cpu_seconds(p) for p in process_tree(pid))


def client_ports(pids, server_port=5432):
    """The local TCP ports of `pids`' connections to PostgreSQL."""
    ports = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port == server_port:
                    ports.add(conn.laddr.port)
    return ports


BACKENDS_SQL = "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL"


class Backends:
    """CPU of the PostgreSQL backends serving a process tree, as a delta over a window.

    `query(sql)` returns rows of (backend pid, client port). NOTE: a backend
    opened during the window starts from 0 and is added at the end; one that
    closed during it is lost, which pools make rare.
    """

    def __init__(self, query, roots, server_port=5432):
        self.query, self.roots, self.server_port, self.start = query, list(roots), server_port, {}

    def _now(self):
        ports = client_ports((p for root in self.roots for p in process_tree(root)), self.server_port)
        return {pid: cpu_seconds(pid) for pid, port in self.query(BACKENDS_SQL) if port in ports}

    def begin(self):
        self.start = self._now()

    def end(self):
        """Return (CPU seconds over the window, backends seen)."""
        now = self._now()
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items()), len(now)


def redis_commands(client):
    """Total commands the Redis server has run (INFO commandstats), server-wide."""
    return sum(stat["calls"] for stat in client.info("commandstats").values())


_DATABASE = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
_CONTROL = r"'^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)'"
STAT_STATEMENTS_SQL = (f"SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE query ~* {_CONTROL}), 0) "
                       f"FROM pg_stat_statements WHERE {_DATABASE}")


def stat_statements(query):
    """Return None when pg_stat_statements counts this database (creating the extension), else why not.

    `query(sql)` runs one statement and returns its rows. NOTE: CREATE EXTENSION
    works without the library, but reading the view then fails unless
    `shared_preload_libraries` has pg_stat_statements, so that is checked first.
    """
    try:
        preload = query("SHOW shared_preload_libraries")[0][0]
        if "pg_stat_statements" not in preload:
            return f"pg_stat_statements is not in shared_preload_libraries ({preload!r})"
        query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        query(STAT_STATEMENTS_SQL)
    except Exception as ex:  # noqa: BLE001 — any failure means: count in process instead
        return f"pg_stat_statements unusable: {type(ex).__name__}: {str(ex).strip()[:120]}"
    return None
