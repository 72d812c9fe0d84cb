"""The Stripe client and node config against a local server speaking Stripe's API."""
import pytest

from integrations.connections import handle_for
from integrations.errors import IntegrationError
from integrations.stripe.client import StripeClient, form_encode
from integrations.stripe.node import checkout_params
from storage.models import Connection
from tests.integrations.stripe.fake_stripe import FakeStripe

IDS = {"execution_id": "0b4c1c52-7a4e-4b8e-9d8e-0c0f1a2b3c4d", "node_id": "node-1", "organization_id": "org-1",
       "workflow_id": "wf-1"}
CONFIG = {"line_items": [{"name": "Contract D-1042", "amount": 1250000, "currency": "BRL", "quantity": 1},
                         {"name": "Setup", "amount": "5000", "currency": "brl", "quantity": "2"}],
          "customer_email": "ana@acme.example", "success_url": "https://acme.example/paid?s={CHECKOUT_SESSION_ID}",
          "cancel_url": "https://acme.example/cancel", "metadata": {"deal_id": "D-1042"}}


@pytest.fixture
def fake(httpserver):
    return FakeStripe(httpserver)


@pytest.fixture
def stripe(fake, org, services):
    connection = Connection.create(organization=org.id, provider="stripe", auth_type="bearer", key_id="test",
                                   credentials={"api_key": fake.key, "base_url": fake.base_url})
    return StripeClient(handle_for(connection.id, org.id, services.settings).session("corr-stripe-1"))


def test_params_are_form_encoded_with_stripe_brackets(fake, stripe):
    params = checkout_params(CONFIG, **IDS)
    assert form_encode({"line_items": [{"price_data": {"currency": "brl"}}], "flag": True, "none": None}) == [
        ("line_items[0][price_data][currency]", "brl"), ("flag", "true")]

    session = stripe.create_checkout_session(params, idempotency_key="exec:node:checkout_session")

    seen = fake.creations()[0]
    assert seen.headers["Authorization"] == f"Bearer {fake.key}"
    assert seen.headers["X-Correlation-ID"] == "corr-stripe-1"
    assert seen.headers["Idempotency-Key"] == "exec:node:checkout_session"
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = dict(seen.form)
    assert form["line_items[0][price_data][currency]"] == "brl"
    assert form["line_items[0][price_data][unit_amount]"] == "1250000"
    assert form["line_items[0][price_data][product_data][name]"] == "Contract D-1042"
    assert form["line_items[1][quantity]"] == "2"
    assert form["metadata[docg_execution_id]"] == IDS["execution_id"] and form["metadata[deal_id]"] == "D-1042"
    assert form["payment_intent_data[metadata][docg_execution_id]"] == IDS["execution_id"]
    assert form["client_reference_id"] == IDS["execution_id"] and form["mode"] == "payment"
    assert form["success_url"] == CONFIG["success_url"] and "customer_email" in form
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.id}" and session.amount_total == 1260000
    assert (session.status, session.payment_status) == ("open", "unpaid")


def test_a_retry_with_the_same_key_gets_the_same_session(fake, stripe):
    params = checkout_params(CONFIG, **IDS)
    first = stripe.create_checkout_session(params, idempotency_key="key-1")
    again = stripe.create_checkout_session(params, idempotency_key="key-1")
    assert again.id == first.id and len(fake.sessions) == 1

    changed = checkout_params({**CONFIG, "customer_email": "bruno@acme.example"}, **IDS)
    with pytest.raises(IntegrationError) as caught:
        stripe.create_checkout_session(changed, idempotency_key="key-1")
    assert caught.value.code == "stripe.idempotency_error" and not caught.value.retryable


def test_a_rate_limited_create_succeeds_when_retried_with_its_key(fake, stripe):
    fake.fail_next(429, "invalid_request_error", "Request rate limit exceeded.", code="rate_limit")
    params = checkout_params(CONFIG, **IDS)
    with pytest.raises(IntegrationError) as caught:
        stripe.create_checkout_session(params, idempotency_key="key-rl")
    assert caught.value.code == "rate_limit" and caught.value.retryable
    assert stripe.create_checkout_session(params, idempotency_key="key-rl").id in fake.sessions


