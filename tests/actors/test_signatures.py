"""Signatures through the sandbox provider, with real signed webhooks."""
import datetime
import json
import threading
import uuid

import pytest
import requests

from cli import sample
from integrations.signatures.sandbox import SIGNATURE_HEADER, sign_body
from storage.models import SandboxEnvelope, SignatureRequest, WebhookDelivery
from tests import factories
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def signature_workflow(client, org, signers, notify_to):
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "expires_in_days": 3,
                    "signers": [{"name": s.split("@")[0], "email": s} for s in signers]}},
        {"node_type": "email", "label": "send", "config": {"to": [notify_to], "subject": "signed"}},
    ])


def signers_of(org, *names):
    return [f"{n}+{org.id[:8]}@acme.example" for n in names]


def sign_links(client, org, execution_id):
    return {s["email"]: s["sign_url"] for s in factories.steps(client, org, execution_id)[2]["data_out"]["signers"]}


def act(url, action):
    return requests.post(url, json={"action": action}, timeout=10)


def test_run_resumes_only_when_every_signer_signed(client, org, worker, web_server, mailbox, redis):
    ana, bia = signers_of(org, "ana", "bia")
    customer = f"customer+{org.id[:8]}@acme.example"
    wf = signature_workflow(client, org, [ana, bia], customer)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())

    state = factories.wait_for_status(client, org, execution_id, "signing")
    assert state["signature_state"] == "signing"
    links = sign_links(client, org, execution_id)
    assert requests.get(links[ana], timeout=5).status_code == 200
    # (opening the link sends a `viewed` webhook; wait for it, or a quick `signed` could overtake it)
    wait_until(lambda: "signature.viewed" in factories.stream_types(redis, execution_id), 20, message="viewed event")

    # When the first signer signs, the run still waits
    assert act(links[ana], "signed").status_code == 200
    wait_until(lambda: factories.stream_types(redis, execution_id).count("signature.signed") == 1, 20,
               message="first signature event")
    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "signing" and state["current_step"]["waiting_for"]["pending"] == [bia]
    assert act(links[ana], "signed").status_code == 410

    # and the last one resumes it
    assert act(links[bia], "signed").status_code == 200
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed" and state["signature_state"] == "signed"
    assert len(mailbox.wait_for(customer)) == 1
    output = factories.steps(client, org, execution_id)[2]["data_out"]
    assert output["signers"] == {ana: "signed", bia: "signed"} and output["signed_at"]
    types = factories.stream_types(redis, execution_id)
    for event in ("signature.requested", "signature.sent", "signature.viewed", "signature.signed",
                  "signature.completed", "execution.resumed"):
        assert event in types
    assert types.count("execution.resumed") == 1 and types.count("signature.signed") == 2


def test_a_decline_fails_the_run(client, org, worker, web_server):
    ana, bia = signers_of(org, "ana", "bia")
    wf = signature_workflow(client, org, [ana, bia], "x@acme.example")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")

    act(sign_links(client, org, execution_id)[bia], "declined")

    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "failed" and state["signature_state"] == "declined"
    assert bia in state["last_error_human"]


def sandbox_webhook(settings, envelope_id, email, event_id):
    body = json.dumps({"event_id": event_id, "envelope_id": envelope_id, "event": "signed",
                       "signer": {"email": email}, "occurred_at": "2026-11-22T00:00:00Z"}).encode()
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(settings.sandbox_webhook_secret, body)}


def test_the_same_webhook_from_twenty_threads_resumes_once(client, org, worker, web_server, services, redis):
    (ana,) = signers_of(org, "ana")
    wf = signature_workflow(client, org, [ana], "y@acme.example")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    envelope_id = factories.steps(client, org, execution_id)[2]["data_out"]["envelope_id"]
    body, headers = sandbox_webhook(services.settings, envelope_id, ana, f"evt-{uuid.uuid4()}")

    answers, barrier = [], threading.Barrier(20)

    def post():
        barrier.wait()
        answers.append(requests.post(f"{web_server.base}/api/v1/webhooks/signature/sandbox", data=body,
                                     headers=headers, timeout=10).json())

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(a["accepted"] for a in answers) == 1 and sum(a["duplicates"] for a in answers) == 19
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1


def test_webhooks_are_verified_before_anything_else(client, org, web_server, services, db):
    body, headers = sandbox_webhook(services.settings, str(uuid.uuid4()), "a@b.co", "evt-forged")
    url = f"{web_server.base}/api/v1/webhooks/signature/sandbox"
    forged = requests.post(url, data=body + b" ", headers=headers, timeout=5)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "webhook.invalid_signature"
    assert requests.post(url, data=body, timeout=5).status_code == 401
    assert requests.post(f"{web_server.base}/api/v1/webhooks/signature/docusign", data=body, headers=headers,
                         timeout=5).status_code == 404
    assert WebhookDelivery.select().where(WebhookDelivery.event_key == "evt-forged").count() == 0


