"""Stripe-Signature verification and what a Checkout event means for a run."""
import hashlib
import hmac

import pytest

from integrations.stripe.webhook import handle_event, parse_event, signature_problem, verify_signature

SECRET = "whsec_test_docg"
BODY = b'{\n  "id": "evt_1",\n  "type": "checkout.session.completed"\n}'
NOW = 1_780_000_000


def sign(body, secret, timestamp):
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_a_valid_signature_is_accepted():
    header = f"t={NOW},v1={sign(BODY, SECRET, NOW)}"
    assert verify_signature(BODY, header, SECRET, now=NOW + 10)


def test_one_valid_v1_among_several_is_enough():
    header = f"t={NOW}, v1={sign(BODY, 'whsec_old', NOW)},v1={sign(BODY, SECRET, NOW)},v0={'0' * 64}"
    assert verify_signature(BODY, header, SECRET, now=NOW)
    assert not verify_signature(BODY, f"t={NOW},v1={sign(BODY, 'whsec_old', NOW)}", SECRET, now=NOW)


@pytest.mark.parametrize("body, header, now, problem", [
    (BODY.replace(b"evt_1", b"evt_2"), f"t={NOW},v1={sign(BODY, SECRET, NOW)}", NOW, "no signature matches"),
    (BODY, f"t={NOW},v1={sign(BODY, 'whsec_other', NOW)}", NOW, "no signature matches"),
    (BODY, f"t={NOW},v1={sign(BODY, SECRET, NOW)}", NOW + 301, "more than 300s"),
    (BODY, f"t={NOW},v1={sign(BODY, SECRET, NOW)}", NOW - 301, "more than 300s"),
    (BODY, f"t={NOW + 1},v1={sign(BODY, SECRET, NOW)}", NOW, "no signature matches"),
    (BODY, f"t={NOW},v0={sign(BODY, SECRET, NOW)}", NOW, "no v1 signature"),
    (BODY, f"v1={sign(BODY, SECRET, NOW)}", NOW, "no timestamp"),
    (BODY, "", NOW, "no timestamp"),
    (BODY, f"t=yesterday,v1={sign(BODY, SECRET, NOW)}", NOW, "no timestamp"),
    (BODY, f"t={NOW},v1=ünïcode", NOW, "no signature matches"),
])
def test_tampered_stale_and_malformed_signatures_are_refused(body, header, now, problem):
    assert problem in signature_problem(body, header, SECRET, now=now)
    assert not verify_signature(body, header, SECRET, now=now)


def test_the_edge_of_the_tolerance_and_a_missing_secret():
    header = f"t={NOW},v1={sign(BODY, SECRET, NOW)}"
    assert verify_signature(BODY, header, SECRET, now=NOW + 300)
    assert verify_signature(BODY, header, SECRET, tolerance=10, now=NOW - 10)
    assert signature_problem(BODY, header, "", now=NOW) == "no webhook secret configured"


def test_a_completed_checkout_names_its_run():
    event = {"id": "evt_9", "type": "checkout.session.completed", "livemode": False, "data": {"object": {
        "id": "cs_test_1", "object": "checkout.session", "status": "complete", "payment_status": "paid",
        "amount_total": 1250000, "currency": "brl", "client_reference_id": "exec-from-reference",
        "metadata": {"docg_execution_id": "exec-1", "docg_node_id": "node-1", "docg_organization_id": "org-1"},
        "customer_details": {"email": "ana@acme.example"}, "payment_intent": "pi_1"}}}
    assert handle_event(event) == {
        "event_id": "evt_9", "event_type": "checkout.session.completed", "outcome": "completed",
        "execution_id": "exec-1", "node_id": "node-1", "organization_id": "org-1", "session_id": "cs_test_1",
        "payment_status": "paid", "status": "complete", "amount_total": 1250000, "currency": "brl",
        "customer_email": "ana@acme.example", "payment_intent": "pi_1", "livemode": False}
    del event["data"]["object"]["metadata"]
    assert handle_event(event)["execution_id"] == "exec-from-reference"
    del event["data"]["object"]["client_reference_id"]
    assert handle_event(event) is None
    assert handle_event({"id": "evt_10", "type": "invoice.paid", "data": {"object": {"id": "in_1"}}}) is None


def test_bodies_that_are_not_events_are_refused():
    assert parse_event(BODY)["id"] == "evt_1"
    for bad in (b"[]", b'{"type": "x"}', b"not json"):
        with pytest.raises(ValueError):
            parse_event(bad)
