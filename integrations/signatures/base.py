"""The signature provider interface every e-signature client implements.

A provider creates an envelope (a document plus its signers), can cancel it,
and turns its webhooks into `SignatureEvent`s after verifying them on the
raw body. The pipeline and the webhook endpoint only speak this interface.
"""
import abc
import dataclasses
import datetime
from typing import Optional

EVENT_KINDS = ("sent", "viewed", "signed", "declined", "completed", "expired", "canceled")


@dataclasses.dataclass
class SignerRef:
    email: str
    name: str
    external_id: Optional[str] = None
    sign_url: Optional[str] = None


@dataclasses.dataclass
class EnvelopeRef:
    envelope_id: str
    signers: list
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SignatureEvent:
    """One verified provider notification.

    `event_key` is unique per notification at the provider (used to dedupe
    redeliveries); `kind` is one of EVENT_KINDS; `signer_email` is set for
    per-signer events (viewed, signed, declined).
    """

    event_key: str
    envelope_id: str
    kind: str
    signer_email: Optional[str] = None
    occurred_at: Optional[str] = None
    raw: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SignedFiles:
    """What comes back once everyone signed: the signed PDF and the provider's audit trail."""

    signed: Optional[bytes]
    audit_trail: Optional[bytes] = None
    audit_trail_type: str = "application/pdf"


class SignatureProvider(abc.ABC):
    key = ""

    @abc.abstractmethod
    def create_envelope(self, *, name: str, document: bytes, content_type: str, signers: list,
                        expires_at: datetime.datetime, idempotency_key: str,
                        message: Optional[str] = None, locale: str = "en", sequential: bool = False,
                        reminder_hours: Optional[float] = None, sender: str = "") -> EnvelopeRef:
        """Upload the document, add the signers, send it for signature.

        `locale` (en, pt-BR) is the language of the provider's e-mails and
        pages; `sequential` invites each signer after the previous one
        signed; `reminder_hours` asks the provider to remind pending signers;
        `sender` names who asks (the organization).
        """

    def find_envelope(self, idempotency_key: str) -> Optional[EnvelopeRef]:
        """Return the envelope created earlier with this key, if the provider can tell."""
        return None

    def fetch_signed(self, envelope_id: str) -> SignedFiles:
        """Download the signed PDF and the audit trail of a completed envelope.

        Raises a retryable IntegrationError while the provider is still
        preparing them or a download link expired (the next attempt asks
        for fresh links).
        """
        raise NotImplementedError

    @abc.abstractmethod
    def cancel_envelope(self, envelope_id: str) -> None:
        """Withdraw the envelope at the provider (no more signing)."""

    @classmethod
    @abc.abstractmethod
    def verify_webhook(cls, headers: dict, body: bytes, secret: str) -> bool:
        """Return True when the raw body was signed with `secret`."""

    @classmethod
    @abc.abstractmethod
    def parse_webhook(cls, body: bytes) -> list:
        """Return the SignatureEvents in a verified webhook body."""
