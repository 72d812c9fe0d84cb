"""Local servers that speak the OpenAI, Anthropic and Gemini APIs.

Each fake lives under its own path prefix of one pytest-httpserver, checks
the auth headers and the request body the way its API validates them,
answers with the API's documented shapes (usage, finish reasons, paging)
and errors, and records every request so a test can check the wire.
`fail(status, body, headers, method=)` queues an error answer for the next
call (of that method).
"""
import dataclasses
import json
import re
import uuid

from werkzeug import Response
from werkzeug.datastructures import Headers


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    args: dict
    headers: Headers
    body: object


def reply(payload, status=200, headers=None):
    return Response(json.dumps(payload), status=status, content_type="application/json", headers=headers)


class FakeLLM:
    prefix = ""
    key = ""
    models = ()

    def __init__(self, httpserver, answer="Hello."):
        self.server, self.answer = httpserver, answer
        self.requests, self.failures = [], []
        httpserver.expect_request(re.compile("^" + re.escape(self.prefix) + "/")).respond_with_handler(self._handle)

    @property
    def base_url(self):
        return self.server.url_for(self.prefix)

    def fail(self, status, body, headers=None, method=None):
        self.failures.append((status, body, headers, method))

    def generations(self):
        return [seen for seen in self.requests if seen.method == "POST"]

    def _handle(self, request):
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Seen(request.method, request.path[len(self.prefix):], request.args.to_dict(),
                    Headers(request.headers), body)
        self.requests.append(seen)
        problem = self.authenticate(seen)
        if problem:
            return problem
        failure = next((f for f in self.failures if f[3] in (None, seen.method)), None)
        if failure:
            self.failures.remove(failure)
            return reply(failure[1], failure[0], failure[2])
        if seen.method == "POST" and seen.headers.get("Content-Type") != "application/json":
            return self.invalid("Content-Type must be application/json")
        return self.route(seen)


class FakeOpenAI(FakeLLM):
    """POST /v1/chat/completions, GET /v1/models[/{id}] with `Authorization: Bearer`."""

    prefix, key = "/openai", "sk-test-openai"
    models = ("gpt-4o-mini", "gpt-4o", "o3-mini")

    @staticmethod
    def error(status, message, kind="invalid_request_error", code=None, param=None):
        return reply({"error": {"message": message, "type": kind, "param": param, "code": code}}, status)

    def invalid(self, message, param=None):
        return self.error(400, message, param=param)

    def authenticate(self, seen):
        if seen.headers.get("Authorization") != f"Bearer {self.key}":
            return self.error(401, "Incorrect API key provided: sk-wrong. You can find your API key at "
                                   "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        return None

    def model_object(self, name):
        return {"id": name, "object": "model", "created": 1715367049, "owned_by": "system"}

    def route(self, seen):
        if seen.method == "GET" and seen.path == "/v1/models":
            return reply({"object": "list", "data": [self.model_object(m) for m in self.models]})
        if seen.method == "GET" and seen.path.startswith("/v1/models/"):
            name = seen.path.removeprefix("/v1/models/")
            if name not in self.models:
                return self.error(404, f"The model '{name}' does not exist", code="model_not_found", param="model")
            return reply(self.model_object(name))
        if seen.method == "POST" and seen.path == "/v1/chat/completions":
            return self.complete(seen.body or {})
        return self.error(404, f"Invalid URL ({seen.method} {seen.path})")

    def complete(self, body):
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or any(
                m.get("role") not in ("system", "developer", "user", "assistant") or not isinstance(
                    m.get("content"), str) for m in messages):
            return self.invalid("Invalid 'messages': expected an array of {role, content}.", "messages")
        if body.get("model") not in self.models:
            return self.error(404, f"The model `{body.get('model')}` does not exist or you do not have access to it.",
                              code="model_not_found")
        if (body.get("response_format") or {}).get("type") == "json_object" and not any(
                "json" in m["content"].lower() for m in messages):
            return self.invalid("'messages' must contain the word 'json' in some form, to use 'response_format' "
                                "of type 'json_object'.", "messages")
        return reply({"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": 1715367049,
                      "model": f"{body['model']}-2024-07-18", "system_fingerprint": "fp_44709d6fcb",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": self.answer,
                                                           "refusal": None}, "logprobs": None,
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30}})


