"""The google-drive-share node: share the run's saved Drive file with people.

One `POST /drive/v3/files/{fileId}/permissions` per email
(https://developers.google.com/drive/api/reference/rest/v3/permissions/create)
with `type: user`, the chosen role (reader, commenter or writer),
`sendNotificationEmail` and `supportsAllDrives=true`. The file is the one a
google-drive node saved earlier in the run, or `file_id` when given.

NOTE: Drive has no idempotency key, and a repeated grant would send the
notification email again; each email's grant runs once under `ctx.once`.
"""
import uuid

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.errors import InvalidConfig
from integrations.google.drive import Drive
from integrations.google.render import resolved
from integrations.local.email import as_list, invalid_emails
from storage import documents

ROLES = ("reader", "commenter", "writer")


def role_of(config):
    role = config.get("role") or "reader"
    if role not in ROLES:
        raise InvalidConfig(f"Choose reader, commenter or writer as the role, not {role!r}.", f"role={role!r}")
    return role


def emails_of(config):
    emails = as_list(config.get("emails"))
    if not emails:
        raise InvalidConfig("Enter the emails to share the file with.", "emails empty", code="delivery.no_recipient")
    wrong = invalid_emails([e for e in emails if resolved(e)])
    if wrong:
        raise InvalidConfig(f"These emails are invalid: {', '.join(wrong)}.", f"invalid emails {wrong}",
                            code="delivery.invalid_email")
    return emails


def saved_file(ctx):
    """(file id, link) of `file_id`, else of the run's latest document saved to Drive."""
    if ctx.config.get("file_id"):
        return str(ctx.config["file_id"]), None
    document = documents.latest(ctx.execution_id, storage="google-drive")
    if document is None or not document.external_id:
        raise InvalidConfig("There is no Drive file to share; add a Google Drive save step before this one.",
                            "no document saved to google-drive in this run", code="drive.no_file")
    return document.external_id, document.url


class GoogleDriveShare(Action):
    """Share the run's saved Google Drive file with people by email."""

    key = "google-drive-share"
    scopes = ("https://www.googleapis.com/auth/drive",)
    name = "Share Google Drive file"
    phase = "delivery"
    description = "Share the Drive file saved earlier in the run with people, as readers, commenters or writers."
    fields = {"connection_id": {"type": "string"},
              "emails": {"type": "array", "items": {"type": "string", "format": "email"}},
              "role": {"enum": list(ROLES), "default": "reader"},
              "send_notification": {"type": "boolean", "default": True},
              "message": {"type": "string", "description": "text added to Google's notification email"},
              "file_id": {"type": "string", "description": "default: the file a google-drive step saved in this run"}}
    outputs = ("file_id", "url", "role", "shared_with", "permissions")
    endpoints = ("POST https://www.googleapis.com/drive/v3/files/{fileId}/permissions",)

    def check(self, config, ctx, node_id):
        role_of(config)
        emails_of(config)
        handle = handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings)
        file_id = config.get("file_id")
        if not file_id and "save" not in ctx.earlier_phases:
            raise InvalidConfig("There is no Drive file to share; add a Google Drive save step before this one.",
                                "no save step before google-drive-share", code="drive.no_file")
        if file_id and resolved(file_id):
            correlation_id = getattr(ctx, "correlation_id", None) or f"preflight-{uuid.uuid4()}"
            Drive.for_connection(handle, correlation_id).file(file_id, not_found="drive.file_not_found")
        return []

    def run(self, ctx):
        role, emails = role_of(ctx.config), emails_of(ctx.config)
        file_id, url = saved_file(ctx)
        drive = Drive.for_connection(ctx.connection(), ctx.correlation_id)
        notify = ctx.config.get("send_notification", True) is not False
        permissions = []
        for email in emails:
            def grant(_key, email=email):
                return drive.share(file_id, email, role=role, notify=notify, message=ctx.config.get("message"))

            permissions.append(ctx.once(f"drive_share:{file_id}:{email.lower()}", grant))
        return Result(output={"file_id": file_id, "url": url or f"https://drive.google.com/open?id={file_id}",
                              "role": role, "shared_with": [p["email"] for p in permissions],
                              "permissions": permissions})
