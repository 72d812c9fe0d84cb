"""POST /webhooks/signature/{provider}[/{connection_id}]: provider notifications about envelopes."""

import falcon

from actors.waits import apply_signature_delivery
from integrations.signatures import providers
from storage import connections, deliveries, signatures
from web.errors import BadRequest, NotFoundError, Unauthorized
from web.validation import parse_json, read_body


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
            events = cls.parse_webhook(body)
        except (ValueError, KeyError, TypeError) as ex:
            raise BadRequest("The webhook body is not understood.", repr(ex), code="webhook.malformed") from ex
        accepted = duplicates = 0
        for event in events:
            delivery, created = signatures.store_delivery(provider, event, connection_id)
            accepted, duplicates = accepted + created, duplicates + (not created)
            if deliveries.to_enqueue(delivery, created):
                apply_signature_delivery.send(delivery.id)
        resp.status = falcon.HTTP_200
        resp.media = {"accepted": accepted, "duplicates": duplicates}
