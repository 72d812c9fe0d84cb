"""What the three LLM clients share: results, errors and JSON answers.

Each client (openai_chat, anthropic_messages, gemini) turns one prompt into
a `Completion` and lists the account's models. Their error answers differ in
shape but mean the same things, mapped here to our codes:

- a refused key (401; Gemini says 400 API_KEY_INVALID) → oauth_expired
  (reconnect the account);
- 429 → rate_limit (retried), except a spent quota or budget → ai.quota_exceeded
  (not retried: waiting minutes does not help);
- 5xx and Anthropic's 529 overloaded → connection_error (retried);
- an unknown model (404) → ai.model_not_found; other 4xx → ai.bad_request.
"""
import dataclasses
import json
import re

from integrations.errors import AuthExpired, BadResponse, IntegrationError, PermissionDenied, RateLimited, Unavailable
from integrations.outbound import safe_url

#: generation can take far longer than an ordinary API call
GENERATION_READ_TIMEOUT = 120.0
JSON_INSTRUCTION = "Answer with a single JSON object and nothing else."


@dataclasses.dataclass
class Completion:
    text: str
    model: str
    usage: dict
    finish_reason: str = ""
    response_id: str = ""


@dataclasses.dataclass
class ModelInfo:
    id: str
    label: str


class ModelNotFound(IntegrationError):
    code = "ai.model_not_found"
    message_human = "The AI model does not exist or this account may not use it."


class QuotaExceeded(IntegrationError):
    code = "ai.quota_exceeded"
    message_human = "The AI account has no credit or quota left; check its plan and billing."


class InvalidAnswer(IntegrationError):
    code = "ai.invalid_answer"
    message_human = "The AI model did not answer as asked."


def usage(input_count, output_count, total=None):
    """Token counts under neutral names (keys with "token" are redacted in stored outputs)."""
    input_count, output_count = int(input_count or 0), int(output_count or 0)
    return {"input": input_count, "output": output_count,
            "total": int(total) if total is not None else input_count + output_count}


def system_prompt(system, json_mode):
    """The system text, with the JSON instruction appended in JSON mode ("" when there is none)."""
    return "\n\n".join(part for part in (system or "", JSON_INSTRUCTION if json_mode else "") if part)


def body_of(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def detail_of(response, message):
    return f"{response.request.method} {safe_url(response.url)} -> {response.status_code}: {message or response.reason}"


def retry_after_of(response):
    value = response.headers.get("Retry-After", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def raise_error(response, *, provider, message, kind="", quota=False, bad_key=False, retry_after=None):
    """Raise the IntegrationError for a provider's error answer (status and parsed fields)."""
    status, detail = response.status_code, detail_of(response, f"{kind} {message}".strip())
    if status == 401 or bad_key:
        raise AuthExpired(f"{provider} refused the API key; reconnect the account with a valid key.", detail)
    if quota:
        raise QuotaExceeded(f"The {provider} account has no credit or quota left; check its plan and billing.",
                            detail)
    if status == 403:
        raise PermissionDenied(f"The {provider} API key may not do this: {message}", detail)
    if status == 404:
        raise ModelNotFound(f"{provider} does not offer this model to the account: {message}", detail)
    if status == 429:
        raise RateLimited(f"{provider} is limiting requests; the step will be retried.", detail,
                          retry_after=retry_after if retry_after is not None else retry_after_of(response))
    if status >= 500:
        raise Unavailable(f"{provider} is unavailable or overloaded; the step will be retried.", detail)
    raise BadResponse(f"{provider} refused the request: {message}", detail, code="ai.bad_request")


def json_object(text):
    """Parse the model's answer as one JSON object (code fences and chatter around it are tolerated)."""
    candidates = [text.strip()]
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL | re.IGNORECASE)
    if fenced:
        candidates.append(fenced.group(1).strip())
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{"):text.rindex("}") + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise InvalidAnswer("The AI model did not answer with a JSON object.", f"answer: {text[:300]!r}")
