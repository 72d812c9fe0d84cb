"""Approvals: one row per approver, a single-use 256-bit link token each.

The token is stored as its SHA-256 (for lookup) and, encrypted, so that a
reminder can re-send the same link. A decision is a compare-and-set from
`pending`; a used, revoked or expired token finds nothing to change.
"""
import hashlib
import secrets

from peewee import fn

from storage.db import database
from storage.models import Approval, utcnow

STRATEGIES = ("all", "any", "quorum")


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue(execution, node_id, email, *, strategy, quorum, expires_at, auto_approve, reminder_hours):
    """Create or re-key the approver's pending approval; return (approval, token)."""
    token = secrets.token_urlsafe(32)
    values = {"organization_id": execution.organization_id, "execution": execution.id, "node_id": node_id,
              "approver_email": email, "token_hash": token_hash(token), "token_ciphertext": token,
              "strategy": strategy, "quorum": quorum, "expires_at": expires_at,
              "auto_approve_on_timeout": auto_approve, "reminder_hours": reminder_hours, "hop": execution.hop}
    with database.atomic():
        existing = Approval.get_or_none((Approval.execution == execution.id) & (Approval.node_id == node_id)
                                        & (Approval.approver_email == email))
        if existing is None:
            return Approval.create(**values), token
        if existing.status != "pending":
            return existing, None
        Approval.update(token_hash=values["token_hash"], token_ciphertext=token,
                        expires_at=expires_at).where(Approval.id == existing.id).execute()
        return Approval.get_by_id(existing.id), token


def by_token(token):
    return Approval.get_or_none(Approval.token_hash == token_hash(str(token)))


def decide(approval, decision, comment=None):
    """Record the decision if the approval is still pending; True if this call did."""
    return bool(Approval.update(status=decision, decided_at=utcnow(), comment=comment,
                                decided_by=approval.approver_email, token_ciphertext=None)
                .where((Approval.id == approval.id) & (Approval.status == "pending")
                       & ((Approval.expires_at.is_null()) | (Approval.expires_at > fn.now())))
                .execute())


def of_node(execution_id, node_id):
    return list(Approval.select().where((Approval.execution == execution_id) & (Approval.node_id == node_id))
                .order_by(Approval.created_at, Approval.approver_email))


def outcome(approvals):
    """Return 'approved', 'rejected' or None (still open) for the node's strategy."""
    if not approvals:
        return None
    first = approvals[0]
    approved = sum(a.status == "approved" for a in approvals)
    open_or_approved = sum(a.status in ("approved", "pending") for a in approvals)
    need = {"all": len(approvals), "any": 1}.get(first.strategy, first.quorum or len(approvals))
    if approved >= need:
        return "approved"
    if open_or_approved < need:
        return "rejected"
    return None


def close_pending(execution_id, node_id, status):
    """Mark every still-pending approval of the node (revoked or expired)."""
    return (Approval.update(status=status, decided_at=utcnow(), token_ciphertext=None)
            .where((Approval.execution == execution_id) & (Approval.node_id == node_id)
                   & (Approval.status == "pending")).execute())


def expired_waits(limit=200):
    """(execution_id, node_id) of approvals whose deadline passed while pending."""
    return list(Approval.select(Approval.execution, Approval.node_id).distinct()
                .where((Approval.status == "pending") & (Approval.expires_at <= fn.now())).limit(limit).tuples())


def reminders_due(limit=200):
    """Pending approvals whose reminder time has come and that got no reminder."""
    return list(Approval.select().where(
        (Approval.status == "pending") & Approval.reminder_hours.is_null(False) & Approval.reminder_sent_at.is_null()
        & (Approval.created_at + Approval.reminder_hours * fn.make_interval(0, 0, 0, 0, 1) <= fn.now())).limit(limit))


def claim_reminder(approval):
    return bool(Approval.update(reminder_sent_at=utcnow())
                .where((Approval.id == approval.id) & Approval.reminder_sent_at.is_null()).execute())


def decisions(approvals):
    return [{"approver": a.approver_email, "status": a.status, "comment": a.comment,
             "decided_at": a.decided_at.isoformat() if a.decided_at else None} for a in approvals]


def close_pending_of_run(execution_id):
    """Revoke every pending approval link of a run (it was canceled)."""
    return (Approval.update(status="revoked", decided_at=utcnow(), token_ciphertext=None)
            .where((Approval.execution == execution_id) & (Approval.status == "pending")).execute())
