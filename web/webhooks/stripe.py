"""POST /webhooks/stripe[/{connection_id}]: Stripe events, verified with the Stripe-Signature scheme.

The bare URL uses the account-wide `STRIPE_WEBHOOK_SECRET`; the per-connection
URL uses the secret on that customer's Stripe connection and only records
payments of sessions created through that connection.

Verify on the raw body first, dedupe by Stripe's event id, persist, then
hand the delivery to `enqueue` and answer 200 at once (Stripe retries any
other answer for days). A retried event whose delivery is still not
applied (the first enqueue failed) is enqueued again.
NOTE: `enqueue` defaults to applying the delivery in the request, which is
two small inserts; wiring passes an actor's `.send` to move it to a worker.
"""
from integrations.stripe import payments
from integrations.stripe.webhook import handle_event, parse_event, signature_problem
from storage import connections, deliveries
from web.errors import BadRequest, Unauthorized
from web.validation import parse_json, read_body


class StripeWebhook:
    auth = "public"

    def __init__(self, settings, enqueue=None):
        self.settings = settings
        self.enqueue = enqueue or payments.apply_delivery

    def on_post(self, req, resp):
        self._receive(req, resp, self.settings.stripe_webhook_secret)

    def on_post_connection(self, req, resp, connection_id):
        """A customer's own Stripe account, verified with its connection's secret."""
        self._receive(req, resp, connections.webhook_secret(payments.PROVIDER, connection_id), connection_id)

    def _receive(self, req, resp, secret, connection_id=None):
        body = read_body(req)
        problem = signature_problem(body, req.get_header("Stripe-Signature") or "", secret)
        if problem:
            raise Unauthorized("The webhook signature is not valid.", f"stripe: {problem}",
                               code="webhook.invalid_signature")
        parse_json(body)  # refuses what PostgreSQL could not store (NUL, deep nesting)
        try:
            event = parse_event(body)
            handle_event(event)  # NOTE: shape-checks the Checkout fields before anything is stored
        except ValueError as ex:
            raise BadRequest("The webhook body is not understood.", str(ex)[:200], code="webhook.malformed") from ex
        delivery, created = payments.store_event(event, connection_id)
        if deliveries.to_enqueue(delivery, created):
            self.enqueue(delivery.id)
        resp.media = {"accepted": int(created), "duplicates": int(not created),
                      "handled": created and delivery.status == "received"}
