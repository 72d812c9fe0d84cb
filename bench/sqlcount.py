"""Count the SQL statements a whole process issues, for the bench's worker (env-enabled).

pg_stat_statements needs `shared_preload_libraries`, which a shared or
managed PostgreSQL often lacks, so the bench counts in process instead: with
DOCG_BENCH_SQL_COUNTS set to a directory, `install()` wraps the cursor the
database hands out (every thread, unlike tests/statements.py, which counts
one thread's block) and a daemon thread writes the process's running totals
to `<directory>/<pid>.json` every FLUSH_SECONDS, stamped with the time they
were read. The bench sums the files whose stamp is past the end of its
window, so it never reads a total older than the runs it measured.
"""
import json
import os
import re
import threading
import time

ENV = "DOCG_BENCH_SQL_COUNTS"
FLUSH_SECONDS = 0.1
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class Counts:
    """A process's running totals (thread-safe)."""

    def __init__(self):
        self.lock, self.statements, self.control = threading.Lock(), 0, 0

    def add(self, sql):
        control = bool(CONTROL.match(sql if isinstance(sql, str) else str(sql)))
        with self.lock:
            self.statements += 1
            self.control += control

    def add_transaction(self):
        """One BEGIN and one COMMIT (or ROLLBACK) a driver sent without a cursor."""
        with self.lock:
            self.statements += 2
            self.control += 2

    def snapshot(self):
        with self.lock:
            return {"pid": os.getpid(), "statements": self.statements, "control": self.control, "at": time.time()}


class RecordingCursor:
    """A DB-API cursor that hands the SQL text of what it executes to `record` (also used by tests/statements.py)."""

    def __init__(self, cursor, record):
        self._cursor, self._record = cursor, record

    def execute(self, sql, params=None):
        self._record(sql)
        return self._cursor.execute(sql, params)

    def executemany(self, sql, seq):
        self._record(sql)
        return self._cursor.executemany(sql, seq)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._cursor.close()


def install(database, directory=None):
    """Count `database`'s statements in this process when DOCG_BENCH_SQL_COUNTS (or `directory`) is set."""
    directory = directory or os.environ.get(ENV)
    if not directory:
        return None
    return start_flushing(wrap(database), directory)


def wrap(database):
    """Count every statement `database` (a Peewee Database or its proxy) runs in this process; return the Counts."""
    target = getattr(database, "obj", None) or database
    counts, original = Counts(), target.cursor
    target.cursor = lambda *args, **kwargs: RecordingCursor(original(*args, **kwargs), counts.add)
    return counts


def start_flushing(counts, directory):
    """Write `counts` to `<directory>/<pid>.json` every FLUSH_SECONDS from a daemon thread."""
    path = os.path.join(directory, f"{os.getpid()}.json")

    def flush():
        while True:
            temporary = f"{path}.tmp"
            with open(temporary, "w") as out:
                json.dump(counts.snapshot(), out)
            os.replace(temporary, path)
            time.sleep(FLUSH_SECONDS)

    os.makedirs(directory, exist_ok=True)
    threading.Thread(target=flush, name="bench-sqlcount", daemon=True).start()
    return counts


def totals(directory, processes, after, timeout=10.0):
    """Sum the totals of `processes` processes, each read after `after` (time.time()); None if none count."""
    deadline = time.monotonic() + timeout
    while True:
        snapshots = []
        for name in os.listdir(directory) if os.path.isdir(directory) else ():
            if name.endswith(".json"):
                try:
                    with open(os.path.join(directory, name)) as handle:
                        snapshots.append(json.load(handle))
                except (OSError, ValueError):
                    pass
        fresh = [s for s in snapshots if s["at"] > after]
        if len(fresh) >= processes:
            return {"statements": sum(s["statements"] for s in fresh), "control": sum(s["control"] for s in fresh)}
        if time.monotonic() > deadline:
            return None if not snapshots else {
                "statements": sum(s["statements"] for s in snapshots),
                "control": sum(s["control"] for s in snapshots), "stale": True}
        time.sleep(FLUSH_SECONDS / 2)
