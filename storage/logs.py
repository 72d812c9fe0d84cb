"""Human-readable execution logs (seed F5): ok/warn/error per domain."""
from storage.models import ExecutionLog

LEVELS = ("ok", "warn", "error")
DOMAINS = ("preflight", "step", "delivery", "signature", "approval")


def entry(execution, level, domain, message_human, details_tech=None, step_id=None):
    """Return the INSERT of one log line, for `write` or to run inside another statement."""
    return ExecutionLog.insert(
        execution=execution.id, organization_id=execution.organization_id, level=level,
        domain=domain, message_human=message_human, details_tech=details_tech,
        step_id=step_id, correlation_id=execution.correlation_id)


def write(execution, level, domain, message_human, details_tech=None, step_id=None):
    entry(execution, level, domain, message_human, details_tech, step_id).execute()


#: the columns `insert_from`'s SELECT yields, in this order
COLUMNS = ("execution_id", "organization_id", "level", "domain", "message_human", "details_tech", "step_id",
           "correlation_id", "timestamp")


def insert_from(select_sql):
    """Return the SQL INSERT of the log lines `select_sql` yields (COLUMNS), for a fixed hot statement."""
    return f"INSERT INTO execution_logs ({', '.join(COLUMNS)}){select_sql}"
