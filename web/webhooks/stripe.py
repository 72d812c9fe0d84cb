"""POST /webhooks/stripe: Stripe events, verified with the Stripe-Signature scheme.

Verify on the raw body first, dedupe by Stripe's event id, persist, then
hand the delivery to `enqueue` and answer 200 at once (Stripe retries any
other answer for days).
NOTE: `enqueue` defaults to applying the delivery in the request, which is
two small inserts; wiring passes an actor's `.send` to move it to a worker.
"""
from integrations.stripe import payments
from integrations.stripe.webhook import parse_event, signature_problem
from web.errors import BadRequest, Unauthorized
from web.validation import read_body


class StripeWebhook:
    auth = "public"

    def __init__(self, settings, enqueue=None):
        self.settings = settings
        self.enqueue = enqueue or payments.apply_delivery

    def on_post(self, req, resp):
        body = read_body(req)
        problem = signature_problem(body, req.get_header("Stripe-Signature") or "",
                                    self.settings.stripe_webhook_secret)
        if problem:
            raise Unauthorized("The webhook signature is not valid.", f"stripe: {problem}",
                               code="webhook.invalid_signature")
        try:
            event = parse_event(body)
        except ValueError as ex:
            raise BadRequest("The webhook body is not understood.", repr(ex), code="webhook.malformed") from ex
        delivery = payments.store_event(event)
        if delivery is not None and delivery.status == "received":
            self.enqueue(delivery.id)
        resp.media = {"accepted": int(delivery is not None), "duplicates": int(delivery is None),
                      "handled": bool(delivery is not None and delivery.status == "received")}
