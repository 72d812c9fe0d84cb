"""The API contract as OpenAPI 3.1, built from the operations table.

`document()` is what GET /api/v1/openapi.json serves. Bumping API_VERSION
is for changes that remove or rename a documented field;
tests/web/openapi_snapshot.json keeps the fields of the last release, and a
test fails when one disappears (additions are allowed).
"""
import copy
import functools
import re

from web.openapi.components import SCHEMAS
from web.openapi.operations import OPERATIONS

API_VERSION = "1.0.0"
PARAM = re.compile(r"{(\w+)}")
ERROR_TEXT = {
    "400": "Malformed JSON, a bad query parameter or cursor", "401": "No valid credentials",
    "403": "The token does not belong to that organization", "404": "Not found (or another organization's)",
    "409": "The run's state does not allow this", "410": "The link was used, revoked or expired",
    "413": "The body is over 1 MiB", "422": "Invalid fields (`details` names each one)",
    "502": "The provider answered with an error",
    "503": "PostgreSQL or Redis cannot be reached, or too many streams; retry after `Retry-After` seconds",
}
LANGUAGES = ("pt-BR", "en")
#: NOTE: its schema stays a plain string: any header is accepted (an unsupported one falls back), so there is
#: no invalid value for schemathesis's negative mode to send (tests/web/test_schemathesis.py)
ACCEPT_LANGUAGE = {
    "name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
    "example": "pt-BR,pt;q=0.9,en;q=0.8",
    "description": "The language of the answer's human texts (`message_human` of errors, issues and log rows, "
                   "`error_human`, `last_error_human`, recommended action labels and descriptions). Supported: "
                   "`pt-BR` (any `pt` tag) and `en` (any `en` tag), chosen by `q` weight. Without a supported "
                   "language the organization's `locale` applies (GET/PATCH /api/v1/organization), else `en`. "
                   "Codes and keys (`code`, `error_code`, `message_key`, `action`) never change with the language; "
                   "the answer's `Content-Language` names the language used. The approval and signing pages "
                   "for people follow the locale of the organization or envelope that sent the link.",
}
SECURITY = {"org": [{"bearer": [], "organization": []}],
            "stream": [{"bearer": [], "organization": []}, {"streamToken": []}], "public": [], "admin": [{"admin": []}]}


def _error(status):
    answer = {"description": ERROR_TEXT[status],
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if status == "503":
        answer["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return answer


def _operation_id(op):
    named = {("POST", "/api/v1/workflows/{workflow_id}/executions"): "startExecution",
             ("GET", "/api/v1/workflows/{workflow_id}"): "getWorkflow",
             ("GET", "/api/v1/executions/{execution_id}"): "getExecution",
             ("GET", "/api/v1/executions/{execution_id}/steps"): "getExecutionSteps"}
    if (op.method, op.path) in named:
        return named[(op.method, op.path)]
    words = [w for w in re.split(r"[/{}_.-]+", op.path.removeprefix("/api/v1")) if w]
    return op.method.lower() + "".join(w.capitalize() for w in words) + ("Page" if op.tag == "pages" else "")


def _statuses(op):
    statuses = {"503"}
    params = PARAM.findall(op.path)
    if op.auth == "admin":
        statuses |= {"401"}
    elif op.auth != "public":
        statuses |= {"400", "401", "403"}  # 400: a malformed X-Organization-ID
    if params:
        statuses |= {"404"}
    if op.body is not None or op.query or params:
        statuses |= {"400", "422"}
    if op.body is not None:
        statuses |= {"413"}
    return statuses | set(op.errors)


def _has_human_texts(responses):
    """Whether an answer may carry human texts: every JSON answer but the health reports' (codes only)."""
    schemas = [media.get("schema", {}) for answer in responses.values()
               for content_type, media in answer.get("content", {}).items() if content_type == "application/json"]
    return any(schema.get("$ref", "").rsplit("/", 1)[-1] not in ("Health", "SseHealth") for schema in schemas)


def _operation(op):
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in PARAM.findall(op.path)]
    parameters += [dict(p) for p in (*op.query, *op.headers)]
    if op.auth == "stream":
        parameters.append({"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
                           "description": "A stream token (POST …/stream-token) instead of the headers."})
    responses = copy.deepcopy(op.ok)
    for status in sorted(_statuses(op) - set(responses)):
        responses[status] = _error(status)
    if op.links:
        for status, answer in responses.items():
            if status.startswith("2") and "content" in answer:
                answer["links"] = op.links
    if _has_human_texts(responses):
        parameters.append(dict(ACCEPT_LANGUAGE))
    operation = {"operationId": _operation_id(op), "summary": op.summary, "tags": [op.tag],
                 "parameters": parameters, "responses": dict(sorted(responses.items())),
                 "security": SECURITY[op.auth]}
    if op.description:
        operation["description"] = op.description
    if op.body is not None:
        media = {"schema": op.body}
        if op.body_example is not None:
            media["example"] = op.body_example
        content = {"application/json": media}
        if op.raw_body:
            binary = {"schema": {"type": "string", "format": "binary"}}
            content.update({media_type: binary for media_type in op.raw_types})
        operation["requestBody"] = {"required": op.body_required, "content": content}
    return operation


@functools.cache
def document():
    """Return the OpenAPI 3.1 document (a dict; callers must not change it)."""
    paths = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "DocG API", "version": API_VERSION,
                 "description": "Document workflows: render, save, deliver, approve, sign. Errors are "
                                "`{\"error\": {code, message_human, message_tech}}`; live events are schema v1. "
                                "Human texts are in English or Brazilian Portuguese (`Accept-Language`, else the "
                                "organization's `locale`); codes are language-neutral."},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "webhooks": {"outgoingWebhook": {"post": {
            "summary": "What an outgoing-webhook node POSTs to its URL",
            "description": "The node's `payload` config when set, else the run's data below. "
                           "`X-DocG-Signature: sha256=<hex HMAC-SHA256 of the body>` when the node has a `secret`.",
            "parameters": [
                {"name": "X-DocG-Signature", "in": "header", "required": False, "schema": {"type": "string"}},
                {"name": "X-DocG-Execution", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"},
                 "description": "The same for every retry of one delivery"}],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "properties": {"execution_id": {"type": "string"}, "workflow_id": {"type": "string"},
                                                 "trigger": {"type": "object"}, "steps": {"type": "object"}}}}}},
            "responses": {"2XX": {"description": "Delivered"}}}}},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`docg org create`)."},
                "organization": {"type": "apiKey", "in": "header", "name": "X-Organization-ID",
                                 "description": "The organization the token belongs to; sent with the bearer token."},
                "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN (/metrics, /ops)."},
                "streamToken": {"type": "apiKey", "in": "query", "name": "token",
                                "description": "A short-lived signed token for one execution (EventSource)."},
            },
        },
    }
