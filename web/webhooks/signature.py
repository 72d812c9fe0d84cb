"""POST /webhooks/signature/{provider}[/{connection_id}]: provider notifications about envelopes."""

import falcon

from actors.waits import apply_signature_delivery
from integrations.errors import IntegrationError
from integrations.signatures import providers
from integrations.signatures.base import EVENT_KINDS
from storage import connections, deliveries, signatures
from web.errors import BadRequest, NotFoundError, Unauthorized
from web.validation import parse_json, read_body


def well_formed(event):
    """The event when every field has the type and size the store expects; ValueError otherwise."""
    texts = {"event_key": event.event_key, "envelope_id": event.envelope_id, "kind": event.kind}
    optional = {"signer_email": event.signer_email, "occurred_at": event.occurred_at}
    if event.kind not in EVENT_KINDS:
        raise ValueError(f"unknown kind {event.kind!r}")
    for name, value in texts.items():
        if not isinstance(value, str) or not 0 < len(value) <= 1000:
            raise ValueError(f"{name} must be a non-empty string")
    for name, value in optional.items():
        if value is not None and (not isinstance(value, str) or len(value) > 1000):
            raise ValueError(f"{name} must be a string")
    return event


class SignatureWebhook:
    """`/webhooks/signature/{provider}` is verified with the account-wide secret
    from settings; `/webhooks/signature/{provider}/{connection_id}` with the
    secret on that customer's connection, and only touches its envelopes."""

    auth = "public"

    def __init__(self, settings):
        self.settings = settings

    def on_post(self, req, resp, provider):
        self._check_provider(provider)
        self._receive(req, resp, provider, providers.webhook_secret(provider, self.settings))

    def on_post_connection(self, req, resp, provider, connection_id):
        self._check_provider(provider, connected=True)
        self._receive(req, resp, provider, connections.webhook_secret(provider, connection_id), connection_id)

    @staticmethod
    def _check_provider(provider, connected=False):
        if provider not in providers.PROVIDERS or (connected and provider == "sandbox"):
            raise NotFoundError("Unknown signature provider.", f"provider {provider!r}")

    def _receive(self, req, resp, provider, secret, connection_id=None):
        body = read_body(req)
        cls = providers.provider_class(provider)
        if not secret or not cls.verify_webhook(dict(req.headers), body, secret):
            raise Unauthorized("The webhook signature is not valid.", f"{provider} signature check failed",
                               code="webhook.invalid_signature")
        parse_json(body)  # refuses what PostgreSQL could not store (NUL, deep nesting)
        try:
            events = [well_formed(event) for event in cls.parse_webhook(body)]
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, IntegrationError) as ex:
            raise BadRequest("The webhook body is not understood.", f"{provider}: {type(ex).__name__}",
                             code="webhook.malformed") from ex
        accepted = duplicates = 0
        for event in events:
            delivery, created = signatures.store_delivery(provider, event, connection_id)
            accepted, duplicates = accepted + created, duplicates + (not created)
            if deliveries.to_enqueue(delivery, created):
                apply_signature_delivery.send(delivery.id)
        resp.status = falcon.HTTP_200
        resp.media = {"accepted": accepted, "duplicates": duplicates}
