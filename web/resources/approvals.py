"""Approval links: what is to be approved, and the decision (token auth)."""
import falcon

from actors import waits
from storage import approvals, documents
from storage.models import Execution, utcnow
from web.errors import Gone, NotFoundError
from web.validation import read_json

DECISION = {
    "type": "object",
    "required": ["decision"],
    "properties": {"decision": {"enum": ["approved", "rejected"]}, "comment": {"type": "string", "maxLength": 4000}},
    "additionalProperties": False,
}


def pending_approval(token):
    """Return the approval for a live token; 404 unknown, 410 used/revoked/expired."""
    approval = approvals.by_token(token)
    if approval is None:
        raise NotFoundError("This approval link does not exist.", "unknown token")
    if approval.status != "pending" or (approval.expires_at and approval.expires_at <= utcnow()):
        raise used(approval)
    return approval


def used(approval):
    """410 for a link that was used, revoked or expired, saying what was recorded and when."""
    decided = approval.decided_at.isoformat() if approval.decided_at else None
    code = "approval.link_used"
    if approval.status in ("approved", "rejected"):
        message = f"This link was already used: {approval.decided_by or approval.approver_email} " \
                  f"{approval.status} it at {decided}."
    elif approval.status == "revoked":
        message, code = "This approval request was withdrawn; nothing is waiting for your decision.", \
            "approval.withdrawn"
    else:
        message = f"This approval link can no longer be used ({approval.status})."
    return Gone(message, f"approval status {approval.status}", code=code,
                details={"status": approval.status, "decided_at": decided, "decided_by": approval.decided_by})


class ApprovalLink:
    auth = "public"

    def on_get(self, req, resp, token):
        approval = pending_approval(token)
        execution = Execution.get_by_id(approval.execution_id)
        resp.media = {
            "approver": approval.approver_email, "strategy": approval.strategy,
            "expires_at": approval.expires_at.isoformat() if approval.expires_at else None,
            "run": {"id": str(execution.id), "workflow_id": str(execution.workflow_id), "status": execution.status,
                    "current_step": execution.current_step},
            "documents": [{"id": str(d.id), "name": d.name, "content_type": d.content_type, "size": d.size,
                           "download_url": f"/api/v1/approvals/{token}/documents/{d.id}"}
                          for d in documents.for_execution(execution.id)],
        }


class ApprovalDocument:
    auth = "public"

    def on_get(self, req, resp, token, document_id):
        approval = pending_approval(token)
        document = next((d for d in documents.for_execution(approval.execution_id) if str(d.id) == document_id), None)
        if document is None:
            raise NotFoundError("Document not found.", f"document {document_id}")
        resp.content_type = document.content_type
        resp.downloadable_as = document.name
        resp.data = bytes(document.content)


class ApprovalDecision:
    auth = "public"

    def on_post(self, req, resp, token):
        approval = pending_approval(token)
        body = read_json(req, DECISION)
        if not waits.decide(approval, body["decision"], body.get("comment")):
            raise used(approvals.by_token(token))
        resp.status = falcon.HTTP_200
        resp.media = {"success": True, "execution_status": Execution.get_by_id(approval.execution_id).status,
                      "decision": body["decision"], "approver": approval.approver_email}
