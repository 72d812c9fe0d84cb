"""The gmail-create-draft node: leave the email in Gmail's Drafts for a person to send.

Endpoint: `POST https://gmail.googleapis.com/gmail/v1/users/me/drafts` with
`{"message": {"raw": <base64url RFC 2822>}}`, answered with the Draft
`{id, message: {id, threadId, labelIds: ["DRAFT"]}}`
(https://developers.google.com/gmail/api/reference/rest/v1/users.drafts/create,
https://developers.google.com/gmail/api/guides/drafts). It needs the
`gmail.compose` scope; a connection made before DocG asked for it gets a 403
ACCESS_TOKEN_SCOPE_INSUFFICIENT, which asks the person to reconnect. The
message is the gmail node's (same config keys and MIME, same attachments).

NOTE: Google documents no URL that opens one draft; `url` is the Gmail web
convention `https://mail.google.com/mail/#drafts?compose=<message id>`, which
opens the draft in the signed-in account's compose window.

NOTE: drafts.create has no idempotency key; it runs once under `ctx.once`,
so a redelivered hop never leaves a second draft.
"""
from integrations.google.gmail import GmailSend


def draft_url(message_id):
    return f"https://mail.google.com/mail/#drafts?compose={message_id}"


class GmailCreateDraft(GmailSend):
    """Save the email, documents attached, as a Gmail draft to review and send."""

    key = "gmail-create-draft"
    scopes = ("https://www.googleapis.com/auth/gmail.compose",)
    name = "Create Gmail draft"
    description = "Save an email with the run's documents as a draft in the connected Gmail account, for review."
    outputs = ("draft_id", "message_id", "thread_id", "url", "to", "cc", "attachments")
    endpoints = ("POST https://gmail.googleapis.com/gmail/v1/users/me/drafts",)
    effect = "gmail_draft"

    def deliver(self, gmail, message):
        draft = gmail.create_draft(message)
        saved = draft.get("message") or {}
        return {"draft_id": draft["id"], "message_id": saved.get("id"), "thread_id": saved.get("threadId"),
                "url": draft_url(saved.get("id"))}
