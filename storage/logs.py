"""Human-readable execution logs (seed F5): ok/warn/error per domain."""
from storage.models import ExecutionLog

LEVELS = ("ok", "warn", "error")
DOMAINS = ("preflight", "step", "delivery", "signature", "approval")


def write(execution, level, domain, message_human, details_tech=None, step_id=None):
    return ExecutionLog.create(
        execution=execution.id, organization_id=execution.organization_id, level=level,
        domain=domain, message_human=message_human, details_tech=details_tech,
        step_id=step_id, correlation_id=execution.correlation_id)
