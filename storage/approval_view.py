"""What an approver sees: who asks what, the key facts, the other decisions.

One function builds it for the page, the API and the e-mail, from the
approval's rows; nothing here depends on the link still being live, so a
used, expired or withdrawn link can say plainly what happened and when.
"""
import uuid

from storage import approvals, waits
from storage.models import AuditEvent, Execution, Organization, User, Workflow, utcnow

WITHDRAWN = ("revoked", "withdrawn", "canceled")


def state(approval, run_status):
    """pending, approved, rejected, expired, withdrawn (run canceled) or closed (settled without it)."""
    if approval.status == "pending":
        return "expired" if approval.expires_at and approval.expires_at <= utcnow() else "pending"
    if approval.status in ("approved", "rejected", "expired"):
        return approval.status
    if approval.status in WITHDRAWN and run_status == "canceled" or approval.status == "withdrawn":
        return "withdrawn"
    return "closed"


def requester(execution, organization):
    """Who started the run: the user's name and e-mail when a person did, else the organization."""
    started = (AuditEvent.select(AuditEvent.actor_type, AuditEvent.actor_id)
               .where((AuditEvent.execution_id == execution.id) & (AuditEvent.action == "execution.started"))
               .first())
    user = None
    if started is not None and started.actor_type == "user" and started.actor_id:
        try:
            user = User.get_or_none((User.id == uuid.UUID(started.actor_id))
                                    & (User.organization == execution.organization_id))
        except ValueError:
            user = None
    if user is not None and user.email:
        name = user.name if user.name and user.name != "Admin" else ""
        who = f"{name} <{user.email}>" if name else user.email
        return f"{who} ({organization.name})"
    return organization.name


def facts(execution_id, node_id):
    """The summary facts the approval step recorded when it asked."""
    step = waits.step_at(execution_id, node_id)
    out = (step.data_out or {}) if step else {}
    summary = out.get("summary") if isinstance(out, dict) else None
    return [f for f in summary if isinstance(f, dict)] if isinstance(summary, list) else []


def _iso(moment):
    return moment.isoformat() if moment else None


def describe(approval, summary=None):
    """The approval request as a JSON-ready dict (documents are added by the caller).

    `summary` overrides the facts stored on the step (the step asking has
    not stored its output yet).
    """
    execution = Execution.get_by_id(approval.execution_id)
    workflow = Workflow.get_by_id(execution.workflow_id)
    organization = Organization.get_by_id(execution.organization_id)
    rows = approvals.of_node(execution.id, approval.node_id)
    summary = facts(execution.id, approval.node_id) if summary is None else summary
    settled = max((a.decided_at for a in rows if a.decided_at and a.status in ("approved", "rejected")),
                  default=None)
    return {
        "approver": approval.approver_email, "status": approval.status,
        "state": state(approval, execution.status), "locale": organization.locale,
        "strategy": approval.strategy, "quorum": approval.quorum,
        "expires_at": _iso(approval.expires_at), "decided_at": _iso(approval.decided_at),
        "decided_by": approval.decided_by, "comment": approval.comment, "settled_at": _iso(settled),
        "workflow": {"id": str(workflow.id), "name": workflow.name},
        "organization": {"name": organization.name},
        "requested_by": requester(execution, organization), "requested_at": _iso(execution.created_at),
        "subject": summary[0]["value"] if summary else None,
        "summary": summary,
        "approvers": [{"email": a.approver_email, "status": a.status, "decided_at": _iso(a.decided_at),
                       "comment": a.comment, "you": a.id == approval.id} for a in rows],
        "run": {"id": str(execution.id), "workflow_id": str(workflow.id), "status": execution.status,
                "current_step": execution.current_step},
    }
