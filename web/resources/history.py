"""Execution logs and audit trails (a run's, the organization's), paged with stable cursors."""
import datetime
import uuid

from storage import audit, executions, pages
from storage.models import AuditEvent, ExecutionLog
from storage.logs import DOMAINS, LEVELS
from web.errors import Unprocessable


def _choice(req, name, allowed):
    value = req.get_param(name)
    if value is not None and value not in allowed:
        raise Unprocessable(f"{name} must be one of {', '.join(allowed)}.", f"{name}={value!r}")
    return value


MAX_LIMIT = 100


def _limit(req):
    """The page size: 50 by default, above 100 capped at 100 (seed F5), never below 1."""
    return min(req.get_param_as_int("limit", min_value=1, default=50), MAX_LIMIT)


def _text(req, name, limit=200):
    """A free-text filter: PostgreSQL text cannot hold NUL, and no stored value is longer than `limit`."""
    value = req.get_param(name)
    if value is not None and ("\x00" in value or len(value) > limit):
        raise Unprocessable(f"{name} must be text of at most {limit} characters, without NUL.",
                            f"{name} of {len(value)} characters", code="invalid_text")
    return value


def _moment(req, name):
    value = req.get_param(name)
    if value is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as ex:
        raise Unprocessable(f"{name} must be an ISO 8601 date-time.", f"{name}={value[:100]!r}") from ex
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def serialize_log(row):
    """A log row with its English text; web.middleware.Localize renders it in the reader's language by key."""
    return {"id": row.id, "execution_id": str(row.execution_id), "level": row.level, "domain": row.domain,
            "message_human": row.message_human, "message_key": row.message_key,
            "message_params": row.message_params, "message_tech": row.details_tech,
            "details_tech": row.details_tech, "step_id": str(row.step_id) if row.step_id else None,
            "correlation_id": str(row.correlation_id) if row.correlation_id else None,
            "timestamp": row.timestamp.isoformat()}


def serialize_audit(row):
    return {"id": row.id, "organization_id": str(row.organization_id), "timestamp": row.created_at.isoformat(),
            "execution_id": str(row.execution_id) if row.execution_id else None, "action": row.action,
            "actor_type": row.actor_type, "actor_id": row.actor_id,
            "target_type": row.target_type, "target_id": row.target_id, "metadata": row.metadata,
            "correlation_id": str(row.correlation_id) if row.correlation_id else None,
            "created_at": row.created_at.isoformat(), "hash": row.hash}


class ExecutionLogs:
    auth = "stream"

    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        query = ExecutionLog.select().where(ExecutionLog.execution == execution.id)
        level, domain = _choice(req, "level", LEVELS), _choice(req, "domain", DOMAINS)
        if level:
            query = query.where(ExecutionLog.level == level)
        if domain:
            query = query.where(ExecutionLog.domain == domain)
        if req.get_param("step_id"):
            try:
                query = query.where(ExecutionLog.step_id == uuid.UUID(req.get_param("step_id")))
            except ValueError as ex:
                raise Unprocessable("step_id must be a step id.", str(ex)) from ex
        rows, has_more, cursor = pages.page(query, ExecutionLog.id, limit=_limit(req), cursor=req.get_param("cursor"))
        resp.media = {"logs": [serialize_log(r) for r in rows], "has_more": has_more, "next_cursor": cursor}


class ExecutionAudit:
    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        query = AuditEvent.select().where((AuditEvent.execution_id == execution.id)
                                          & (AuditEvent.organization_id == execution.organization_id))
        rows, has_more, cursor = pages.page(query, AuditEvent.id, limit=_limit(req), cursor=req.get_param("cursor"))
        resp.media = {"events": [serialize_audit(r) for r in rows], "has_more": has_more, "next_cursor": cursor}


AUDIT_FILTERS = ("target_type", "target_id", "action")


class OrganizationAudit:
    """GET /audit: every audit row of the caller's organization, oldest first, filtered."""

    def on_get(self, req, resp):
        query = audit.of_organization(req.context.organization_id, **{name: _text(req, name) for name in AUDIT_FILTERS},
                                      actor_type=_choice(req, "actor_type", ("user", "system", "webhook")),
                                      since=_moment(req, "since"), until=_moment(req, "until"))
        rows, has_more, cursor = pages.page(query, AuditEvent.id, limit=_limit(req), cursor=req.get_param("cursor"))
        resp.media = {"events": [serialize_audit(r) for r in rows], "has_more": has_more, "next_cursor": cursor}
