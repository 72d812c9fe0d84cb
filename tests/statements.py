"""Count the SQL statements a block issues on this thread, in process (tests and bench only).

Every statement Peewee sends, including its BEGIN/COMMIT/ROLLBACK and
savepoints (which Peewee issues as plain statements, the connection being
in autocommit mode), goes through `Database.cursor().execute`; the counter
wraps the cursor the database hands out, so it sees them all, and only for
the thread that opened the block.
"""
import contextlib
import re
import threading

_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class _Cursor:
    """A psycopg2 cursor that records what it executes."""

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


class Statements(list):
    """The statements recorded, in order (SQL text, with placeholders)."""

    @property
    def control(self):
        return [s for s in self if _CONTROL.match(s)]

    def listing(self):
        return "\n".join(f"{i + 1:3}. {' '.join(s.split())[:160]}" for i, s in enumerate(self))


@contextlib.contextmanager
def counting(database):
    """Record the statements `database` (a Peewee Database or its proxy) runs on this thread."""
    target = getattr(database, "obj", None) or database
    recorded, thread = Statements(), threading.get_ident()
    original = target.cursor

    def cursor(*args, **kwargs):
        real = original(*args, **kwargs)
        return _Cursor(real, recorded.append) if threading.get_ident() == thread else real

    target.cursor = cursor
    try:
        yield recorded
    finally:
        del target.cursor
