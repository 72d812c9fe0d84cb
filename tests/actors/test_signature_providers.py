"""ClickSign and ZapSign runs end to end, against servers that speak their APIs."""
import pytest
import requests

from cli import sample
from storage.models import Connection, WebhookDelivery
from tests import factories
from tests.integrations.fake_clicksign import FakeClickSign
from tests.integrations.fake_zapsign import FakeZapSign
from tests.support import wait_until

pytestmark = pytest.mark.e2e
SIGNERS = [{"name": "Ana", "email": "ana@acme.example"}, {"name": "Bruno", "email": "bruno@acme.example"}]


def provider_run(client, org, provider, fake, credentials, **config):
    connection = Connection.create(organization=org.id, provider=provider, auth_type="api_key",
                                   credentials={**credentials, "base_url": fake.base_url}, key_id="test")
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        factories.render_node(template_id),
        {"node_type": provider, "label": "sign", "config": {"connection_id": str(connection.id), "signers": SIGNERS,
                                                            **config}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    return execution_id, factories.steps(client, org, execution_id)[1]["data_out"]["envelope_id"]


def post_webhook(web_server, provider, body, headers):
    return requests.post(f"{web_server.base}/api/v1/webhooks/signature/{provider}", data=body, headers=headers,
                         timeout=10)


def test_clicksign_run_signs_through_verified_webhooks(client, org, db, worker, web_server, httpserver):
    fake = FakeClickSign(httpserver)
    execution_id, envelope_id = provider_run(client, org, "clicksign", fake, {"access_token": fake.token})
    correlation = factories.run_state(client, org, execution_id)["correlation_id"]
    assert {seen.headers.get("X-Correlation-ID") for seen in fake.requests} == {correlation}
    assert ("POST", "/envelopes") in fake.calls()

    for signer in SIGNERS:
        headers, body = fake.webhook(envelope_id, "sign", "cs-webhook-secret", signer_email=signer["email"])
        assert post_webhook(web_server, "clicksign", body, headers).json()["accepted"] == 1
    headers, body = fake.webhook(envelope_id, "sign", "wrong-secret", signer_email=SIGNERS[0]["email"])
    assert post_webhook(web_server, "clicksign", body, headers).status_code == 401

    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed" and state["signature_state"] == "signed"


def test_zapsign_refusal_fails_the_run(client, org, db, worker, web_server, httpserver):
    fake = FakeZapSign(httpserver)
    execution_id, envelope_id = provider_run(client, org, "zapsign", fake, {"api_token": fake.token})

    body = fake.act(envelope_id, SIGNERS[0]["email"], "doc_signed")
    headers = {"Content-Type": "application/json", "X-DocG-Webhook-Secret": "zs-webhook-secret"}
    assert post_webhook(web_server, "zapsign", body, headers).json()["accepted"] >= 1
    body = fake.act(envelope_id, SIGNERS[1]["email"], "doc_refused")
    assert post_webhook(web_server, "zapsign", body, headers).json()["accepted"] == 1

    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "failed" and state["signature_state"] == "declined"
    assert SIGNERS[1]["email"] in state["last_error_human"]


def test_a_connection_url_verifies_with_that_customers_own_secret(client, org, other_org, db, worker, web_server,
                                                                  httpserver):
    # Given a ClickSign connection that carries its own webhook secret, and another customer's connection
    fake = FakeClickSign(httpserver)
    execution_id, envelope_id = provider_run(client, org, "clicksign", fake,
                                             {"access_token": fake.token, "webhook_secret": "acme-own-secret"})
    ours = Connection.get((Connection.organization == org.id) & (Connection.provider == "clicksign"))
    theirs = Connection.create(organization=other_org.id, provider="clicksign", auth_type="api_key", key_id="test",
                               credentials={"access_token": "x", "webhook_secret": "their-secret"})
    ana, bruno = (s["email"] for s in SIGNERS)

    def post(connection_id, secret, email):
        headers, body = fake.webhook(envelope_id, "sign", secret, signer_email=email)
        return post_webhook(web_server, f"clicksign/{connection_id}", body, headers)

    # The account-wide secret, a guess, an unknown or malformed connection id: refused before anything else
    assert post(ours.id, "cs-webhook-secret", ana).status_code == 401
    assert post(ours.id, "guess", ana).status_code == 401
    assert post("5b0c6f3e-0000-4000-8000-000000000000", "acme-own-secret", ana).status_code == 401
    assert post("not-a-uuid", "acme-own-secret", ana).status_code == 401

    # Another customer's valid webhook naming our envelope is stored but changes nothing of ours
    assert post(theirs.id, "their-secret", ana).json()["accepted"] == 1
    foreign = (WebhookDelivery.provider == "clicksign") & WebhookDelivery.event_key.startswith(f"{theirs.id}:")
    wait_until(lambda: WebhookDelivery.get(foreign).status == "pending", 20, message="foreign webhook handled")
    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "signing" and sorted(state["current_step"]["waiting_for"]["pending"]) == [ana, bruno]

    # Our own account's webhooks sign the run
    assert post(ours.id, "acme-own-secret", ana).json()["accepted"] == 1
    assert post(ours.id, "acme-own-secret", bruno).json()["accepted"] == 1
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed" and state["signature_state"] == "signed"


@pytest.mark.parametrize("provider", ["clicksign", "zapsign"])
def test_a_sequential_node_asks_the_provider_to_invite_signers_in_order(client, org, db, worker, web_server,
                                                                         httpserver, provider):
    # Given a Portuguese organization and a node with `sequential: true`
    assert client.simulate_patch("/api/v1/organization", json={"locale": "pt-BR"},
                                 headers=org.headers).status_code == 200
    if provider == "clicksign":
        fake = FakeClickSign(httpserver)
        _, envelope_id = provider_run(client, org, provider, fake, {"access_token": fake.token}, sequential=True,
                                      reminder_hours=48)
        # Then ClickSign gets one group per signer, notifies the first only, and reminds every 2 days
        envelope = fake.envelopes[envelope_id]
        assert [s["group"] for s in envelope["signers"].values()] == [1, 2]
        assert envelope["notified"] == [[SIGNERS[0]["email"]]]
        assert (envelope["attributes"]["locale"], envelope["attributes"]["remind_interval"]) == ("pt-BR", 2)
    else:
        fake = FakeZapSign(httpserver)
        _, envelope_id = provider_run(client, org, provider, fake, {"api_token": fake.token}, sequential=True)
        # Then ZapSign gets its signing order switched on, and asks the first signer only
        assert fake.docs[envelope_id]["signature_order_active"] is True
        assert fake.invited(envelope_id) == [SIGNERS[0]["email"]]
