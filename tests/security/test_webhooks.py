"""Webhooks: a trigger signature cannot be replayed; signed-but-malformed provider bodies get 400.

Every provider gets its valid notification with each field replaced by a
value of the wrong type (or removed), correctly signed, through the real
app: the answer is never a 5xx (providers retry those forever) and never a
401, and what is not a notification at all is 400.
"""
import copy
import dataclasses
import json
import time
import uuid

import falcon.testing
import pytest

from integrations import signing
from integrations.signatures.sandbox import SIGNATURE_HEADER as SANDBOX_HEADER, sign_body
from storage.models import Execution
from tests import factories
from web.webhooks.triggers import SIGNATURE_HEADER, expected_signature

WRONG = [None, 0, -1, 1.5, True, "", "x" * 3000, [], {}, [1, {"a": None}], {"nested": {"deep": []}}, "\ud800"]
NOT_NOTIFICATIONS = [b"[]", b"null", b"1", b'"text"', b"{}", b'{"event": null}', b"\xff\xfe", b"{",
                     b"[" * 200 + b"]" * 200]
STRIPE_SECRET = "whsec_security_test"


def mutations(document):
    """The document with each value (at any depth) replaced by each WRONG value, or removed."""
    def paths(value, path=()):
        yield path
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in children:
            yield from paths(child, path + (key,))

    for path in list(paths(document))[1:]:
        for replacement in WRONG + ["__delete__"]:
            changed = copy.deepcopy(document)
            parent = changed
            for key in path[:-1]:
                parent = parent[key]
            if replacement == "__delete__":
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            yield json.dumps(changed).encode()


def _check(resp, what):
    assert resp.status_code < 500 and resp.status_code != 401, f"{what}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        assert set(resp.json["error"]) >= {"code", "message_human", "message_tech"}, what


# --- the trigger webhook ---------------------------------------------------------------------------

def _active(client, org):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    client.simulate_post(f"/api/v1/workflows/{wf['id']}/activate", headers=org.headers)
    return wf


def _runs(wf):
    return Execution.select().where(Execution.workflow == wf["id"]).count()


def test_a_replayed_trigger_signature_starts_nothing(client, org, db):
    # Given a correctly signed delivery that started a run
    wf = _active(client, org)
    url, body = f"/api/v1/webhooks/triggers/{wf['id']}", b'{"name": "Ana"}'
    headers = {SIGNATURE_HEADER: expected_signature(wf["webhook_secret"], body)}
    assert client.simulate_post(url, body=body, headers=headers).status_code == 202
    # When the very same request is sent again, many times
    replies = [client.simulate_post(url, body=body, headers=headers) for _ in range(5)]
    # Then each is refused as a replay and still only one run exists
    assert {r.status_code for r in replies} == {409}
    assert {r.json["error"]["code"] for r in replies} == {"webhook.replayed"}
    assert _runs(wf) == 1


def test_an_old_or_future_trigger_signature_is_401(client, org, db):
    wf = _active(client, org)
    url, body = f"/api/v1/webhooks/triggers/{wf['id']}", b'{"name": "Ana"}'
    for skew in (-301, -3600, 301, 10 ** 9):
        resp = client.simulate_post(url, body=body, headers={
            SIGNATURE_HEADER: expected_signature(wf["webhook_secret"], body, int(time.time()) + skew)})
        assert resp.status_code == 401 and resp.json["error"]["code"] == "webhook.invalid_signature", skew
    assert _runs(wf) == 0


def test_the_old_unsigned_timestamp_scheme_and_forgeries_are_401(client, org, db):
    import hashlib
    import hmac

    wf = _active(client, org)
    url, body = f"/api/v1/webhooks/triggers/{wf['id']}", b'{"name": "Ana"}'
    now = int(time.time())
    forged = [
        "sha256=" + hmac.new(wf["webhook_secret"].encode(), body, hashlib.sha256).hexdigest(),
        f"t={now},v1=" + hmac.new(wf["webhook_secret"].encode(), body, hashlib.sha256).hexdigest(),
        f"t={now + 1},v1=" + signing.compute_signature(body, now, wf["webhook_secret"]),
        f"t={now},v1=" + signing.compute_signature(body, now, "guessed"), f"t={now}", "v1=00", "", "t=x,v1=y",
        f"t={now},v1=" + "0" * 64, f"t={now},v1=\u00e9",
    ]
    for header in forged:
        assert client.simulate_post(url, body=body, headers={SIGNATURE_HEADER: header}).status_code == 401, header
    other = _active(client, org)
    stolen = expected_signature(other["webhook_secret"], body)
    assert client.simulate_post(url, body=body, headers={SIGNATURE_HEADER: stolen}).status_code == 401
    assert _runs(wf) == 0