@pytest.mark.parametrize("failure, code, retryable, words", [
    ((400, "invalid_request_error", "No such price: 'price_gone'", {"code": "resource_missing",
                                                                   "param": "line_items[0][price]"}),
     "stripe.invalid_request", False, "(line_items[0][price]): No such price"),
    ((402, "card_error", "Your card was declined.", {"code": "card_declined"}), "stripe.card_error", False,
     "Your card was declined."),
    ((500, "api_error", "Something went wrong on Stripe's end.", {}), "connection_error", True, "Stripe failed"),
    ((500, "api_error", "Not retryable.", {"headers": {"Stripe-Should-Retry": "false"}}), "connection_error", False,
     "Stripe failed"),
    ((409, "invalid_request_error", "There is currently another in-progress request using this Idempotent Key.",
      {"code": "idempotency_key_in_use"}), "rate_limit", True, "still busy"),
    ((403, "invalid_request_error", "The provided key does not have the required permissions.", {}),
     "permission_denied", False, "permission"),
])
def test_stripe_error_bodies_map_to_our_codes(fake, stripe, failure, code, retryable, words):
    status, kind, message, options = failure
    fake.fail_next(status, kind, message, **options)
    with pytest.raises(IntegrationError) as caught:
        stripe.create_checkout_session(checkout_params(CONFIG, **IDS), idempotency_key=f"key-{status}")
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    assert words in caught.value.message_human
    assert f"type={kind}" in caught.value.message_tech and message in caught.value.message_tech


def test_a_real_validation_error_names_the_parameter(fake, stripe):
    params = checkout_params(CONFIG, **IDS)
    del params["line_items"][0]["price_data"]["currency"]
    with pytest.raises(IntegrationError) as caught:
        stripe.create_checkout_session(params, idempotency_key="key-invalid")
    assert caught.value.code == "stripe.invalid_request"
    assert "line_items[0][price_data][currency]" in caught.value.message_human
    assert fake.sessions == {}


def test_a_wrong_key_is_a_reconnect(fake, org, services):
    connection = Connection.create(organization=org.id, provider="stripe", auth_type="bearer", key_id="test",
                                   credentials={"api_key": "sk_test_revoked", "base_url": fake.base_url})
    client = StripeClient(handle_for(connection.id, org.id, services.settings).session())
    with pytest.raises(IntegrationError) as caught:
        client.balance()
    assert caught.value.code == "oauth_expired" and "Invalid API Key" in caught.value.message_tech


def test_balance_is_the_connection_test(fake, stripe):
    assert stripe.balance() == {"livemode": False, "available": [{"amount": 0, "currency": "brl"}]}
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.key}"


@pytest.mark.parametrize("change, code", [
    ({"line_items": [], "price_id": None}, "missing_required_field"),
    ({"line_items": [{"name": "x", "amount": "125.00", "currency": "brl"}]}, "invalid_config"),
    ({"line_items": [{"name": "x", "amount": 100, "currency": "reais"}]}, "invalid_config"),
    ({"line_items": [{"amount": 100, "currency": "brl"}]}, "missing_required_field"),
    ({"success_url": None}, "missing_required_field"),
    ({"success_url": "acme.example/paid"}, "delivery.invalid_url"),
    ({"customer_email": "not-an-email"}, "delivery.invalid_email"),
    ({"mode": "donation"}, "invalid_config"),
])
def test_config_errors_are_caught_before_calling_stripe(change, code):
    with pytest.raises(IntegrationError) as caught:
        checkout_params({**CONFIG, **change}, **IDS)
    assert caught.value.code == code


def test_a_price_id_and_variables_still_to_resolve():
    params = checkout_params({"price_id": "price_123", "quantity": "3", "success_url": "https://a.example"}, **IDS)
    assert params["line_items"] == [{"price": "price_123", "quantity": 3}]
    pending = checkout_params({**CONFIG, "line_items": [{"name": "x", "amount": "{{step.quote.total}}",
                                                          "currency": "brl"}]}, **IDS)
    assert pending["line_items"][0]["price_data"]["unit_amount"] == "{{step.quote.total}}"
