"""OpenAI client: Chat Completions and the models list.

- POST /v1/chat/completions  {model, messages: [{role, content}], response_format?,
  max_completion_tokens?, temperature?} → {id, model, choices: [{message: {content,
  refusal}, finish_reason}], usage: {prompt_tokens, completion_tokens, total_tokens}}
  (https://platform.openai.com/docs/api-reference/chat/create; JSON mode is
  `response_format: {"type": "json_object"}` and needs the word JSON in the messages)
- GET /v1/models, GET /v1/models/{model} (https://platform.openai.com/docs/api-reference/models)

Auth: `Authorization: Bearer <key>` (optionally `OpenAI-Organization`,
`OpenAI-Project`). Errors are `{"error": {"message", "type", "param", "code"}}`;
429 with code `insufficient_quota` means the account has no credit
(https://platform.openai.com/docs/guides/error-codes).
"""
from urllib.parse import quote

from integrations.ai.base import (GENERATION_READ_TIMEOUT, Completion, InvalidAnswer, ModelInfo, body_of, raise_error,
                                  system_prompt, usage)

NAME = "OpenAI"
BASE_URL = "https://api.openai.com"


def auth_header(credentials):
    headers = {"Authorization": f"Bearer {credentials.get('api_key') or credentials.get('token', '')}"}
    if credentials.get("organization"):
        headers["OpenAI-Organization"] = credentials["organization"]
    if credentials.get("project"):
        headers["OpenAI-Project"] = credentials["project"]
    return headers


def check(response):
    if response.status_code < 400:
        return response
    error = body_of(response).get("error") or {}
    code, kind = error.get("code") or "", error.get("type") or ""
    raise_error(response, provider=NAME, message=error.get("message", ""), kind=f"{kind}/{code}",
                quota="insufficient_quota" in (code, kind))


class OpenAIClient:
    provider = "openai"

    def __init__(self, session, *, timeout=15.0):
        self.http, self.timeout = session, timeout

    def complete(self, *, model, prompt, system=None, json_mode=False, max_tokens=None, temperature=None):
        instructions = system_prompt(system, json_mode)
        messages = [{"role": "system", "content": instructions}] if instructions else []
        messages.append({"role": "user", "content": prompt})
        body = {"model": model, "messages": messages}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        if max_tokens:
            body["max_completion_tokens"] = int(max_tokens)
        if temperature is not None:
            body["temperature"] = temperature
        answer = check(self.http.post("/v1/chat/completions", json=body,
                                      timeout=(self.timeout, GENERATION_READ_TIMEOUT))).json()
        choice = (answer.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        if message.get("refusal"):
            raise InvalidAnswer("The OpenAI model refused to answer.", f"refusal: {message['refusal'][:300]}",
                                code="ai.refused")
        counts = answer.get("usage") or {}
        return Completion(text=message.get("content") or "", model=answer.get("model", model),
                          usage=usage(counts.get("prompt_tokens"), counts.get("completion_tokens"),
                                      counts.get("total_tokens")),
                          finish_reason=choice.get("finish_reason") or "", response_id=answer.get("id", ""))

    def models(self):
        body = check(self.http.get("/v1/models")).json()
        return sorted((ModelInfo(id=m["id"], label=m["id"]) for m in body.get("data", [])), key=lambda m: m.id)

    def model(self, name):
        body = check(self.http.get(f"/v1/models/{quote(name, safe='')}")).json()
        return ModelInfo(id=body.get("id", name), label=body.get("id", name))
