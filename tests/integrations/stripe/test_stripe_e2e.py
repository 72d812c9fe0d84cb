"""The stripe node through the real worker, and Stripe's webhook through the real app."""
import dataclasses
import json

import pytest
from werkzeug import Response

from storage.models import Connection, WebhookDelivery
from tests import factories
from tests.integrations.stripe.fake_stripe import FakeStripe, signed
from tests.support import wait_until

pytestmark = pytest.mark.e2e
SECRET = "whsec_test_docg_e2e"
WEBHOOK = "/api/v1/webhooks/stripe"
TRIGGER = {"deal_id": "D-1042", "client_name": "Acme Corp", "amount_cents": 1250000,
           "contact": {"email": "ana@acme.example"}}


@pytest.fixture
def stripe_webhook(app, monkeypatch):
    """The app's Stripe webhook route, verifying with SECRET (routed here until web/app.py wires it)."""
    from web.webhooks.stripe import StripeWebhook

    found = app.falcon_app._router.find(WEBHOOK)
    resource = found[0] if found else None
    if resource is None:
        resource = StripeWebhook(app.settings)
        app.falcon_app.add_route(WEBHOOK, resource)
    monkeypatch.setattr(resource, "settings", dataclasses.replace(resource.settings, stripe_webhook_secret=SECRET))
    return WEBHOOK


def stripe_run(client, org, fake, api_key=None, status="active", then=(), webhook_secret=None):
    credentials = {"api_key": api_key or fake.key, "base_url": fake.base_url}
    if webhook_secret:
        credentials["webhook_secret"] = webhook_secret
    connection = Connection.create(organization=org.id, provider="stripe", auth_type="bearer", key_id="test",
                                   status=status, credentials=credentials)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "stripe", "label": "pay", "config": {
            "connection_id": str(connection.id), "customer_email": "{{trigger.contact.email}}",
            "line_items": [{"name": "Contract {{trigger.deal_id}}", "amount": "{{trigger.amount_cents}}",
                            "currency": "brl", "quantity": 1}],
            "success_url": "https://acme.example/paid?session={CHECKOUT_SESSION_ID}",
            "metadata": {"deal_id": "{{trigger.deal_id}}"}}},
        *then,
    ])
    return factories.start(client, org, wf["id"], TRIGGER)


def post_event(client, path, event, secret=SECRET, **options):
    body, header = signed(event, secret, **options)
    return client.simulate_post(path, body=body, headers={"Stripe-Signature": header,
                                                          "Content-Type": "application/json"})


def history(client, org, execution_id):
    logs = client.simulate_get(f"/api/v1/executions/{execution_id}/logs", headers=org.headers).json["logs"]
    audit = client.simulate_get(f"/api/v1/executions/{execution_id}/audit", headers=org.headers).json["events"]
    return ([entry for entry in logs if "Stripe" in entry["message_human"]],
            [event for event in audit if event["action"].startswith("payment.")])


def test_run_creates_a_checkout_link_and_records_the_payment(client, org, worker, httpserver, stripe_webhook):
    # Given a webhook → stripe → outgoing-webhook workflow with a Stripe connection
    fake = FakeStripe(httpserver)
    sent = []
    httpserver.expect_request("/crm").respond_with_handler(lambda request: sent.append(request.json) or Response("ok"))
    notify = {"node_type": "outgoing-webhook", "label": "notify", "config": {
        "url": httpserver.url_for("/crm"), "payload": {"link": "{{step.pay.url}}", "id": "{{step.pay.session_id}}"}}}

    # When it runs
    execution_id = stripe_run(client, org, fake, then=[notify])
    state = factories.wait_for_status(client, org, execution_id)

    # Then it completes with the checkout URL in the step output
    assert state["status"] == "completed", state
    step = factories.steps(client, org, execution_id)[1]
    (session_id,) = fake.sessions
    assert step["data_out"]["url"] == f"https://checkout.stripe.com/c/pay/{session_id}"
    assert step["data_out"]["session_id"] in (session_id, "[REDACTED]")  # storage/redact.py hides *session* keys
    assert sent == [{"link": step["data_out"]["url"], "id": session_id}]
    assert step["data_out"]["payment_status"] == "unpaid" and step["data_out"]["amount_total"] == 1250000

    # and Stripe got one creation keyed by the ledger, with the run's ids and correlation id
    (created,) = fake.creations()
    assert created.headers["Idempotency-Key"] == f"{execution_id}:{step['node_id']}:checkout_session"
    assert created.headers["X-Correlation-ID"] == state["correlation_id"]
    assert created.headers["Authorization"] == f"Bearer {fake.key}"
    params = created.params
    assert params["metadata"] == {"deal_id": "D-1042", "docg_execution_id": execution_id,
                                  "docg_node_id": step["node_id"], "docg_organization_id": org.id,
                                  "docg_workflow_id": state["workflow_id"]}
    assert params["line_items"][0]["price_data"] == {"currency": "brl", "unit_amount": "1250000",
                                                     "product_data": {"name": "Contract D-1042"}}
    assert params["customer_email"] == "ana@acme.example"

    # When Stripe reports the completed checkout twice (a redelivery)
    event = fake.event(session_id)
    first = post_event(client, stripe_webhook, event)
    again = post_event(client, stripe_webhook, event)

    # Then the first is accepted, the second is a duplicate, and the payment is recorded once
    assert (first.status_code, first.json) == (200, {"accepted": 1, "duplicates": 0, "handled": True})
    assert (again.status_code, again.json) == (200, {"accepted": 0, "duplicates": 1, "handled": False})
    logs, audit = wait_until(lambda: (h := history(client, org, execution_id))[0] and h[1] and h, 10,
                             message="payment recorded")
    assert [entry["message_human"] for entry in logs] == ["Checkout completed at Stripe: 12500.00 BRL (paid)."]
    assert logs[0]["step_id"] == step["id"] and logs[0]["domain"] == "delivery"
    assert json.loads(logs[0]["details_tech"])["payment_intent"] == event["data"]["object"]["payment_intent"]
    assert [(a["action"], a["actor_type"], a["target_id"]) for a in audit] == [
        ("payment.completed", "webhook", session_id)]

    # and events that are forged, stale or not about a session this run created change nothing
    assert post_event(client, stripe_webhook, {**event, "id": "evt_forged"}, secret="whsec_guess").status_code == 401
    stale = post_event(client, stripe_webhook, {**event, "id": "evt_stale"}, timestamp=1_700_000_000)
    assert stale.status_code == 401 and stale.json["error"]["code"] == "webhook.invalid_signature"
    other = fake.event(session_id)
    other["data"]["object"]["id"] = "cs_test_not_created_by_this_run"
    assert post_event(client, stripe_webhook, other).json["accepted"] == 1
    unrelated = {**fake.event(session_id), "type": "invoice.paid"}
    assert post_event(client, stripe_webhook, unrelated).json == {"accepted": 1, "duplicates": 0, "handled": False}
    assert history(client, org, execution_id) == (logs, audit)
    body, header = signed([1, 2], SECRET)
    malformed = client.simulate_post(stripe_webhook, body=body, headers={"Stripe-Signature": header})
    assert malformed.status_code == 400 and malformed.json["error"]["code"] == "webhook.malformed"


