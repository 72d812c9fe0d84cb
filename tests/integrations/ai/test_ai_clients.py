"""The three LLM clients, the `ai` node's checks and its dynamic data, on local fakes."""
import pytest

from integrations import preflight
from integrations.ai.base import json_object
from integrations.ai.node import PROVIDERS
from integrations.connections import ProviderSession, handle_for
from integrations.errors import IntegrationError
from storage import connections
from tests.integrations.ai.fake_llms import CONNECTION, FAKES

PROVIDER_NAMES = sorted(FAKES)


@pytest.fixture(params=PROVIDER_NAMES)
def provider(request):
    return request.param


@pytest.fixture
def fake(provider, httpserver):
    return FAKES[provider](httpserver)


def connect(org, provider, fake, key=None):
    return connections.create(org.id, provider=CONNECTION[provider], auth_type="api_key",
                              credentials={"api_key": key or fake.key, "base_url": fake.base_url})


def llm(org, provider, fake, services, key=None):
    handle = handle_for(connect(org, provider, fake, key).id, org.id, services.settings)
    session = ProviderSession(handle, correlation_id="corr-ai", timeout=5, retries=0)
    return PROVIDERS[provider][1](session, timeout=5)


def test_a_completion_sends_the_provider_shape_and_reads_the_answer(org, provider, fake, services):
    fake.answer = '{"summary": "ok"}'
    model = PROVIDERS[provider][2]

    completion = llm(org, provider, fake, services).complete(model=model, prompt="Summarise: Acme", system="Be brief.",
                                                             json_mode=True)

    assert completion.text == '{"summary": "ok"}' and completion.usage["total"] == sum(
        completion.usage[k] for k in ("input", "output"))
    seen, = fake.generations()
    assert seen.headers["X-Correlation-ID"] == "corr-ai" and seen.headers["Content-Type"] == "application/json"
    body = seen.body
    if provider == "openai":
        assert seen.path == "/v1/chat/completions" and seen.headers["Authorization"] == f"Bearer {fake.key}"
        assert body["model"] == model and body["response_format"] == {"type": "json_object"}
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["messages"][0]["content"].startswith("Be brief.") and "JSON" in body["messages"][0]["content"]
        assert body["messages"][1]["content"] == "Summarise: Acme"
        assert completion.model.startswith(model) and completion.finish_reason == "stop"
    elif provider == "anthropic":
        assert seen.path == "/v1/messages" and seen.headers["x-api-key"] == fake.key
        assert seen.headers["anthropic-version"] == "2023-06-01" and "Authorization" not in seen.headers
        assert body["model"] == model and body["max_tokens"] == 1024
        assert body["messages"] == [{"role": "user", "content": "Summarise: Acme"}]
        assert body["system"].startswith("Be brief.") and "JSON" in body["system"]
        assert completion.finish_reason == "end_turn"
    else:
        assert seen.path == f"/v1beta/models/{model}:generateContent" and seen.headers["x-goog-api-key"] == fake.key
        assert body["contents"] == [{"role": "user", "parts": [{"text": "Summarise: Acme"}]}]
        assert body["systemInstruction"]["parts"][0]["text"].startswith("Be brief.")
        assert body["generationConfig"] == {"responseMimeType": "application/json"}
        assert completion.model == model and completion.finish_reason == "STOP"


def test_an_anthropic_request_takes_the_step_s_max_tokens(org, httpserver, services):
    fake = FAKES["anthropic"](httpserver)
    llm(org, "anthropic", fake, services).complete(model="claude-sonnet-4-5", prompt="Hi", max_tokens=300,
                                                  temperature=0.2)
    body = fake.generations()[0].body
    assert body["max_tokens"] == 300 and body["temperature"] == 0.2 and "system" not in body


