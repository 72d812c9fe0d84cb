"""Count the SQL statements a block issues on this thread, in process (tests and bench only).

Every statement Peewee sends, including its BEGIN/COMMIT/ROLLBACK and
savepoints (which Peewee issues as plain statements, the connection being
in autocommit mode), goes through `Database.cursor().execute`; the counter
wraps the cursor the database hands out, so it sees them all, and only for
the thread that opened the block.
"""
import contextlib
import threading

from bench.sqlcount import CONTROL, RecordingCursor


class Statements(list):
    """The statements recorded, in order (SQL text, with placeholders)."""

    @property
    def control(self):
        return [s for s in self if CONTROL.match(s)]

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
        return RecordingCursor(real, recorded.append) if threading.get_ident() == thread else real

    target.cursor = cursor
    try:
        yield recorded
    finally:
        del target.cursor
