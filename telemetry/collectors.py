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


class ClusterCollector:
    """Runs by status, waits due, queues, dead letters, outbox lag, retention backlog."""

    def __init__(self, broker, settings):
        self.broker, self.settings = broker, settings

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
        """Age of the oldest unpublished outbox row, when the outbox table exists.

        NOTE: the outbox (`execution_events`) comes from another branch; the
        gauge reads it only if it has `created_at` and one of `published_at`
        / `delivered_at`, and reports 0 otherwise.
        """
        columns = {row[0] for row in database.execute_sql(_OUTBOX_COLUMNS).fetchall()}
        marker = next((c for c in ("published_at", "delivered_at") if c in columns), None)
        lag = GaugeMetricFamily("docg_outbox_lag_seconds", "Age of the oldest event not yet published to Redis")
        value = 0.0
        if marker and "created_at" in columns:
            value = database.execute_sql(
                f"SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM execution_events"
                f" WHERE {marker} IS NULL").fetchone()[0]
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
