"""Approval links: what is to be approved, and the decision (token auth).

A live link answers the whole request (approval_view.describe plus the
documents); a used, expired or withdrawn one answers 410 whose `details`
carry the same description, so the page can say what happened, by whom
and when. Answers follow the organization's locale (req.context).
"""
import falcon

from actors import waits
from storage import approval_view, approvals, documents
from web import previews
from web.errors import Gone, NotFoundError
from web.validation import read_json

DECISION = {
    "type": "object",
    "required": ["decision"],
    "properties": {"decision": {"enum": ["approved", "rejected"]}, "comment": {"type": "string", "maxLength": 4000}},
    "additionalProperties": False,
}

USED = {
    "approved": "This link was already used: {who} approved it at {when}.",
    "rejected": "This link was already used: {who} rejected it at {when}.",
    "expired": "This approval link expired at {when}.",
    "withdrawn": "This approval request was withdrawn at {when}.",
    "closed": "This approval is no longer needed: the step was decided at {when}.",
}


def known_approval(req, token):
    """The approval of `token` (any state); 404 when unknown. Sets the answer's organization."""
    approval = approvals.by_token(token)
    if approval is None:
        raise NotFoundError("This approval link does not exist.", "unknown token")
    req.context.organization_id = str(approval.organization_id)
    return approval


def pending_approval(req, token):
    """Return the approval for a live token; 404 unknown, 410 used/revoked/expired."""
    approval = known_approval(req, token)
    view = approval_view.describe(approval)
    if view["state"] != "pending":
        raise used(view)
    return approval, view


def used(view):
    """410 for a link that was used, withdrawn or expired, saying what was recorded and when."""
    state = view["state"]
    when = view["expires_at"] if state == "expired" else view["settled_at"] if state == "closed" else None
    when = when or view["decided_at"] or view["expires_at"]
    message = USED.get(state, "This approval link can no longer be used ({status}).").format(
        who=view["decided_by"] or view["approver"], when=when, status=view["status"])
    code = "approval.withdrawn" if state == "withdrawn" else "approval.link_used"
    return Gone(message, f"approval status {view['status']}", code=code, details=view)


def document_url(token, document):
    return f"/api/v1/approvals/{token}/documents/{document.id}"


def find_document(approval, document_id):
    document = next((d for d in documents.for_execution(approval.execution_id) if str(d.id) == document_id), None)
    if document is None:
        raise NotFoundError("Document not found.", f"document {document_id}")
    return document


class ApprovalLink:
    auth = "public"

    def on_get(self, req, resp, token):
        approval, view = pending_approval(req, token)
        view["documents"] = [previews.describe(d.id, d.name, d.content_type, d.content, document_url(token, d))
                             for d in documents.for_execution(approval.execution_id)]
        resp.media = view


class ApprovalDocument:
    auth = "public"

    def on_get(self, req, resp, token, document_id):
        approval, _ = pending_approval(req, token)
        document = find_document(approval, document_id)
        resp.content_type = document.content_type
        resp.downloadable_as = document.name
        resp.data = bytes(document.content)


class ApprovalDocumentPage:
    """One page of a PDF document as a PNG image, for the page's inline preview."""

    auth = "public"

    def on_get(self, req, resp, token, document_id, page):
        approval, _ = pending_approval(req, token)
        document = find_document(approval, document_id)
        try:
            resp.data = previews.render_page(document.content_type, document.content, int(page) if page.isdigit() else 0)
        except previews.NoPreview as ex:
            raise NotFoundError("This page cannot be shown.", str(ex), code="document.no_preview") from ex
        resp.content_type = "image/png"
        resp.cache_control = ["private", "max-age=300"]


class ApprovalDecision:
    auth = "public"

    def on_post(self, req, resp, token):
        approval, _ = pending_approval(req, token)
        body = read_json(req, DECISION)
        if not waits.decide(approval, body["decision"], body.get("comment")):
            raise used(approval_view.describe(approvals.by_token(token)))
        resp.status = falcon.HTTP_200
        resp.media = {"decision": body["decision"], "approver": approval.approver_email}