QUOTA = {
    "openai": (429, {"error": {"message": "You exceeded your current quota, please check your plan and billing "
                                          "details.", "type": "insufficient_quota", "param": None,
                               "code": "insufficient_quota"}}),
    "anthropic": (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "You have reached your "
                                                   "specified API usage limits.",
                                                   "details": {"error_code": "enforced_spend_limit_reached"}}}),
    "google": (429, {"error": {"code": 429, "message": "You exceeded your current quota.",
                               "status": "RESOURCE_EXHAUSTED", "details": [
                                   {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
                                       {"quotaMetric": "generativelanguage.googleapis.com/"
                                                       "generate_content_free_tier_requests",
                                        "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}}),
}
RATE = {
    "openai": (429, {"error": {"message": "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3.",
                               "type": "requests", "param": None, "code": "rate_limit_exceeded"}},
               {"Retry-After": "20"}),
    "anthropic": (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request "
                                                   "tokens has exceeded your per-minute rate limit"}},
                  {"retry-after": "20"}),
    "google": (429, {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                               "status": "RESOURCE_EXHAUSTED", "details": [
                                   {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}]}}, None),
}
OVERLOADED = {
    "openai": (503, {"error": {"message": "The engine is currently overloaded, please try again later",
                               "type": "server_error", "param": None, "code": None}}),
    "anthropic": (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    "google": (503, {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                               "status": "UNAVAILABLE"}}),
}


def failing_call(org, provider, fake, services, **options):
    with pytest.raises(IntegrationError) as failure:
        llm(org, provider, fake, services, **options).complete(model=PROVIDERS[provider][2], prompt="Hi")
    return failure.value


def test_errors_map_to_codes_and_retry_decisions(org, provider, fake, services):
    refused = failing_call(org, provider, fake, services, key="wrong-key")
    assert (refused.code, refused.retryable) == ("oauth_expired", False)

    fake.fail(*RATE[provider])
    limited = failing_call(org, provider, fake, services)
    assert (limited.code, limited.retryable, limited.retry_after) == ("rate_limit", True, 20.0)

    fake.fail(*QUOTA[provider])
    spent = failing_call(org, provider, fake, services)
    assert (spent.code, spent.retryable) == ("ai.quota_exceeded", False)

    fake.fail(*OVERLOADED[provider])
    busy = failing_call(org, provider, fake, services)
    assert (busy.code, busy.retryable) == ("connection_error", True)

    with pytest.raises(IntegrationError) as unknown:
        llm(org, provider, fake, services).complete(model="no-such-model", prompt="Hi")
    assert unknown.value.code == "ai.model_not_found"


def test_json_answers_are_parsed_even_when_wrapped():
    assert json_object('{"a": 1}') == {"a": 1}
    assert json_object('Here you go:\n```json\n{"a": {"b": [1, 2]}}\n```') == {"a": {"b": [1, 2]}}
    with pytest.raises(IntegrationError) as bad:
        json_object("[1, 2]")
    assert bad.value.code == "ai.invalid_answer"


def ai_node(config):
    return {"node_id": "n-ai", "node_type": "ai", "label": "summary", "phase": "render", "config": config}


def issues(org, services, config):
    return [(i.code, i.severity) for i in preflight.check([ai_node(config)], trigger={"client": "Acme"},
                                                          organization_id=org.id, settings=services.settings)]


def test_preflight_checks_the_key_the_model_and_the_config(org, provider, fake, services):
    row = connect(org, provider, fake)
    config = {"provider": provider, "connection_id": str(row.id), "prompt": "Summarise {{trigger.client}}"}

    assert issues(org, services, config) == []
    assert fake.requests[-1].method == "GET" and fake.requests[-1].path.endswith(PROVIDERS[provider][2])
    assert issues(org, services, {**config, "model": "no-such-model"}) == [("ai.model_not_found", "blocking")]
    bad_key = connect(org, provider, fake, key="wrong-key")
    assert issues(org, services, {**config, "connection_id": str(bad_key.id)}) == [("oauth_expired", "blocking")]
    assert issues(org, services, {**config, "prompt": ""}) == [("missing_required_field", "blocking")]
    assert issues(org, services, {**config, "output_key": "usage"}) == [("invalid_config", "blocking")]
    other = next(name for name in PROVIDER_NAMES if name != provider)
    assert issues(org, services, {**config, "provider": other}) == [("connection_error", "blocking")]
    fake.fail(*OVERLOADED[provider])
    assert issues(org, services, config) == [("connection_error", "warning")]


def test_dynamic_models_follow_each_api_s_paging(client, org, provider, fake):
    row = connect(org, provider, fake)
    resp = client.simulate_get("/api/v1/apps/ai/dynamic/models", headers=org.headers,
                               params={"connection_id": str(row.id)})
    assert resp.status_code == 200, resp.text
    values = [option["value"] for option in resp.json["options"]]
    listed = [seen for seen in fake.requests if seen.method == "GET"]
    if provider == "openai":
        assert values == sorted(fake.models) and len(listed) == 1
    elif provider == "anthropic":
        assert values == list(fake.models) and [s.args.get("after_id") for s in listed] == [None]
    else:
        # two models a page: three pages; the embedding model cannot generate text
        assert values == ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"]
        assert [s.args.get("pageToken") for s in listed] == [None, "2"]


def test_anthropic_models_are_paged_by_last_id(org, httpserver, services):
    fake = FAKES["anthropic"](httpserver)
    handle = handle_for(connect(org, "anthropic", fake).id, org.id, services.settings)
    client = PROVIDERS["anthropic"][1](handle.session(), timeout=5)
    fake.models = tuple(f"claude-model-{n:03d}" for n in range(150))
    assert len(client.models()) == 150
    assert [seen.args.get("after_id") for seen in fake.requests] == [None, "claude-model-099"]


def test_testing_a_connection_lists_its_models(client, org, provider, fake):
    row = connect(org, provider, fake)
    resp = client.simulate_post(f"/api/v1/connections/{row.id}/test", headers=org.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json["detail"]["models"] >= 3
