"""Stripe: the `stripe` node (Checkout Sessions) and its webhook events.

A connection holds the secret key as `api_key` (`sk_live_...`, `sk_test_...`
or a restricted `rk_...` key with Checkout Sessions write), sent as
`Authorization: Bearer`. Webhooks arrive at `POST /api/v1/webhooks/stripe`
(web/webhooks/stripe.py), verified with STRIPE_WEBHOOK_SECRET, or at
`/api/v1/webhooks/stripe/{connection_id}` verified with the `webhook_secret`
in that customer's connection.
"""
from integrations.base import App, Provider
from integrations.stripe.client import StripeClient
from integrations.stripe.node import StripeCheckout
from integrations.stripe.webhook import handle_event, verify_signature

__all__ = ["register", "handle_event", "verify_signature"]


def _bearer(credentials):
    key = credentials.get("api_key") or credentials.get("secret_key") or credentials.get("token")
    return {"Authorization": f"Bearer {key}"} if key else {}


def check_connection(handle):
    """GET /v1/balance: the cheapest call any full secret key may make."""
    return StripeClient(handle.session()).balance()


def register(registry):
    registry.register_provider(Provider(key="stripe", name="Stripe", auth_type="bearer",
                                        default_base_url="https://api.stripe.com", auth_header=_bearer,
                                        test=check_connection))
    registry.register(App(key="stripe", name="Stripe", auth_type="bearer", provider="stripe",
                          actions=[StripeCheckout()], webhooks=["POST /api/v1/webhooks/stripe", "POST /api/v1/webhooks/stripe/{connection_id}"],
                          description="Create a Stripe Checkout payment link and follow its payment."))
