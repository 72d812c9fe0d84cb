"""The `outlook` delivery node: send the run's documents with Microsoft Graph.

One `POST /me/sendMail` per run node (under `ctx.once`), from the connected
account, with the run's generated documents as `#microsoft.graph.fileAttachment`
(base64 `contentBytes`). Graph answers 202 Accepted with no body and no id.

Message-ID: Graph refuses any `internetMessageHeaders` entry whose name does
not start with `x-`/`X-` (400 InvalidInternetMessageHeader), so the
Message-ID cannot be set as a header. The message resource's own
`internetMessageId` property is writable while the message is a draft
(which a message being sent by sendMail is), so DocG sets it there to
`<execution.node.outlook_send@docg>`, the same shape the SMTP node uses, and
also sends it as `X-DocG-Message-ID` (with `X-Correlation-ID`), which Graph
accepts and keeps even if Exchange were to assign its own Message-ID.

NOTE: sendMail takes the whole message in one request of at most 4 MB, so
attachments above 3 MB in total are refused before calling (larger ones need
a draft and attachment upload sessions, which this node does not do).

Docs: https://learn.microsoft.com/graph/api/user-sendmail,
https://learn.microsoft.com/graph/api/resources/message (internetMessageId:
"Updatable only if isDraft is true"; internetMessageHeaders),
https://learn.microsoft.com/graph/api/resources/fileattachment,
https://learn.microsoft.com/graph/outlook-things-to-know-about-send-mail.
"""
import base64
import html

from integrations import variables
from integrations.base import Action, Result
from integrations.errors import IntegrationError, InvalidConfig
from integrations.local.email import recipients
from integrations.microsoft.graph import Graph, graph_for_check
from storage import documents

ATTACHMENTS_LIMIT = 3 * 1024 * 1024
BODY_TYPES = {"text": "Text", "html": "HTML"}


def message_id_for(idempotency_key):
    return f"<{idempotency_key.replace(':', '.')}@docg>"


def recipient_list(addresses):
    return [{"emailAddress": {"address": address}} for address in addresses]


def build_message(*, subject, body, body_type, to, cc, attachments, message_id, correlation_id):
    """Return the Graph message resource for sendMail."""
    return {
        "subject": subject,
        "body": {"contentType": body_type, "content": body},
        "toRecipients": recipient_list(to),
        "ccRecipients": recipient_list(cc),
        "internetMessageId": message_id,
        "internetMessageHeaders": [{"name": "X-DocG-Message-ID", "value": message_id},
                                   {"name": "X-Correlation-ID", "value": correlation_id}],
        "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": document.name,
                         "contentType": document.content_type,
                         "contentBytes": base64.b64encode(bytes(document.content)).decode()}
                        for document in attachments],
    }


def attachable(attached):
    """Return `attached` when one JSON request can carry it; refuse more than 3 MB in all."""
    total = sum(len(bytes(d.content)) for d in attached)
    if total > ATTACHMENTS_LIMIT:
        raise IntegrationError("The documents are too large for one Outlook email (3 MB of attachments at most).",
                               f"{total} bytes of attachments > {ATTACHMENTS_LIMIT}",
                               code="delivery.attachment_too_large")
    return attached


def body_type_of(config):
    value = str(config.get("body_type") or "text").lower()
    if value not in BODY_TYPES:
        raise InvalidConfig("The email body type must be Text or HTML.", f"body_type {config.get('body_type')!r}")
    return BODY_TYPES[value]


class Outlook(Action):
    """Send one email per run node from the connected Outlook account."""

    key = "outlook"
    scopes = ("Mail.Send",)
    name = "Send with Outlook"
    phase = "delivery"
    description = "Send an email from the connected Microsoft 365 / Outlook.com account, documents attached."
    fields = {"connection_id": {"type": "string", "description": "A Microsoft connection."},
              "to": {"type": "array", "items": {"type": "string"}},
              "cc": {"type": "array", "items": {"type": "string"}},
              "subject": {"type": "string"}, "body": {"type": "string"},
              "body_type": {"enum": ["Text", "HTML"], "default": "Text"},
              "attach_documents": {"type": "boolean", "default": True},
              "save_to_sent_items": {"type": "boolean", "default": True}}
    outputs = ("sent", "to", "cc", "attachments", "internet_message_id")
    endpoints = ("POST https://graph.microsoft.com/v1.0/me/sendMail",)

    def resolve_config(self, config, run):
        """Values put into an HTML body are HTML-escaped; a Text body and the subject stay as they are."""
        resolved = super().resolve_config(config, run)
        if isinstance(resolved.get("body"), str) and str(resolved.get("body_type") or "").lower() == "html":
            resolved["body"] = variables.resolve(config["body"], run, escape=html.escape)
        return resolved

    def check(self, config, ctx, node_id):
        recipients(config)
        body_type_of(config)
        graph_for_check(config, ctx).me()
        return []

    #: the ledger effect of the node's one call to Graph
    effect = "outlook_send"

    def run(self, ctx):
        to, cc = recipients(ctx.config)
        body_type = body_type_of(ctx.config)
        attached = documents.for_execution(ctx.execution_id) if ctx.config.get("attach_documents", True) else []
        attachable(attached)
        graph = Graph(ctx.http())

        def perform(idempotency_key):
            message_id = message_id_for(idempotency_key)
            message = build_message(subject=str(ctx.config.get("subject") or "Your document"),
                                    body=str(ctx.config.get("body") or ""), body_type=body_type, to=to, cc=cc,
                                    attachments=attached, message_id=message_id, correlation_id=ctx.correlation_id)
            return {**self.deliver(graph, message, ctx.config), "to": to, "cc": cc,
                    "attachments": [d.name for d in attached], "internet_message_id": message_id}

        return Result(output=ctx.once(self.effect, perform))

    def deliver(self, graph, message, config):
        """Make the node's one Graph call with `message`; return its output keys."""
        graph.send_mail(message, save_to_sent_items=bool(config.get("save_to_sent_items", True)))
        return {"sent": True}
