"""The gmail delivery node: send the run's documents from the Google account.

Endpoint: `POST https://gmail.googleapis.com/gmail/v1/users/me/messages/send`
with `{"raw": <base64url of the RFC 2822 message>}`, answered with the sent
Message `{id, threadId, labelIds}`
(https://developers.google.com/gmail/api/reference/rest/v1/users.messages/send,
https://developers.google.com/gmail/api/guides/sending). Gmail fills in the
From address of the signed-in account; the message is built like the
`email` node's (same config keys: to, cc, subject, body, attach_documents).

NOTE: Gmail has no idempotency key; the send is wrapped in `ctx.once`.
"""
import base64
import dataclasses
import email.policy
from email.message import EmailMessage
from email.utils import formatdate

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.google.client import GoogleApi
from integrations.local.email import recipients
from storage import documents


@dataclasses.dataclass
class SentMessage:
    id: str
    thread_id: str
    label_ids: tuple


def build_message(*, to, cc, subject, body, attachments=(), correlation_id=None):
    """Return the MIME message; `attachments` are (name, content_type, bytes)."""
    message = EmailMessage()
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    if correlation_id:
        message["X-Correlation-ID"] = str(correlation_id)
    message.set_content(body)
    for name, content_type, content in attachments:
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=name)
    return message


def raw(message):
    """The base64url RFC 2822 bytes Gmail's `raw` field takes."""
    return base64.urlsafe_b64encode(message.as_bytes(policy=email.policy.SMTP)).decode()


def compose(ctx, to, cc):
    """(MIME message, attachment names) of the node: its config and, unless off, the run's documents."""
    attachments = []
    if ctx.config.get("attach_documents", True):
        attachments = [(d.name, d.content_type, bytes(d.content)) for d in documents.for_execution(ctx.execution_id)]
    message = build_message(to=to, cc=cc, subject=str(ctx.config.get("subject") or "Your document"),
                            body=str(ctx.config.get("body") or ""), attachments=attachments,
                            correlation_id=ctx.correlation_id)
    return message, [name for name, _, _ in attachments]


class Gmail(GoogleApi):
    api = "gmail"

    def send(self, message):
        body = self.post("users/me/messages/send", "send the email", forbidden="permission_denied",
                         json={"raw": raw(message)}).json()
        return SentMessage(body["id"], body.get("threadId", ""), tuple(body.get("labelIds") or ()))

    def create_draft(self, message):
        """Save `message` as a draft (DRAFT label); return the Draft resource {id, message: {id, threadId}}."""
        return self.post("users/me/drafts", "create the draft", forbidden="permission_denied",
                         json={"message": {"raw": raw(message)}}).json()


class GmailSend(Action):
    """Send one email per run node from the connected Gmail account."""

    key = "gmail"
    scopes = ("https://www.googleapis.com/auth/gmail.send",)
    name = "Send with Gmail"
    phase = "delivery"
    description = "Send an email from the connected Gmail account, with the run's documents attached."
    fields = {"connection_id": {"type": "string"}, "to": {"type": "array"}, "cc": {"type": "array"},
              "subject": {"type": "string"}, "body": {"type": "string"}, "attach_documents": {"type": "boolean"}}
    outputs = ("message_id", "thread_id", "to", "cc", "attachments")
    endpoints = ("POST https://gmail.googleapis.com/gmail/v1/users/me/messages/send",)

    def check(self, config, ctx, node_id):
        recipients(config)
        handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings)
        return []

    #: the ledger effect of the node's one call to Gmail
    effect = "gmail_send"

    def run(self, ctx):
        to, cc = recipients(ctx.config)
        gmail = Gmail.for_connection(ctx.connection(), ctx.correlation_id)

        def perform(_idempotency_key):
            message, attached = compose(ctx, to, cc)
            return {**self.deliver(gmail, message), "to": to, "cc": cc, "attachments": attached}

        return Result(output=ctx.once(self.effect, perform))

    def deliver(self, gmail, message):
        """Make the node's one Gmail call with `message`; return its output keys."""
        sent = gmail.send(message)
        return {"message_id": sent.id, "thread_id": sent.thread_id}