def test_a_webhook_arriving_before_the_wait_is_recorded_is_applied_later(client, org, worker, web_server, db,
                                                                        table_lock):
    # Given the hop is held just before it records the signature request
    ana, bia = signers_of(org, "ana", "bia")
    wf = signature_workflow(client, org, [ana, bia], "z@acme.example")
    blocker = table_lock("signature_requests", "SHARE")
    try:
        execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
        envelope = wait_until(lambda: SandboxEnvelope.get_or_none(
            SandboxEnvelope.idempotency_key.startswith(execution_id)), 30, message="sandbox envelope")

        # When both signers sign and the provider calls back at once
        for person in envelope.signers:
            act(f"{web_server.base}/sandbox/sign/{envelope.id}/{person['token']}", "signed")
        wait_until(lambda: WebhookDelivery.select().where((WebhookDelivery.target_id == str(envelope.id))
                                                          & (WebhookDelivery.status == "pending")).count() == 2,
                   30, message="deliveries parked as pending")
        assert SignatureRequest.select().where(SignatureRequest.envelope_id == str(envelope.id)).count() == 0
    finally:
        blocker.rollback()

    # Then the notifications are applied when the wait begins, and the run goes on
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"


def stranded_signature(client, org, services, broken_web):
    """A run waiting for one signer whose webhook was verified and stored by a
    web process that could not enqueue it (Redis down): answered 503."""
    (ana,) = signers_of(org, "ana")
    wf = signature_workflow(client, org, [ana], "z@acme.example")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    envelope_id = factories.steps(client, org, execution_id)[2]["data_out"]["envelope_id"]
    event_key = f"evt-{uuid.uuid4()}"
    body, headers = sandbox_webhook(services.settings, envelope_id, ana, event_key)
    stranded = requests.post(f"{broken_web('REDIS_URL')}/api/v1/webhooks/signature/sandbox", data=body,
                             headers=headers, timeout=30)
    assert stranded.status_code == 503 and stranded.headers["Retry-After"]
    delivery = WebhookDelivery.get((WebhookDelivery.provider == "sandbox") & (WebhookDelivery.event_key == event_key))
    assert delivery.status == "received"
    return execution_id, delivery, body, headers


def test_a_provider_retry_applies_a_webhook_stranded_by_a_redis_outage(client, org, worker, web_server, services,
                                                                       broken_web, redis):
    execution_id, delivery, body, headers = stranded_signature(client, org, services, broken_web)
    WebhookDelivery.update(received_at=delivery.received_at - datetime.timedelta(minutes=1)).where(
        WebhookDelivery.id == delivery.id).execute()

    retried = requests.post(f"{web_server.base}/api/v1/webhooks/signature/sandbox", data=body, headers=headers,
                            timeout=10)

    assert retried.status_code == 200 and retried.json() == {"accepted": 0, "duplicates": 1}
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1


def test_the_clock_applies_a_webhook_stranded_by_a_redis_outage(client, org, worker, services, broken_web, redis):
    from actors import scheduled

    execution_id, delivery, _, _ = stranded_signature(client, org, services, broken_web)

    assert scheduled.resend_stranded_webhooks(older_than=0) >= 1

    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert WebhookDelivery.get_by_id(delivery.id).status == "applied"
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1


def test_a_redelivered_apply_after_a_crash_before_the_settle_still_resumes(client, org, worker, services,
                                                                           broken_web, redis):
    from actors.waits import apply_signature_delivery
    from storage import signatures

    execution_id, delivery, _, _ = stranded_signature(client, org, services, broken_web)
    # The worker committed the signer's status, then died before settling the wait
    request, _, changed = signatures.apply_delivery(delivery.id)
    assert changed and factories.run_state(client, org, execution_id)["status"] == "signing"

    apply_signature_delivery.send(delivery.id)  # the broker redelivers the unacked message

    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1


def test_a_notification_applied_while_the_run_is_being_canceled_takes_the_run_first(client, org, worker, db):
    from actors import waits
    from integrations.signatures.base import SignatureEvent
    from storage import outbox, signatures
    from tests.support import in_thread, run_row_held, wait_on_a_lock

    # Given a run out for signature and a stored "viewed" notification for it
    ana, bia = signers_of(org, "ana", "bia")
    wf = signature_workflow(client, org, [ana, bia], f"c+{org.id[:8]}@acme.example")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    request = SignatureRequest.get(SignatureRequest.execution == execution_id)
    delivery, _ = signatures.store_delivery("sandbox", SignatureEvent(
        event_key=uuid.uuid4().hex, envelope_id=request.envelope_id, kind="viewed", signer_email=ana))

    # When the notification is applied while a transaction holds the run's row, as a cancel does before it
    # withdraws the run's requests
    with run_row_held(execution_id):
        applier, applied = in_thread(lambda box: waits.apply_delivery(delivery.id))
        wait_on_a_lock(applied, "the notification waiting on a lock")

        # Then it waits for the run's row holding neither the request nor the delivery, which the cancel
        # would lock next (before, it held the request and waited for the run: a deadlock, a 503 on the cancel)
        with db.atomic():
            for table, row in (("signature_requests", request.id), ("webhook_deliveries", delivery.id)):
                db.execute_sql(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", (row,))
    applier.join(30)
    assert "error" not in applied, applied["error"]
    assert [kind for _, kind, _ in outbox.history(execution_id)].count("signature.viewed") == 1

    # and the run still cancels
    canceled = client.simulate_post(f"/api/v1/executions/{execution_id}/cancel", json={"reason": "deal lost"},
                                    headers=org.headers)
    assert canceled.status_code == 200, canceled.text
    assert SignatureRequest.get_by_id(request.id).status == "canceled"