class FakeAnthropic(FakeLLM):
    """POST /v1/messages, GET /v1/models[/{id}] with `x-api-key` and `anthropic-version`."""

    prefix, key = "/anthropic", "sk-ant-test"
    models = ("claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1", "claude-3-5-haiku-20241022")

    @staticmethod
    def error(status, kind, message, headers=None):
        return reply({"type": "error", "error": {"type": kind, "message": message},
                      "request_id": f"req_{uuid.uuid4().hex[:20]}"}, status, headers)

    def invalid(self, message):
        return self.error(400, "invalid_request_error", message)

    def authenticate(self, seen):
        if seen.headers.get("anthropic-version") != "2023-06-01":
            return self.invalid("anthropic-version: header is required")
        if seen.headers.get("x-api-key") != self.key:
            return self.error(401, "authentication_error", "invalid x-api-key")
        return None

    def model_object(self, name):
        return {"type": "model", "id": name, "display_name": name.replace("-", " ").title(),
                "created_at": "2025-10-15T00:00:00Z"}

    def route(self, seen):
        if seen.method == "GET" and seen.path == "/v1/models":
            limit = int(seen.args.get("limit", 20))
            names = list(self.models)
            start = names.index(seen.args["after_id"]) + 1 if seen.args.get("after_id") in names else 0
            page = names[start:start + limit]
            return reply({"data": [self.model_object(m) for m in page], "has_more": start + limit < len(names),
                          "first_id": page[0] if page else None, "last_id": page[-1] if page else None})
        if seen.method == "GET" and seen.path.startswith("/v1/models/"):
            name = seen.path.removeprefix("/v1/models/")
            if name not in self.models:
                return self.error(404, "not_found_error", f"model: {name}")
            return reply(self.model_object(name))
        if seen.method == "POST" and seen.path == "/v1/messages":
            return self.complete(seen.body or {})
        return self.error(404, "not_found_error", "Not found")

    def complete(self, body):
        if not isinstance(body.get("max_tokens"), int):
            return self.invalid("max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
            return self.invalid("messages: first message must use the \"user\" role")
        if "system" in body and not isinstance(body["system"], (str, list)):
            return self.invalid("system: Input should be a valid string")
        if body.get("model") not in self.models:
            return self.error(404, "not_found_error", f"model: {body.get('model')}")
        return reply({"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                      "model": body["model"], "content": [{"type": "text", "text": self.answer}],
                      "stop_reason": "end_turn", "stop_sequence": None,
                      "usage": {"input_tokens": 25, "output_tokens": 11, "cache_creation_input_tokens": 0,
                                "cache_read_input_tokens": 0}})


class FakeGemini(FakeLLM):
    """POST /v1beta/models/{model}:generateContent, GET /v1beta/models[/{model}] with `x-goog-api-key`."""

    prefix, key = "/gemini", "AIza-test-gemini"
    models = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash", "text-embedding-004")
    page_size = 2

    @staticmethod
    def error(code, status, message, details=()):
        return reply({"error": {"code": code, "message": message, "status": status, "details": list(details)}}, code)

    def invalid(self, message):
        return self.error(400, "INVALID_ARGUMENT", message)

    def authenticate(self, seen):
        if seen.headers.get("x-goog-api-key") != self.key:
            return self.error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])
        return None

    def model_object(self, name):
        methods = ["embedContent"] if "embedding" in name else ["generateContent", "countTokens"]
        return {"name": f"models/{name}", "version": "001", "displayName": name.replace("-", " ").title(),
                "inputTokenLimit": 1048576, "outputTokenLimit": 65536, "supportedGenerationMethods": methods}

    def route(self, seen):
        if seen.method == "GET" and seen.path == "/v1beta/models":
            size = min(int(seen.args.get("pageSize", 50)), self.page_size)
            start = int(seen.args.get("pageToken") or 0)
            body = {"models": [self.model_object(m) for m in self.models[start:start + size]]}
            if start + size < len(self.models):
                body["nextPageToken"] = str(start + size)
            return reply(body)
        match = re.fullmatch(r"/v1beta/models/([^/:]+)(:generateContent)?", seen.path)
        if match is None:
            return self.error(404, "NOT_FOUND", f"Method not found: {seen.path}")
        name, generate = match.groups()
        if name not in self.models:
            return self.error(404, "NOT_FOUND", f"models/{name} is not found for API version v1beta, or is not "
                                                "supported for generateContent.")
        if seen.method == "GET" and not generate:
            return reply(self.model_object(name))
        if seen.method == "POST" and generate:
            return self.complete(name, seen.body or {})
        return self.error(404, "NOT_FOUND", "Method not found.")

    def complete(self, name, body):
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents or not all(
                isinstance(c.get("parts"), list) and all("text" in p for p in c["parts"]) for c in contents):
            return self.invalid("* GenerateContentRequest.contents: contents is not specified")
        mime = (body.get("generationConfig") or {}).get("responseMimeType", "text/plain")
        if mime not in ("text/plain", "application/json"):
            return self.invalid(f"* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes "
                                f"are `text/plain` and `application/json`, got {mime}")
        return reply({"candidates": [{"content": {"parts": [{"text": self.answer}], "role": "model"},
                                      "finishReason": "STOP", "index": 0}],
                      "usageMetadata": {"promptTokenCount": 18, "candidatesTokenCount": 7, "totalTokenCount": 25},
                      "modelVersion": name, "responseId": uuid.uuid4().hex[:22]})


FAKES = {"openai": FakeOpenAI, "anthropic": FakeAnthropic, "google": FakeGemini}
CONNECTION = {"openai": "openai", "anthropic": "anthropic", "google": "google-ai"}
