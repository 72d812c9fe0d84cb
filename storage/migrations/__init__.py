"""Numbered schema migrations; `apply()` runs the pending ones in order.

Each module `NNNN_name.py` has `up(db)` and `down(db)`. Applied versions are
recorded in `schema_migrations`. A PostgreSQL advisory lock makes concurrent
`docg migrate` calls (release phase, test workers) safe.
"""
import importlib
import pkgutil

LOCK_KEY = 0x0D0C6


def available():
    """Return [(version, module)] of every migration module, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        head, _, _ = info.name.partition("_")
        if head.isdigit():
            found.append((int(head), importlib.import_module(f"{__name__}.{info.name}")))
    return sorted(found, key=lambda pair: pair[0])


def applied(db):
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    return {row[0] for row in db.execute_sql("SELECT version FROM schema_migrations")}


def apply(db, *, target=None):
    """Apply pending migrations up to `target`; return the versions applied."""
    done = []
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        already = applied(db)
        for version, module in available():
            if version in already or (target is not None and version > target):
                continue
            module.up(db)
            db.execute_sql(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (version, module.__name__.rsplit(".", 1)[-1]),
            )
            done.append(version)
    return done


def rollback(db, *, target):
    """Undo applied migrations newer than `target`, newest first."""
    undone = []
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        already = applied(db)
        for version, module in reversed(available()):
            if version in already and version > target:
                module.down(db)
                db.execute_sql("DELETE FROM schema_migrations WHERE version = %s", (version,))
                undone.append(version)
    return undone