def test_a_refused_key_stops_the_run_in_review_with_reconnect(client, org, worker, httpserver):
    fake = FakeStripe(httpserver)

    execution_id = stripe_run(client, org, fake, api_key="sk_test_rolled")

    state = factories.wait_for_status(client, org, execution_id, "needs_review")
    assert state["last_error_tech"].startswith("[oauth_expired]")
    assert [a["action"] for a in state["recommended_actions"]] == ["reconnect_provider"]
    assert fake.creations() == [] and [r.path for r in fake.requests] == ["/v1/balance"]


def test_a_revoked_connection_stops_the_run_before_calling_stripe(client, org, worker, httpserver):
    fake = FakeStripe(httpserver)

    execution_id = stripe_run(client, org, fake, status="revoked")

    state = factories.wait_for_status(client, org, execution_id, "needs_review")
    assert [a["action"] for a in state["recommended_actions"]] == ["reconnect_provider"]
    assert fake.requests == []


def test_a_customers_own_stripe_account_posts_to_its_connection_url(client, org, other_org, worker, httpserver,
                                                                     stripe_webhook):
    # Given a run whose Stripe connection carries the customer's own webhook secret
    fake = FakeStripe(httpserver)
    execution_id = stripe_run(client, org, fake, webhook_secret="whsec_acme_own")
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    (session_id,) = fake.sessions
    ours = Connection.get((Connection.organization == org.id) & (Connection.provider == "stripe"))
    theirs = Connection.create(organization=other_org.id, provider="stripe", auth_type="bearer", key_id="test",
                               credentials={"api_key": "sk_test_other", "webhook_secret": "whsec_other"})
    event = fake.event(session_id)

    # The account-wide secret does not verify the connection URL, nor does a guess or an unknown connection
    assert post_event(client, f"{WEBHOOK}/{ours.id}", event).status_code == 401
    assert post_event(client, f"{WEBHOOK}/{ours.id}", event, secret="whsec_guess").status_code == 401
    assert post_event(client, f"{WEBHOOK}/not-a-uuid", event, secret="whsec_acme_own").status_code == 401

    # Another customer's account reporting our session is verified but records nothing on our run
    foreign = post_event(client, f"{WEBHOOK}/{theirs.id}", {**event, "id": "evt_foreign"}, secret="whsec_other")
    assert foreign.json == {"accepted": 1, "duplicates": 0, "handled": True}
    wait_until(lambda: WebhookDelivery.get(WebhookDelivery.event_key == f"{theirs.id}:evt_foreign").status
               == "ignored", 10, message="foreign event handled")
    assert history(client, org, execution_id) == ([], [])

    # Our own account's event records the payment once
    mine = post_event(client, f"{WEBHOOK}/{ours.id}", event, secret="whsec_acme_own")
    assert mine.json == {"accepted": 1, "duplicates": 0, "handled": True}
    logs, audit = wait_until(lambda: (h := history(client, org, execution_id))[0] and h[1] and h, 10,
                             message="payment recorded")
    assert [a["action"] for a in audit] == ["payment.completed"]
