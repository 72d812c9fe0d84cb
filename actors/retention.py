"""periodiq job: retention (ended runs past retention_days, old audit months)."""
import dramatiq
from periodiq import cron

from actors.broker import services
from actors.scheduled import tick
from storage import retention
from telemetry import metrics


def apply_retention():
    """Delete what retention says must go; return the report's counts for the log."""
    report = retention.apply(services.settings, redis=services.redis)
    if report["runs"]:
        metrics.instruments().retention_deleted.inc(report["runs"])
    return {"runs": report["runs"], "audit_partitions": report["audit_partitions"]}


@dramatiq.actor(periodic=cron("17 * * * *"), queue_name="clock", max_retries=0)
def enforce_retention():
    tick("enforce_retention", apply_retention)
