"""Google Gemini client: generateContent and the models list (Gemini API, v1beta).

- POST /v1beta/models/{model}:generateContent  {contents: [{role: "user", parts: [{text}]}],
  systemInstruction?: {parts: [{text}]}, generationConfig?: {responseMimeType,
  maxOutputTokens, temperature}} → {candidates: [{content: {parts: [{text}]},
  finishReason}], promptFeedback?, usageMetadata: {promptTokenCount,
  candidatesTokenCount, totalTokenCount}, modelVersion, responseId}
  (https://ai.google.dev/api/generate-content)
- GET /v1beta/models?pageSize=&pageToken= (paged by nextPageToken), GET /v1beta/models/{model}
  (https://ai.google.dev/api/models)

Auth: `x-goog-api-key: <key>` (https://ai.google.dev/gemini-api/docs/api-key).
Errors are Google RPC statuses `{"error": {"code", "message", "status", "details"}}`;
a bad key is 400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID, a
quota is 429 RESOURCE_EXHAUSTED with QuotaFailure violations and a RetryInfo
`retryDelay`; an overloaded model is 503 UNAVAILABLE.
"""
from urllib.parse import quote

from integrations.ai.base import (GENERATION_READ_TIMEOUT, Completion, InvalidAnswer, ModelInfo, body_of, raise_error,
                                  system_prompt, usage)

NAME = "Google Gemini"
BASE_URL = "https://generativelanguage.googleapis.com"
MAX_PAGES = 10
BLOCKED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII")


def auth_header(credentials):
    return {"x-goog-api-key": credentials.get("api_key") or credentials.get("token", "")}


def model_path(name):
    return "models/" + quote(str(name).removeprefix("models/"), safe="-._")


def _seconds(delay):
    try:
        return float(str(delay).rstrip("s"))
    except ValueError:
        return None


def check(response):
    if response.status_code < 400:
        return response
    error = body_of(response).get("error") or {}
    details = error.get("details") or []
    reasons = {d.get("reason") for d in details}
    daily = any("PerDay" in str(v.get("quotaId", "")) for d in details for v in d.get("violations", []))
    delay = next((_seconds(d["retryDelay"]) for d in details if d.get("retryDelay")), None)
    raise_error(response, provider=NAME, message=error.get("message", ""), kind=error.get("status", ""),
                bad_key="API_KEY_INVALID" in reasons, quota=daily, retry_after=delay)


class GeminiClient:
    provider = "google"

    def __init__(self, session, *, timeout=15.0):
        self.http, self.timeout = session, timeout

    def complete(self, *, model, prompt, system=None, json_mode=False, max_tokens=None, temperature=None):
        body = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        instructions = system_prompt(system, json_mode)
        if instructions:
            body["systemInstruction"] = {"parts": [{"text": instructions}]}
        config = {}
        if json_mode:
            config["responseMimeType"] = "application/json"
        if max_tokens:
            config["maxOutputTokens"] = int(max_tokens)
        if temperature is not None:
            config["temperature"] = temperature
        if config:
            body["generationConfig"] = config
        answer = check(self.http.post(f"/v1beta/{model_path(model)}:generateContent", json=body,
                                      timeout=(self.timeout, GENERATION_READ_TIMEOUT))).json()
        candidate = (answer.get("candidates") or [{}])[0]
        blocked = (answer.get("promptFeedback") or {}).get("blockReason")
        if blocked or candidate.get("finishReason") in BLOCKED:
            raise InvalidAnswer("Google Gemini blocked the prompt or the answer.",
                                f"blockReason={blocked} finishReason={candidate.get('finishReason')}",
                                code="ai.refused")
        parts = (candidate.get("content") or {}).get("parts") or []
        counts = answer.get("usageMetadata") or {}
        return Completion(text="".join(p.get("text", "") for p in parts if not p.get("thought")),
                          model=answer.get("modelVersion") or str(model).removeprefix("models/"),
                          usage=usage(counts.get("promptTokenCount"), counts.get("candidatesTokenCount"),
                                      counts.get("totalTokenCount")),
                          finish_reason=candidate.get("finishReason") or "", response_id=answer.get("responseId", ""))

    def models(self):
        found, token = [], None
        for _ in range(MAX_PAGES):
            params = {"pageSize": 100, **({"pageToken": token} if token else {})}
            body = check(self.http.get("/v1beta/models", params=params)).json()
            found.extend(ModelInfo(id=m["name"].removeprefix("models/"), label=m.get("displayName") or m["name"])
                         for m in body.get("models", [])
                         if "generateContent" in m.get("supportedGenerationMethods", ["generateContent"]))
            token = body.get("nextPageToken")
            if not token:
                break
        return found

    def model(self, name):
        body = check(self.http.get(f"/v1beta/{model_path(name)}")).json()
        return ModelInfo(id=body.get("name", name).removeprefix("models/"), label=body.get("displayName") or name)
