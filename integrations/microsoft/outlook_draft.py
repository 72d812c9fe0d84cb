"""The outlook-create-draft node: leave the email in Outlook's Drafts for review.

`POST https://graph.microsoft.com/v1.0/me/messages` with the message the
outlook node sends (subject, body, toRecipients, ccRecipients, the run's
documents as `#microsoft.graph.fileAttachment` with base64 `contentBytes`,
internetMessageId and X- headers) creates it in the Drafts folder; Graph
answers 201 Created with the message, whose `webLink` opens it in Outlook on
the web (https://learn.microsoft.com/graph/api/user-post-messages,
https://learn.microsoft.com/graph/api/resources/message,
https://learn.microsoft.com/graph/api/resources/fileattachment). It needs the
Mail.ReadWrite permission; a connection made before DocG asked for it gets a
403 ErrorAccessDenied (permission_denied: reconnect).

NOTE: one request carries the whole message, so more than 3 MB of
attachments is refused before calling, as in the outlook node; larger files
would need `attachments/createUploadSession`, which DocG does not use.

NOTE: Graph takes no idempotency key; the draft is created once under
`ctx.once`, so a redelivered hop never leaves a second draft.
"""
from integrations.microsoft.outlook import Outlook


class OutlookCreateDraft(Outlook):
    """Save the email, documents attached, as an Outlook draft to review and send."""

    key = "outlook-create-draft"
    scopes = ("Mail.ReadWrite",)
    name = "Create Outlook draft"
    description = "Save an email with the run's documents in the Drafts of the connected Microsoft account."
    fields = {key: field for key, field in Outlook.fields.items() if key != "save_to_sent_items"}
    outputs = ("draft_id", "url", "to", "cc", "attachments", "internet_message_id")
    endpoints = ("POST https://graph.microsoft.com/v1.0/me/messages",)
    effect = "outlook_draft"

    def deliver(self, graph, message, config):
        draft = graph.create_draft(message)
        return {"draft_id": draft["id"], "url": draft.get("webLink")}
