"""POST /webhooks/signature/{provider}: provider notifications about envelopes."""

import falcon

from actors.waits import apply_signature_delivery
from integrations.signatures import providers
from storage import deliveries, signatures
from web.errors import BadRequest, NotFoundError, Unauthorized
from web.validation import read_body


class SignatureWebhook:
    auth = "public"

    def __init__(self, settings):
        self.settings = settings

    def on_post(self, req, resp, provider):
        if provider not in providers.PROVIDERS:
            raise NotFoundError("Unknown signature provider.", f"provider {provider!r}")
        body = read_body(req)
        cls = providers.provider_class(provider)
        secret = providers.webhook_secret(provider, self.settings)
        if not secret or not cls.verify_webhook(dict(req.headers), body, secret):
            raise Unauthorized("The webhook signature is not valid.", f"{provider} signature check failed",
                               code="webhook.invalid_signature")
        try:
            events = cls.parse_webhook(body)
        except (ValueError, KeyError, TypeError) as ex:
            raise BadRequest("The webhook body is not understood.", repr(ex), code="webhook.malformed") from ex
        accepted = duplicates = 0
        for event in events:
            delivery, created = signatures.store_delivery(provider, event)
            accepted, duplicates = accepted + created, duplicates + (not created)
            if deliveries.to_enqueue(delivery, created):
                apply_signature_delivery.send(delivery.id)
        resp.status = falcon.HTTP_200
        resp.media = {"accepted": accepted, "duplicates": duplicates}