def test_the_tolerance_is_a_setting(services, broker, org, db):
    from web.app import create_app

    settings = dataclasses.replace(services.settings, webhook_tolerance_seconds=5)
    client = falcon.testing.TestClient(create_app(dataclasses.replace(services, settings=settings), broker=broker))
    wf = _active(client, org)
    body = b"{}"
    resp = client.simulate_post(f"/api/v1/webhooks/triggers/{wf['id']}", body=body, headers={
        SIGNATURE_HEADER: expected_signature(wf["webhook_secret"], body, int(time.time()) - 30)})
    assert resp.status_code == 401


# --- provider webhooks --------------------------------------------------------------------------------

def sandbox_notification():
    return {"event_id": str(uuid.uuid4()), "envelope_id": str(uuid.uuid4()), "event": "signed",
            "signer": {"email": "ana@example.com", "name": "Ana"}, "occurred_at": "2026-01-01T00:00:00+00:00"}


def clicksign_notification():
    return {"event": {"name": "sign", "occurred_at": "2026-01-01T00:00:00Z",
                      "data": {"signer": {"email": "ana@example.com", "key": "s-1"}}},
            "document": {"key": str(uuid.uuid4()), "metadata": {"docg_envelope": "e-1"}, "status": "running",
                         "signers": [{"email": "ana@example.com"}]}}


def zapsign_notification():
    return {"event_type": "doc_signed", "token": str(uuid.uuid4()), "status": "signed",
            "signer_who_signed": {"token": "t-1", "email": "ana@example.com", "signed_at": "2026-01-01"},
            "signers": [{"token": "t-1", "email": "ana@example.com", "status": "signed", "last_view_at": "x"}],
            "last_update_at": "2026-01-01"}


def stripe_event():
    return {"id": f"evt_{uuid.uuid4().hex}", "type": "checkout.session.completed", "livemode": False,
            "data": {"object": {"object": "checkout.session", "id": f"cs_{uuid.uuid4().hex}",
                                "metadata": {"docg_execution_id": str(uuid.uuid4()), "docg_node_id": "n"},
                                "payment_status": "paid", "status": "complete", "amount_total": 1000,
                                "currency": "brl", "customer_details": {"email": "ana@example.com"},
                                "payment_intent": {"id": "pi_1"}}}}


@pytest.fixture
def stripe_client(services, broker):
    from web.app import create_app

    settings = dataclasses.replace(services.settings, stripe_webhook_secret=STRIPE_SECRET)
    return falcon.testing.TestClient(create_app(dataclasses.replace(services, settings=settings), broker=broker))


def _senders(client, stripe_client, services):
    return {
        "sandbox": (sandbox_notification, lambda body: client.simulate_post(
            "/api/v1/webhooks/signature/sandbox", body=body,
            headers={SANDBOX_HEADER: sign_body(services.settings.sandbox_webhook_secret, body)})),
        "clicksign": (clicksign_notification, lambda body: client.simulate_post(
            "/api/v1/webhooks/signature/clicksign", body=body,
            headers={"Content-Hmac": sign_body(services.settings.clicksign_webhook_secret, body)})),
        "zapsign": (zapsign_notification, lambda body: client.simulate_post(
            "/api/v1/webhooks/signature/zapsign", body=body,
            headers={"X-DocG-Webhook-Secret": services.settings.zapsign_webhook_secret})),
        "stripe": (stripe_event, lambda body: stripe_client.simulate_post(
            "/api/v1/webhooks/stripe", body=body,
            headers={"Stripe-Signature": signing.header_value(body, STRIPE_SECRET)})),
    }


@pytest.mark.parametrize("provider", ["sandbox", "clicksign", "zapsign", "stripe"])
def test_signed_but_malformed_provider_bodies_are_400_never_5xx(client, stripe_client, services, db, provider):
    valid, send = _senders(client, stripe_client, services)[provider]
    # Given a correctly signed valid notification, accepted
    assert send(json.dumps(valid()).encode()).status_code == 200
    # When each field of it is given a wrong type (or removed), still correctly signed
    statuses = {}
    for body in mutations(valid()):
        resp = send(body)
        _check(resp, f"{provider} {body[:120]!r}")
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
    # Then nothing is a 5xx, and bodies that are no notification at all are 400
    for body in NOT_NOTIFICATIONS:
        resp = send(body)
        _check(resp, f"{provider} {body[:60]!r}")
        assert resp.status_code == 400, f"{provider} {body[:60]!r}: {resp.status_code} {resp.text[:200]}"
    assert statuses.get(400, 0) > 0, statuses


def test_the_same_signed_request_sent_concurrently_starts_one_run(client, org, db, web_server):
    from concurrent.futures import ThreadPoolExecutor

    import requests

    # Given one correctly signed delivery, captured
    wf = _active(client, org)
    body = b'{"name": "Ana"}'
    headers = {SIGNATURE_HEADER: expected_signature(wf["webhook_secret"], body), "Content-Type": "application/json"}
    url = f"{web_server.base}/api/v1/webhooks/triggers/{wf['id']}"
    # When it is sent eight times at once to the real web process
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: requests.post(url, data=body, headers=headers, timeout=30).status_code,
                                   range(8)))
    # Then exactly one started a run
    assert statuses == [202] + [409] * 7
    assert _runs(wf) == 1
