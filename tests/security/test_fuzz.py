"""A seeded, time-bounded fuzz of every route: valid auth and signatures, hostile everything else.

Hypothesis generates a few thousand requests (route, ids, query, headers,
JSON or raw body); each goes through the real app on real PostgreSQL and
Redis with the organization's token, and webhooks carry a valid signature
for the exact body generated. None may answer 5xx, and every error has the
JSON shape. `derandomize=True` makes the run the same every time; the
budget keeps it bounded on a slow machine.
"""
import dataclasses
import json
import time
import uuid

import falcon.testing
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from integrations import signing
from integrations.signatures.sandbox import SIGNATURE_HEADER as SANDBOX_HEADER, sign_body
from tests import factories
from tests.web.test_hostile_input import ROUTES
from web.webhooks.triggers import SIGNATURE_HEADER, expected_signature

EXAMPLES = 3000
BUDGET_SECONDS = 240
STRIPE_SECRET = "whsec_fuzz"
EXTRA_ROUTES = [("GET", "/api/v1/workflows"), ("GET", "/api/v1/apps"), ("GET", "/health"), ("GET", "/metrics"),
                ("GET", "/api/v1/sse/health"), ("GET", "/approvals/{id}"), ("GET", "/runs/{id}"),
                ("GET", "/sandbox/sign/{id}/{id}"), ("PATCH", "/api/v1/workflows/{id}"),
                ("POST", "/api/v1/webhooks/signature/zapsign"), ("POST", "/api/v1/webhooks/signature/clicksign"),
                ("GET", "/api/v1/templates/{id}/images"), ("GET", "/api/v1/templates/{id}/images/{id}"),
                ("PUT", "/api/v1/templates/{id}/images/{id}"), ("DELETE", "/api/v1/templates/{id}/images/{id}")]
FUZZ_ROUTES = [(m, p) for m, p in ROUTES + EXTRA_ROUTES if not p.startswith("/api/v1/sse/executions")]
QUERY_NAMES = ["limit", "cursor", "level", "domain", "step_id", "from_step", "name", "connection_id",
               "last_event_id", "token", "status", "q", "redirect_uri", "code", "state"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
                    st.sampled_from(["\ud800", "\x00", "{{trigger.x}}", "{{ cycler.__init__.__globals__ }}",
                                     "approved", "rejected", "signed", "webhook", "email", "outgoing-webhook",
                                     "http://169.254.169.254/", "[set]", "sandbox", "a" * 5000]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(
        ["name", "nodes", "node_type", "label", "config", "trigger_data", "decision", "comment", "action",
         "provider", "credentials", "event", "event_id", "envelope_id", "id", "type", "data", "object", "token",
         "event_type", "document", "key", "changes", "reason", "dry_run", "until_phase", "content"])),
        inner, max_size=5)), max_leaves=12)
ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@dataclasses.dataclass
class Rows:
    ids: dict
    secrets: dict


@pytest.fixture(scope="module")
def fuzz_client(services, broker):
    from web.app import create_app

    fuzz_settings = dataclasses.replace(services.settings, stripe_webhook_secret=STRIPE_SECRET, outbound_allow=())
    return falcon.testing.TestClient(create_app(dataclasses.replace(services, settings=fuzz_settings),
                                                broker=broker))


@pytest.fixture(scope="module")
def rows(fuzz_client, services):
    from storage import tenancy

    with services.db.connection_context():
        organization, token = tenancy.create_organization("fuzz")
    org = type("Org", (), {"id": str(organization.id), "token": token,
                           "headers": {"Authorization": f"Bearer {token}", "X-Organization-ID": str(organization.id)}})
    with services.db.connection_context():
        wf = factories.workflow(fuzz_client, org, [{"node_type": "webhook", "label": "deal"}])
        fuzz_client.simulate_post(f"/api/v1/workflows/{wf['id']}/activate", headers=org.headers)
        execution_id = factories.start(fuzz_client, org, wf["id"], {"name": "Ana"})
        template_id = factories.template(fuzz_client, org)
    ids = {"workflow": wf["id"], "execution": execution_id, "template": template_id}
    return Rows(ids=ids, secrets={"trigger": wf["webhook_secret"], "headers": org.headers})


@st.composite
def requests_(draw, rows):
    method, path = draw(st.sampled_from(FUZZ_ROUTES))
    real = list(rows.ids.values())
    junk = st.one_of(st.sampled_from(real), st.sampled_from(real), st.sampled_from(real), st.uuids().map(str),
                     ascii_text.filter(lambda s: s and "/" not in s and "?" not in s))
    while "{id}" in path:
        kind = path.split("{id}", 1)[0].rstrip("/").rsplit("/", 1)[-1].removesuffix("s")
        value = draw(st.one_of(st.just(rows.ids[kind]), junk) if kind in rows.ids else junk)
        if method == "DELETE" and value in real:
            value = str(uuid.uuid4())  # NOTE: keep the real rows alive for the rest of the run
        path = path.replace("{id}", value.replace("%", "%25").replace("#", "%23") or "x", 1)
    query = draw(st.dictionaries(st.sampled_from(QUERY_NAMES), ascii_text, max_size=3))
    if draw(st.booleans()):
        body = json.dumps(draw(json_values)).encode()
    else:
        body = draw(st.binary(max_size=200))
    headers = {**rows.secrets["headers"], "Content-Type": draw(st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "image/png",
         "image/jpeg"]))}
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(ascii_text)
    return method, path, query, body, headers


def _sign(path, body, headers, rows, settings_):
    """Valid signatures for the exact body, so the fuzz gets past every webhook's door."""
    if path.startswith("/api/v1/webhooks/triggers/"):
        headers[SIGNATURE_HEADER] = expected_signature(rows.secrets["trigger"], body)
    elif path.startswith("/api/v1/webhooks/signature/sandbox"):
        headers[SANDBOX_HEADER] = sign_body(settings_.sandbox_webhook_secret, body)
    elif path.startswith("/api/v1/webhooks/signature/clicksign"):
        headers["Content-Hmac"] = sign_body(settings_.clicksign_webhook_secret, body)
    elif path.startswith("/api/v1/webhooks/signature/zapsign"):
        headers["X-DocG-Webhook-Secret"] = settings_.zapsign_webhook_secret
    elif path.startswith("/api/v1/webhooks/stripe"):
        headers["Stripe-Signature"] = signing.header_value(body, STRIPE_SECRET)


def test_thousands_of_generated_requests_get_no_5xx(fuzz_client, rows, services):
    started, sent, statuses = time.monotonic(), [0], {}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(request=requests_(rows))
    def one(request):
        if time.monotonic() - started > BUDGET_SECONDS:
            return
        method, path, query, body, headers = request
        _sign(path, body, headers, rows, services.settings)
        with services.db.connection_context():
            resp = fuzz_client.simulate_request(method, path, params=query, body=body, headers=headers)
        sent[0] += 1
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, f"{method} {path}?{query} {body[:200]!r}: {resp.status_code} {resp.text[:300]}"
        if resp.status_code >= 400 and resp.headers.get("content-type", "").startswith("application/json"):
            assert set(resp.json["error"]) >= {"code", "message_human", "message_tech"}

    one()
    print(f"fuzz: {sent[0]} requests in {time.monotonic() - started:.0f}s, statuses {sorted(statuses.items())}")
    assert sent[0] >= 1000, f"only {sent[0]} requests fitted in the budget"
    assert any(status < 300 for status in statuses), statuses
