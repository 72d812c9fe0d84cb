"""The e-mails the signature sandbox sends its signers, in the envelope's locale."""
from email.message import EmailMessage

from integrations.local.email import smtp_send
from storage import i18n

LINK_HEADER = "X-DocG-Signing-Link"


def signing_link(settings, envelope, person):
    base = (settings.signature_sandbox_url or settings.public_base_url).rstrip("/")
    return f"{base}/sandbox/sign/{envelope.id}/{person['token']}"


def signing_message(settings, envelope, person, reminder=False):
    """The invitation (or reminder) that carries one signer's own link."""
    locale, link = envelope.locale or i18n.DEFAULT, signing_link(settings, envelope, person)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = person["email"]
    message["Subject"] = i18n.text("mail.sign_reminder_subject" if reminder else "mail.sign_subject", locale,
                                   name=envelope.name)
    message[LINK_HEADER] = link
    message.set_content(i18n.text("mail.sign_body", locale, signer=person["name"], sender=envelope.sender or "DocG",
                                  name=envelope.name, link=link, expires=i18n.mail_date(envelope.expires_at, locale)))
    message["Content-Language"] = locale  # after set_content, which drops Content-* headers
    return message


def sender(settings):
    """A `send(envelope, person, reminder)` for sandbox.invite_due / remind_due, over SMTP_URL."""
    def send(envelope, person, reminder):
        smtp_send(settings.smtp_url, signing_message(settings, envelope, person, reminder))
    return send
