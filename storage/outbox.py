"""The transactional event outbox: run events in PostgreSQL, numbered per run.

`append()` is one statement run inside the transaction of the state change
that caused the events: it bumps the run's `event_seq` (which takes the run's
row lock) and inserts the batch with the numbers that follow. Two
transactions that emit for the same run are therefore serialised on that
lock, and `seq` grows in commit order without gaps. The numbers are the SSE
ids (`{seq}-0`) and the Redis stream ids the relay publishes under, which is
what makes publishing idempotent (storage/events.py).
"""
import json

from storage.db import database

APPEND = """
WITH input AS (
    SELECT e.ord, (e.value->>'execution_id')::uuid AS execution_id, e.value AS event
    FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(value, ord)),
counts AS (SELECT execution_id, count(*)::int AS n FROM input GROUP BY execution_id),
bumped AS (
    UPDATE workflow_executions x SET event_seq = x.event_seq + c.n FROM counts c
    WHERE x.id = c.execution_id RETURNING x.id, x.event_seq - c.n AS base)
INSERT INTO execution_events (execution_id, seq, organization_id, event_type, event)
SELECT i.execution_id, b.base + row_number() OVER (PARTITION BY i.execution_id ORDER BY i.ord),
       (i.event->>'organization_id')::uuid, i.event->>'event_type', i.event
FROM input i JOIN bumped b ON b.id = i.execution_id
ORDER BY i.ord
RETURNING event->>'event_id', seq
"""

HISTORY = """
SELECT seq, event_type, event::text FROM execution_events
WHERE execution_id = %s AND seq > %s ORDER BY seq LIMIT %s
"""

RECENT = """
SELECT x.id, x.organization_id, x.event_seq FROM workflow_executions x
WHERE x.id IN (SELECT DISTINCT execution_id FROM execution_events
               WHERE created_at > now() - make_interval(secs => %s))
"""


def append(events):
    """Insert `events` (dicts); return their `seq` numbers. Run it inside the caller's transaction."""
    if not events:
        return []
    cursor = database.execute_sql(APPEND, (json.dumps(events, default=str),))
    numbers = dict(cursor.fetchall())
    return [numbers[event["event_id"]] for event in events]


def history(execution_id, after=0, limit=500):
    """[(seq, event_type, event JSON text)] of the run after `after`, oldest first."""
    return database.execute_sql(HISTORY, (str(execution_id), int(after), int(limit))).fetchall()


def bounds(execution_id):
    """(first seq kept, last seq handed out) of a run; first is None when none is kept."""
    row = database.execute_sql(
        "SELECT (SELECT min(seq) FROM execution_events WHERE execution_id = x.id), x.event_seq"
        " FROM workflow_executions x WHERE x.id = %s", (str(execution_id),)).fetchone()
    return (row[0], row[1]) if row else (None, 0)


def recent_runs(window_seconds):
    """(execution_id, organization_id, last seq) of runs with events newer than the window."""
    return database.execute_sql(RECENT, (float(window_seconds),)).fetchall()
