"""Anthropic client: the Messages API and the models list.

- POST /v1/messages  {model, max_tokens, messages: [{role: "user", content}], system?,
  temperature?} → {id, type: "message", model, content: [{type: "text", text}],
  stop_reason, usage: {input_tokens, output_tokens}}
  (https://docs.anthropic.com/en/api/messages)
- GET /v1/models?limit=&after_id= (paged by has_more/last_id), GET /v1/models/{model_id}
  (https://docs.anthropic.com/en/api/models-list)

Auth: `x-api-key: <key>` and `anthropic-version: 2023-06-01`. Errors
(https://docs.claude.com/en/api/errors) are `{"type": "error", "error": {"type",
"message"}, "request_id"}`: 401 authentication_error, 429 rate_limit_error
(with `retry-after`; `error.details.error_code` enforced_spend_limit_reached
is a spent budget, not a rate), 500 api_error, 529 overloaded_error.

NOTE: there is no JSON mode to switch on; JSON answers are asked for in the
system prompt and parsed tolerantly (`base.json_object`). No assistant
prefill: newer models refuse it.
"""
from urllib.parse import quote

from integrations.ai.base import (GENERATION_READ_TIMEOUT, Completion, InvalidAnswer, ModelInfo, body_of, raise_error,
                                  system_prompt, usage)

NAME = "Anthropic"
BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
MAX_PAGES = 10


def auth_header(credentials):
    return {"x-api-key": credentials.get("api_key") or credentials.get("token", ""), "anthropic-version": API_VERSION}


def check(response):
    if response.status_code < 400:
        return response
    error = body_of(response).get("error") or {}
    spent = (error.get("details") or {}).get("error_code") == "enforced_spend_limit_reached"
    raise_error(response, provider=NAME, message=error.get("message", ""), kind=error.get("type", ""), quota=spent)


class AnthropicClient:
    provider = "anthropic"

    def __init__(self, session, *, timeout=15.0):
        self.http, self.timeout = session, timeout

    def complete(self, *, model, prompt, system=None, json_mode=False, max_tokens=None, temperature=None):
        body = {"model": model, "max_tokens": int(max_tokens or DEFAULT_MAX_TOKENS),
                "messages": [{"role": "user", "content": prompt}]}
        instructions = system_prompt(system, json_mode)
        if instructions:
            body["system"] = instructions
        if temperature is not None:
            body["temperature"] = temperature
        answer = check(self.http.post("/v1/messages", json=body,
                                      timeout=(self.timeout, GENERATION_READ_TIMEOUT))).json()
        text = "".join(block.get("text", "") for block in answer.get("content", []) if block.get("type") == "text")
        if answer.get("stop_reason") == "refusal" and not text:
            raise InvalidAnswer("The Anthropic model refused to answer.", "stop_reason refusal", code="ai.refused")
        counts = answer.get("usage") or {}
        return Completion(text=text, model=answer.get("model", model),
                          usage=usage(counts.get("input_tokens"), counts.get("output_tokens")),
                          finish_reason=answer.get("stop_reason") or "", response_id=answer.get("id", ""))

    def models(self):
        found, after = [], None
        for _ in range(MAX_PAGES):
            params = {"limit": 100, **({"after_id": after} if after else {})}
            body = check(self.http.get("/v1/models", params=params)).json()
            found.extend(ModelInfo(id=m["id"], label=m.get("display_name") or m["id"]) for m in body.get("data", []))
            if not body.get("has_more") or not body.get("last_id"):
                break
            after = body["last_id"]
        return found

    def model(self, name):
        body = check(self.http.get(f"/v1/models/{quote(name, safe='')}")).json()
        return ModelInfo(id=body.get("id", name), label=body.get("display_name") or name)
