"""Hostile input on every route: never a 500, always the JSON error shape.

Each route gets malformed ids, bodies and query parameters through the real
app against real PostgreSQL and Redis: bytes that are not UTF-8, a NUL
character (PostgreSQL refuses it in text and jsonb), JSON of the wrong
shape, numbers out of range, deep nesting, garbage cursors.
"""
import json

import pytest

from tests import factories

NUL = "nul\u0000byte"
IDS = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "x" * 2000, "%00", "1 OR 1=1"]
BODIES = [
    b"{", b"[]", b"null", b'"text"', b"\xff\xfe\xfd", json.dumps({"name": NUL, "nodes": []}).encode(),
    json.dumps({"trigger_data": {"k": NUL}}).encode(), json.dumps({"name": 1e308 * 10}).encode().replace(
        b"Infinity", b"1e400"), b"[" * 5000 + b"]" * 5000, json.dumps({"name": "x", "nodes": "not a list"}).encode(),
    json.dumps({"name": "x", "nodes": [{"node_type": 5, "label": None, "config": []}]}).encode(),
    json.dumps({"decision": "maybe", "comment": NUL}).encode(), json.dumps({"changes": NUL}).encode(),
    json.dumps({"from_step": {"a": 1}, "reason": ["x"]}).encode(),
    json.dumps({"provider": NUL, "credentials": {"k": NUL}}).encode(),
]
QUERIES = ["limit=-1", "limit=abc", "limit=100000", "cursor=garbage", "cursor=" + "A" * 500, "level=nope",
           "domain=%00", "step_id=not-a-uuid", "from_step=999999", "name=%00", "connection_id=nope"]

ROUTES = [
    ("GET", "/api/v1/workflows/{id}"), ("PUT", "/api/v1/workflows/{id}"), ("DELETE", "/api/v1/workflows/{id}"),
    ("POST", "/api/v1/workflows"), ("POST", "/api/v1/workflows/{id}/activate"),
    ("POST", "/api/v1/workflows/{id}/executions"), ("GET", "/api/v1/workflows/{id}/runs"),
    ("POST", "/api/v1/workflows/{id}/preflight"), ("GET", "/api/v1/executions/{id}"),
    ("GET", "/api/v1/executions/{id}/steps"), ("GET", "/api/v1/executions/{id}/logs"),
    ("GET", "/api/v1/executions/{id}/preflight"), ("POST", "/api/v1/executions/{id}/resume"),
    ("POST", "/api/v1/executions/{id}/cancel"), ("POST", "/api/v1/executions/{id}/retry"),
    ("GET", "/api/v1/executions/{id}/retry-preview"), ("POST", "/api/v1/executions/{id}/request-signature"),
    ("GET", "/api/v1/executions/{id}/documents"), ("GET", "/api/v1/executions/{id}/documents/{id}"),
    ("GET", "/api/v1/executions/{id}/audit"), ("POST", "/api/v1/executions/{id}/stream-token"),
    ("GET", "/api/v1/templates"), ("POST", "/api/v1/templates"), ("GET", "/api/v1/templates/{id}"),
    ("DELETE", "/api/v1/templates/{id}"), ("GET", "/api/v1/connections"), ("POST", "/api/v1/connections"),
    ("GET", "/api/v1/connections/{id}"), ("DELETE", "/api/v1/connections/{id}"),
    ("POST", "/api/v1/connections/{id}/test"), ("GET", "/api/v1/connections/oauth/{id}/start"),
    ("GET", "/api/v1/connections/oauth/{id}/callback"), ("GET", "/api/v1/apps/{id}/dynamic/{id}"),
    ("GET", "/api/v1/approvals/{id}"), ("POST", "/api/v1/approvals/{id}/decision"),
    ("GET", "/api/v1/approvals/{id}/documents/{id}"), ("POST", "/api/v1/webhooks/signature/{id}"),
    ("POST", "/api/v1/webhooks/signature/clicksign/{id}"), ("POST", "/api/v1/webhooks/triggers/{id}"),
    ("POST", "/api/v1/webhooks/stripe"), ("POST", "/api/v1/webhooks/stripe/{id}"),
    ("GET", "/api/v1/sse/executions/{id}/stream"), ("POST", "/sandbox/sign/{id}/{id}"),
]


def check(resp, what):
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        assert set(resp.json["error"]) >= {"code", "message_human", "message_tech"}, what


def hammer(client, org, method, url):
    """Send every hostile body (for POST/PUT) and query to `url`; none may get a 500."""
    for body in (BODIES if method in ("POST", "PUT") else [None]):
        check(client.simulate_request(method, url, body=body, headers={**org.headers,
                                                                       "Content-Type": "application/json"}),
              f"{method} {url} body={body[:60] if body else None!r}")
    for query in QUERIES:
        check(client.simulate_request(method, url, query_string=query, headers=org.headers),
              f"{method} {url}?{query}")


@pytest.mark.parametrize("method,path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_no_hostile_input_gets_a_500(client, org, method, path):
    for some_id in IDS:
        hammer(client, org, method, path.replace("{id}", some_id))


def test_hostile_bodies_and_queries_on_real_rows(client, org):
    """The same inputs aimed at ids that exist, past the 404s into the handlers."""
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution_id = factories.start(client, org, wf["id"], {"name": "Ana"})
    for method, path in sorted(ROUTES, key=lambda route: route[0] == "DELETE"):
        if "/sse/" in path or "{id}" not in path:
            continue
        real = wf["id"] if "/workflows/" in path else execution_id
        hammer(client, org, method, path.replace("{id}", real, 1).replace("{id}", "not-a-uuid"))


def test_verified_webhooks_with_hostile_bodies_are_refused_cleanly(client, org, services):
    """Past the signature check, the same bodies still get a 4xx, never a 500."""
    from integrations.signatures.sandbox import SIGNATURE_HEADER, sign_body
    from web.webhooks.triggers import SIGNATURE_HEADER as TRIGGER_HEADER, expected_signature

    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    client.simulate_post(f"/api/v1/workflows/{wf['id']}/activate", headers=org.headers)
    for body in BODIES + [json.dumps({"event_id": NUL, "envelope_id": NUL, "event": "signed",
                                      "signer": {"email": NUL}}).encode()]:
        trigger = client.simulate_post(f"/api/v1/webhooks/triggers/{wf['id']}", body=body, headers={
            TRIGGER_HEADER: expected_signature(wf["webhook_secret"], body), "Idempotency-Key": "k"})
        check(trigger, f"trigger body={body[:60]!r}")
        sandbox = client.simulate_post("/api/v1/webhooks/signature/sandbox", body=body, headers={
            SIGNATURE_HEADER: sign_body(services.settings.sandbox_webhook_secret, body)})
        check(sandbox, f"sandbox body={body[:60]!r}")
        assert trigger.status_code != 401 and sandbox.status_code != 401
