"""Scrape-time gauges of the whole deployment, served by the clock process.

Each scrape reads PostgreSQL and Redis once per gauge family; a failing
read drops that family from the scrape (and is logged) rather than
failing the whole page.
"""
import logging

from prometheus_client.core import GaugeMetricFamily

from storage.db import database
from telemetry.metrics import oldest_message_age

log = logging.getLogger("docg.metrics")

_WAITS_DUE = """
SELECT (SELECT count(*) FROM workflow_approvals WHERE status = 'pending' AND expires_at <= now())
     + (SELECT count(*) FROM signature_requests WHERE status IN ('sent', 'pending') AND expires_at <= now())
"""
_OUTBOX_COLUMNS = """
SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'execution_events'
"""


OUTBOX_WINDOW_SECONDS = 3600
_RECENT = """
SELECT execution_id, max(seq) FROM execution_events
WHERE created_at > now() - make_interval(secs => %s) GROUP BY execution_id
"""
#: stream ids above this were written before the outbox (they were timestamps)
_LEGACY_ID = 10 ** 12


def behind_runs(redis, window_seconds):
    """[(execution_id, first seq missing from its stream)] of runs with recent outbox events."""
    from storage.events import stream_key

    runs = database.execute_sql(_RECENT, (float(window_seconds),)).fetchall()
    if not runs:
        return []
    pipe = redis.pipeline(transaction=False)
    for execution_id, _ in runs:
        pipe.xrevrange(stream_key(execution_id), count=1)
    behind = []
    for (execution_id, last), newest in zip(runs, pipe.execute()):
        top = int(newest[0][0].decode().partition("-")[0]) if newest else 0
        if top < last and top < _LEGACY_ID:
            behind.append((str(execution_id), top + 1))
    return behind


def outbox_lag(redis, window_seconds):
    """Seconds since the oldest recent outbox event that its run's stream lacks (0 if none)."""
    behind = behind_runs(redis, window_seconds)
    ages = [database.execute_sql("SELECT extract(epoch FROM now() - min(created_at)) FROM execution_events"
                                 " WHERE execution_id = %s AND seq >= %s", (execution_id, seq)).fetchone()[0]
            for execution_id, seq in behind]
    return max((float(age) for age in ages if age is not None), default=0.0)


class ClusterCollector:
    """Runs by status, waits due, queues, dead letters, outbox lag, retention backlog."""

    def __init__(self, broker, settings, redis=None):
        self.broker, self.settings, self.redis = broker, settings, redis

    def describe(self):
        return []

    def collect(self):
        with database.connection_context():
            for family in (self._runs, self._waits_due, self._outbox_lag, self._retention_due, self._queues):
                try:
                    yield from family()
                except Exception:  # noqa: BLE001 - one broken source must not blank the scrape
                    log.exception("metrics family %s failed", family.__name__)

    def _runs(self):
        runs = GaugeMetricFamily("docg_executions", "Executions by status", labels=["status"])
        for status, count in database.execute_sql(
                "SELECT status, count(*) FROM workflow_executions GROUP BY status").fetchall():
            runs.add_metric([status], count)
        yield runs

    def _waits_due(self):
        due = GaugeMetricFamily("docg_waits_due", "Approvals and signature requests past their deadline, still open")
        due.add_metric([], database.execute_sql(_WAITS_DUE).fetchone()[0])
        yield due

    def _outbox_lag(self):
        """Age of the oldest outbox event not yet in its run's Redis stream.

        NOTE: the outbox (`execution_events`: execution_id, seq, created_at;
        stream entry ids `{seq}-0`) comes from another branch; before it
        exists the gauge is 0. Only runs with events in the last
        `OUTBOX_WINDOW_SECONDS` are looked at (the relay's own window).
        """
        lag = GaugeMetricFamily("docg_outbox_lag_seconds", "Age of the oldest event not yet published to Redis")
        columns = {row[0] for row in database.execute_sql(_OUTBOX_COLUMNS).fetchall()}
        value = 0.0
        if {"execution_id", "seq", "created_at"} <= columns and self.redis is not None:
            value = outbox_lag(self.redis, min(OUTBOX_WINDOW_SECONDS, self.settings.redis_stream_ttl))
        lag.add_metric([], float(value))
        yield lag

    def _retention_due(self):
        from storage import retention

        due = GaugeMetricFamily("docg_retention_due_runs", "Ended runs past retention, not yet deleted")
        due.add_metric([], sum(retention.due_counts(self.settings.retention_days).values()))
        yield due

    def _queues(self):
        if not hasattr(self.broker, "client"):  # RabbitMQ: its own management API has these
            return
        client, namespace = self.broker.client, self.broker.namespace
        depth = GaugeMetricFamily("docg_queue_messages", "Messages waiting per Dramatiq queue", labels=["queue"])
        delayed = GaugeMetricFamily("docg_queue_delayed_messages", "Delayed messages per queue", labels=["queue"])
        oldest = GaugeMetricFamily("docg_queue_oldest_message_age_seconds",
                                   "How long the next message of each queue has waited", labels=["queue"])
        dead = GaugeMetricFamily("docg_dead_letter_messages", "Messages in each queue's dead-letter set",
                                 labels=["queue"])
        for queue_name in sorted(self.broker.get_declared_queues()):
            depth.add_metric([queue_name], client.llen(f"{namespace}:{queue_name}"))
            delayed.add_metric([queue_name], client.hlen(f"{namespace}:{queue_name}.DQ.msgs"))
            oldest.add_metric([queue_name], oldest_message_age(client, namespace, queue_name))
            dead.add_metric([queue_name], client.hlen(f"{namespace}:{queue_name}.XQ.msgs"))
        yield from (depth, delayed, oldest, dead)
