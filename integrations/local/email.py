"""Send an email with the run's documents attached, over SMTP (`SMTP_URL`)."""
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlparse

from integrations.base import Action, Result
from integrations.errors import InvalidConfig, UnknownDelivery
from integrations.local.smtp import answered_lately, smtp_send  # noqa: F401 - others import smtp_send here
from storage import documents
from storage.errors import OutcomeUnknown

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


def as_list(value):
    if not value:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def invalid_emails(addresses):
    return [a for a in addresses if not EMAIL.match(a)]


def on_unknown(config):
    """`on_unknown_outcome` of the node: `review` (the default) or `resend`."""
    value = config.get("on_unknown_outcome") or "review"
    if value not in ("review", "resend"):
        raise InvalidConfig("on_unknown_outcome must be “review” or “resend”.", f"on_unknown_outcome={value!r}")
    return value


def recipients(config):
    """Return (to, cc); refuse an empty or invalid list (variables are checked later)."""
    to, cc = as_list(config.get("to")), as_list(config.get("cc"))
    if not to:
        raise InvalidConfig("Add at least one recipient.", "email.to is empty", code="delivery.no_recipient")
    bad = invalid_emails([a for a in to + cc if "{{" not in a])
    if bad:
        raise InvalidConfig(f"Invalid email address: {', '.join(bad)}.", f"invalid: {bad}",
                            code="delivery.invalid_email")
    return to, cc


def smtp_unanswered(settings, node_id, *, timeout=2.0):
    """Return a preflight warning when the SMTP server does not answer, else [].

    NOTE: a warning, not a blocking issue: the send retries with backoff and
    the server may come up meanwhile; but a user who left `SMTP_URL` at its
    default with nothing listening learns it before the run stalls.
    """
    from integrations.preflight import Issue

    url = urlparse(settings.smtp_url)
    port = url.port or (465 if url.scheme == "smtps" else 25)
    if answered_lately(settings.smtp_url):
        return []  # NOTE: this thread's kept connection answered moments ago; no probe per run.
    try:
        client = (smtplib.SMTP_SSL(url.hostname, port, timeout=timeout, context=ssl.create_default_context())
                  if url.scheme == "smtps" else smtplib.SMTP(url.hostname, port, timeout=timeout))
        client.quit()
        return []
    except (OSError, smtplib.SMTPException) as ex:
        return [Issue("delivery.smtp_unreachable", "delivery",
                      f"The email server {url.hostname}:{port} does not answer; emails will be retried and may "
                      "fail. Set SMTP_URL, or leave it unset under `docg up` to catch emails locally.",
                      f"SMTP {url.hostname}:{port}: {ex!r}", node_id, "warning")]


class SmtpEmail(Action):
    """Send one email per run node, with documents attached."""

    key = "email"
    name = "Send email"
    phase = "delivery"
    fields = {"to": {"type": "array"}, "cc": {"type": "array"}, "subject": {"type": "string"},
              "body": {"type": "string"}, "attach_documents": {"type": "boolean"},
              "on_unknown_outcome": {"type": "string", "enum": ["review", "resend"]}}

    def check(self, config, ctx, node_id):
        recipients(config)
        on_unknown(config)
        if urlparse(ctx.settings.smtp_url).scheme not in ("smtp", "smtps") or not urlparse(ctx.settings.smtp_url).hostname:
            raise InvalidConfig("No email server is configured.", f"SMTP_URL={ctx.settings.smtp_url!r}",
                                code="delivery.no_smtp")
        return smtp_unanswered(ctx.settings, node_id)

    def run(self, ctx):
        to, cc = recipients(ctx.config)

        def send(idempotency_key, in_flight):
            message = EmailMessage()
            message["From"] = ctx.settings.smtp_from
            message["To"] = ", ".join(to)
            if cc:
                message["Cc"] = ", ".join(cc)
            message["Subject"] = str(ctx.config.get("subject") or "Your document")
            message["Date"] = formatdate(localtime=False)
            message["Message-ID"] = f"<{idempotency_key.replace(':', '.')}@docg>"
            message["X-Correlation-ID"] = ctx.correlation_id
            message.set_content(str(ctx.config.get("body") or ""))
            attached = []
            if ctx.config.get("attach_documents", True):
                for document in documents.for_execution(ctx.execution_id):
                    maintype, _, subtype = document.content_type.partition("/")
                    message.add_attachment(bytes(document.content), maintype=maintype, subtype=subtype,
                                           filename=document.name)
                    attached.append(document.name)
            smtp_send(ctx.settings.smtp_url, message, before_data=in_flight)
            return {"message_id": message["Message-ID"], "to": to, "cc": cc, "attachments": attached}

        try:
            return Result(output=ctx.once("smtp_send", send, on_unknown=on_unknown(ctx.config), staged=True))
        except OutcomeUnknown as ex:
            raise UnknownDelivery(message_tech=ex.message_tech) from ex
