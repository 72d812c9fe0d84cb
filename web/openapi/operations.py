"""Every operation the app serves, described once: method, path, auth, bodies, answers.

Request bodies are the resources' own validation schemas; response bodies
are components. `document()` in web/openapi/__init__.py turns this table
into OpenAPI 3.1, and tests/web/test_openapi.py compares it with the Falcon
router both ways.
"""
import dataclasses

from storage import starts
from storage.events import EVENT_TYPES
from web import schemas
from web.openapi import examples
from web.resources import approvals, connections, control, history, sandbox, streams, template_images
from web.resources import organization as organization_resource

API = "/api/v1"
ID = {"type": "string", "format": "uuid"}
ORGANIZATION = {"type": "object", "required": ["id", "name", "locale"],
                "properties": {"id": ID, "name": {"type": "string"}, "locale": {"enum": ["en", "pt-BR"]},
                               "created_at": {"type": "string", "format": "date-time"}}}


@dataclasses.dataclass
class Op:
    method: str
    path: str
    summary: str
    tag: str
    ok: dict
    auth: str = "org"  # org | stream | public | admin
    body: dict | None = None
    body_required: bool = False
    raw_body: bool = False
    raw_types: tuple = ("application/octet-stream",)
    query: tuple = ()
    headers: tuple = ()
    errors: tuple = ()
    body_example: dict | None = None
    links: dict | None = None
    description: str = ""


def json(schema, description, example=None, headers=None):
    """A JSON answer: `schema` is a component name or an inline schema."""
    content = {"schema": {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema}
    if example is not None:
        content["example"] = example
    answer = {"description": description, "content": {"application/json": content}}
    if headers:
        answer["headers"] = headers
    return answer


def empty(description):
    return {"description": description}


def html(description):
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def binary(description):
    return {"description": description, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}


def event_stream(description):
    return {"description": description, "content": {"text/event-stream": {
        "schema": {"type": "string", "description": "Server-sent events: `id:` is the Redis stream id, `event:` "
                                                    "the event type, `data:` an Event (schema v1) as JSON. "
                                                    "Event types: " + ", ".join(sorted(EVENT_TYPES)) + "."},
        "x-event-schema": {"$ref": "#/components/schemas/Event"},
        "example": examples.SSE}}}


def query(name, schema, description, required=False):
    return {"name": name, "in": "query", "schema": schema, "description": description, "required": required}


def header(name, schema, description):
    return {"name": name, "in": "header", "schema": schema, "description": description, "required": False}


LIMIT = query("limit", {"type": "integer", "minimum": 1, "default": 50},
              "Rows per page; values above 100 are capped at 100.")
CURSOR = query("cursor", {"type": "string"}, "The `next_cursor` of the previous page.")
LAST_EVENT = (header("Last-Event-ID", {"type": "string", "pattern": r"^\d+-\d+$"}, "Replay after this stream id."),)
LAST_EVENT_Q = query("last_event_id", {"type": "string", "pattern": r"^\d+-\d+$"},
                     "Replay after this stream id (for clients that cannot send headers).")
IDEMPOTENCY = header("Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": starts.MAX_KEY_LENGTH},
                     "A retried request with the same key returns the first answer (409 if the body differs).")
STRING = {"type": "string"}
WF = "/workflows/{workflow_id}"
EX = "/executions/{execution_id}"


def links(parameter, pointer, *operation_ids):
    """Links from an answer to the operations that take its id (schemathesis follows them)."""
    return {op_id[0].upper() + op_id[1:]: {"operationId": op_id, "parameters": {parameter: pointer}}
            for op_id in operation_ids}


WORKFLOW_LINKS = links("workflow_id", "$response.body#/id", "getWorkflow", "startExecution",
                       "postWorkflowsWorkflowIdPreflight", "getWorkflowsWorkflowIdRuns",
                       "postWorkflowsWorkflowIdActivate", "putWorkflowsWorkflowId", "deleteWorkflowsWorkflowId")
EXECUTION_LINKS = links("execution_id", "$response.body#/execution_id", "getExecution", "getExecutionSteps",
                        "getExecutionsExecutionIdLogs", "getExecutionsExecutionIdAudit",
                        "getExecutionsExecutionIdPreflight", "getExecutionsExecutionIdDocuments",
                        "getExecutionsExecutionIdRetryPreview", "postExecutionsExecutionIdStreamToken",
                        "postExecutionsExecutionIdCancel", "postExecutionsExecutionIdRetry")
TEMPLATE_LINKS = links("template_id", "$response.body#/id", "getTemplatesTemplateId", "putTemplatesTemplateId",
                       "deleteTemplatesTemplateId")
SIGNED = (header("X-DocG-Signature", STRING, "`t=<unix>,v1=<hex HMAC-SHA256 of \"t.body\">` with the workflow's "
                                             "webhook secret; too old is 401, a replayed signature 409."),)
PROVIDER_SIGNED = (header("X-Signature", STRING, "The provider's HMAC of the raw body (ClickSign: "
                                                 "`Content-Hmac`, ZapSign: its secret header)."),)

OPERATIONS = [
    # --- contract and health ---
    Op("GET", "/health", "Liveness of the web process and of PostgreSQL, Redis and the broker", "ops",
       {"200": json("Health", "Everything answers."), "503": json("Health", "A dependency does not answer.")},
       auth="public"),
    Op("GET", "/metrics", "Prometheus metrics", "ops",
       {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": STRING}}}},
       auth="admin"),
    Op("GET", f"{API}/openapi.json", "This document", "contract",
       {"200": json({"type": "object"}, "OpenAPI 3.1")}, auth="public"),
    Op("GET", "/api/docs", "Human-readable API reference (Swagger UI, served locally)", "contract",
       {"200": html("The reference page")}, auth="public"),
    Op("GET", f"{API}/sse/health", "Whether live events can be served", "events",
       {"200": json("SseHealth", "Redis answers.", examples.SSE_HEALTH),
        "503": json("SseHealth", "Redis does not answer.", examples.SSE_UNHEALTHY)}, auth="public"),
    # --- workflows ---
    Op("GET", f"{API}/workflows", "List workflows", "workflows", {"200": json("WorkflowList", "The workflows")}),
    Op("POST", f"{API}/workflows", "Create a workflow", "workflows",
       {"201": json("Workflow", "Created; `webhook_secret` signs trigger webhooks.")},
       body=schemas.WORKFLOW_CREATE, body_required=True, links=WORKFLOW_LINKS, body_example=examples.WORKFLOW),
    Op("GET", API + WF, "Read a workflow (can be sent back unchanged with PUT)", "workflows",
       {"200": json("Workflow", "The workflow with its nodes")}),
    Op("PUT", API + WF, "Update a workflow; node `id`s keep a node's identity", "workflows",
       {"200": json("Workflow", "The updated workflow")}, body=schemas.WORKFLOW_UPDATE, body_required=True),
    Op("DELETE", API + WF, "Delete a workflow", "workflows", {"204": empty("Deleted")}),
    Op("POST", f"{API}{WF}/activate", "Activate a workflow (trigger webhooks start runs)", "workflows",
       {"200": json("Workflow", "Active")}, errors=("409",)),
    Op("POST", f"{API}{WF}/executions", "Start a run (queued at once, nothing runs in the request)", "executions",
       {"202": json("Accepted", "Queued"), "200": json("Accepted", "Replayed: this Idempotency-Key started it",
                                                         headers={"Idempotent-Replayed": {"schema": STRING}})},
       body=schemas.EXECUTION_CREATE, headers=(IDEMPOTENCY,), links=EXECUTION_LINKS, errors=("409",),
       body_example={"trigger_data": {"deal_id": "123", "client_name": "Acme"}}),
    Op("GET", f"{API}{WF}/runs", "A workflow's latest runs", "executions", {"200": json("RunList", "Newest first")},
       query=(LIMIT,)),
    Op("POST", f"{API}{WF}/preflight", "Check a workflow against trigger data without running it", "preflight",
       {"200": json("Preflight", "What would block or warn", examples.PREFLIGHT)}, body=control.PREFLIGHT,
       body_example={"trigger_data": {"deal_id": "123"}}),
    # --- executions ---
    Op("GET", API + EX, "The full run state (seed F12)", "executions", {"200": json("RunState", "The run")},
       auth="stream"),
    Op("GET", f"{API}{EX}/steps", "The run's steps", "executions",
       {"200": json("StepList", "In order", examples.STEPS)}, auth="stream"),
    Op("GET", f"{API}{EX}/logs", "Structured logs", "history", {"200": json("LogPage", "A page", examples.LOGS)},
       auth="stream", query=(query("level", {"enum": ["ok", "warn", "error"]}, "Only this level"),
                             query("domain", {"enum": list(history.DOMAINS)}, "Only this domain"),
                             query("step_id", ID, "Only this step"), LIMIT, CURSOR)),
    Op("GET", f"{API}{EX}/audit", "The run's audit trail", "history",
       {"200": json("AuditPage", "A page", examples.AUDIT)}, query=(LIMIT, CURSOR)),
    Op("GET", f"{API}{EX}/preflight", "The run's preflight result", "preflight",
       {"200": json("Preflight", "As recorded (empty lists before preflight ran)", examples.PREFLIGHT)}),
    Op("POST", f"{API}{EX}/resume", "Resume a run in review with changes; preflight runs again", "control",
       {"200": json("RunState", "The run after the new preflight (`success`, `signal`: seed F10)")},
       body=control.RESUME, errors=("409",), body_example=examples.RESUME),
    Op("POST", f"{API}{EX}/cancel", "Cancel a run before its next node", "control",
       {"200": json("RunState", "Canceled")}, body=control.CANCEL, errors=("409",),
       body_example={"reason": "User requested cancellation"}),
    Op("POST", f"{API}{EX}/retry", "Retry as a new run, optionally from a step and with corrected data", "control",
       {"202": json("Accepted", "The new run, queued")}, body=control.RETRY, errors=("409",),
       body_example=examples.RETRY, links=EXECUTION_LINKS),
    Op("GET", f"{API}{EX}/retry-preview", "What a retry from a step would reuse and repeat", "control",
       {"200": json({"type": "object", "required": ["from_step", "reused", "repeated"]}, "The plan")},
       query=(query("from_step", STRING, "Label, node id or position"),), errors=("409",)),
    Op("POST", f"{API}{EX}/request-signature", "Send a completed run's document for signature", "control",
       {"202": json("Accepted", "A new run that waits for the signers")}, body=control.SIGN, body_required=True,
       errors=("409",)),
    Op("GET", f"{API}{EX}/documents", "The run's generated documents", "documents",
       {"200": json("DocumentList", "Documents (dry-run previews included)")}, auth="stream"),
    Op("GET", f"{API}{EX}/documents/{{document_id}}", "Download a document", "documents",
       {"200": binary("The file")}, auth="stream"),
    Op("POST", f"{API}{EX}/stream-token", "A short-lived token for EventSource and the run viewer", "events",
       {"201": json({"type": "object", "required": ["token", "expires_in", "stream_url", "viewer_url"]}, "Token")},
       body=streams.TOKEN_REQUEST),
    Op("GET", f"{API}/sse/executions/{{execution_id}}/stream", "A run's live events, with replay", "events",
       {"200": event_stream("Events until the run's terminal event"),
        "204": empty("The run ended and there is nothing left to send (EventSource stops)")},
       auth="stream", headers=LAST_EVENT, query=(LAST_EVENT_Q,),
       description="Replay after `Last-Event-ID`, then live; heartbeat comments and a `retry:` hint. "
                   "503 with `Retry-After` when the process serves its maximum of streams."),
    Op("GET", f"{API}/sse/organizations/stream", "Every event of the organization's runs (dashboard feed)", "events",
       {"200": event_stream("Events, live, never ending")}, headers=LAST_EVENT, query=(LAST_EVENT_Q,)),
    Op("GET", f"{API}/audit", "The organization's audit trail", "history",
       {"200": json("AuditPage", "A page, oldest first", examples.AUDIT)},
       query=(query("target_type", STRING, "e.g. execution, template, workflow, connection"),
              query("target_id", STRING, "Only this target"), query("action", STRING, "e.g. template.version_updated"),
              query("actor_type", {"enum": ["user", "system", "webhook"]}, "Only this actor type"),
              query("since", {"type": "string", "format": "date-time"}, "At or after this time"),
              query("until", {"type": "string", "format": "date-time"}, "Before this time"), LIMIT, CURSOR)),
    # --- templates and connections ---
    Op("GET", f"{API}/templates", "List templates", "templates", {"200": json("TemplateList", "Templates")}),
    Op("POST", f"{API}/templates", "Upload a template (raw body with `?name=`, or JSON with base64)", "templates",
       {"201": json("Template", "Stored")}, body=schemas.TEMPLATE_JSON, body_required=True, raw_body=True,
       links=TEMPLATE_LINKS,
       query=(query("name", {"type": "string", "minLength": 1}, "File name, for a raw upload"),)),
    Op("GET", f"{API}/templates/{{template_id}}", "Read a template's metadata", "templates",
       {"200": json("Template", "The template")}),
    Op("PUT", f"{API}/templates/{{template_id}}", "Replace a template's file (a new version)", "templates",
       {"200": json("Template", "The new version")}, body=schemas.TEMPLATE_JSON, body_required=True, raw_body=True),
    Op("DELETE", f"{API}/templates/{{template_id}}", "Delete a template", "templates", {"204": empty("Deleted")}),
    Op("GET", f"{API}/templates/{{template_id}}/images", "Images stored with a template", "templates",
       {"200": json({"type": "object", "required": ["images"], "properties": {
           "images": {"type": "array", "items": {"$ref": "#/components/schemas/TemplateImage"}}}},
           "The images, placed in the template with template_image(name)")}),
    Op("GET", f"{API}/templates/{{template_id}}/images/{{name}}", "Download a template image", "templates",
       {"200": binary("The image")}),
    Op("PUT", f"{API}/templates/{{template_id}}/images/{{name}}", "Store an image with a template (audited)",
       "templates", {"201": json("TemplateImage", "Stored"), "200": json("TemplateImage", "Replaced")},
       body=template_images.IMAGE_JSON, body_required=True, raw_body=True, raw_types=template_images.IMAGE_TYPES),
    Op("DELETE", f"{API}/templates/{{template_id}}/images/{{name}}", "Delete a template image", "templates",
       {"204": empty("Deleted")}),
    Op("GET", f"{API}/connections", "List connections (secrets never returned)", "connections",
       {"200": json("ConnectionList", "Connections")}),
    Op("POST", f"{API}/connections", "Connect a provider with an API key or token", "connections",
       {"201": json("Connection", "Stored, encrypted")}, body=connections.CREATE, body_required=True,
       errors=("404",)),
    Op("GET", f"{API}/connections/{{connection_id}}", "Read a connection", "connections",
       {"200": json("Connection", "The connection")}),
    Op("DELETE", f"{API}/connections/{{connection_id}}", "Delete a connection", "connections",
       {"204": empty("Deleted")}),
    Op("POST", f"{API}/connections/{{connection_id}}/test", "Check a connection against its provider", "connections",
       {"200": json({"type": "object", "required": ["ok", "detail"]}, "The provider answered")},
       errors=("502",)),
    Op("GET", f"{API}/connections/oauth/{{provider}}/start", "Start an OAuth sign-in", "connections",
       {"200": json({"type": "object", "required": ["authorize_url"]}, "Where to send the person"),
        "302": empty("With `?redirect=true`: redirect to the provider")},
       query=(query("redirect", {"type": "boolean"}, "Redirect instead of answering JSON"),)),
    Op("GET", f"{API}/connections/oauth/{{provider}}/callback", "OAuth sign-in callback", "connections",
       {"201": json("Connection", "Connected")}, auth="public",
       query=(query("code", STRING, "Authorization code"), query("state", STRING, "The signed state"),
              query("error", STRING, "Set when the person declined")), errors=("502",)),
    Op("GET", f"{API}/apps", "The catalogue of apps, actions and their fields", "apps",
       {"200": json({"type": "object", "required": ["apps"]}, "Apps")}),
    Op("GET", f"{API}/apps/{{app_key}}/dynamic/{{provider}}", "Options for a field, from the provider", "apps",
       {"200": json({"type": "object", "required": ["options"]}, "Options")},
       query=(query("connection_id", ID, "The connection to ask with", required=True),), errors=("502",)),
    # --- approvals (token links) ---
    Op("GET", f"{API}/approvals/{{token}}", "What an approval link asks to approve", "approvals",
       {"200": json({"type": "object", "required": ["approver", "strategy", "run", "documents"]}, "The request")},
       auth="public", errors=("410",)),
    Op("POST", f"{API}/approvals/{{token}}/decision", "Approve or reject", "approvals",
       {"200": json({"type": "object", "required": ["success", "execution_status", "decision", "approver"]},
                    "Recorded", examples.DECISION_ANSWER)},
       auth="public", body=approvals.DECISION, body_required=True, errors=("410",),
       body_example={"decision": "approved", "comment": "ok"}),
    Op("GET", f"{API}/approvals/{{token}}/documents/{{document_id}}", "Download a document under review",
       "approvals", {"200": binary("The file")}, auth="public", errors=("410",)),
    # --- webhooks ---
    Op("POST", f"{API}/webhooks/triggers/{{workflow_id}}", "Start a run from an outside system", "webhooks",
       {"202": json("Accepted", "Queued"), "200": json({"type": "object", "required": ["duplicate"]},
                                                       "This event id already started a run")},
       auth="public", body={"type": "object"}, headers=SIGNED + (IDEMPOTENCY,), errors=("401", "409")),
    Op("POST", f"{API}/webhooks/signature/{{provider}}", "Signature provider notifications", "webhooks",
       {"200": json({"type": "object", "required": ["accepted", "duplicates"]}, "Stored")}, auth="public",
       body={"type": "object"}, headers=PROVIDER_SIGNED, errors=("401",)),
    Op("POST", f"{API}/webhooks/signature/{{provider}}/{{connection_id}}",
       "Signature notifications verified with a connection's secret", "webhooks",
       {"200": json({"type": "object", "required": ["accepted", "duplicates"]}, "Stored")}, auth="public",
       body={"type": "object"}, headers=PROVIDER_SIGNED, errors=("401",)),
    Op("POST", f"{API}/webhooks/stripe", "Stripe events (Stripe-Signature scheme)", "webhooks",
       {"200": json({"type": "object", "required": ["accepted", "duplicates"]}, "Stored")}, auth="public",
       body={"type": "object"}, headers=(header("Stripe-Signature", STRING, "t=…,v1=…"),), errors=("401",)),
    Op("POST", f"{API}/webhooks/stripe/{{connection_id}}", "Stripe events for a customer's own account",
       "webhooks", {"200": json({"type": "object", "required": ["accepted", "duplicates"]}, "Stored")},
       auth="public", body={"type": "object"}, headers=(header("Stripe-Signature", STRING, "t=…,v1=…"),),
       errors=("401",)),
    # --- operators (behind ADMIN_TOKEN) ---
    Op("GET", "/ops/mail", "The emails the mail catcher of `docg up` kept", "ops",
       {"200": {"description": "HTML, or JSON with `Accept: application/json`", "content": {
           "text/html": {"schema": STRING},
           "application/json": {"schema": {"type": "object", "required": ["folder", "messages"]}}}}},
       auth="admin"),
    Op("GET", "/ops/mail/{name}", "Download one caught email (.eml)", "ops",
       {"200": {"description": "The message", "content": {"message/rfc822": {"schema": STRING}}}}, auth="admin"),
    # --- pages a person opens ---
    Op("GET", "/approvals/{token}", "The approval page", "pages", {"200": html("The page")}, auth="public"),
    Op("GET", "/runs/{execution_id}", "The run viewer (opened with a stream token)", "pages",
       {"200": html("The page")}, auth="public"),
    Op("GET", "/sandbox/sign/{envelope_id}/{token}", "The signature sandbox's signing page", "pages",
       {"200": html("The page")}, auth="public"),
    Op("POST", "/sandbox/sign/{envelope_id}/{token}", "Sign or decline in the signature sandbox", "pages",
       {"200": json({"type": "object", "required": ["envelope_id", "signer", "status"]}, "Recorded")},
       auth="public", body=sandbox.ACTION, body_required=True, errors=("410",)),
    # --- the caller's organization (people's locale) ---
    Op("GET", f"{API}/organization", "The caller's organization: name and locale", "organization",
       {"200": json(ORGANIZATION, "The organization")}),
    Op("PATCH", f"{API}/organization", "Change the organization's name or locale (en, pt-BR)", "organization",
       {"200": json(ORGANIZATION, "The organization, changed")}, body=organization_resource.UPDATE,
       body_required=True, body_example={"locale": "pt-BR"}),
    Op("GET", f"{API}/approvals/{{token}}/documents/{{document_id}}/pages/{{page}}",
       "Page `page` (1-10) of a PDF under review, as a PNG", "approvals",
       {"200": binary("The page as image/png")}, auth="public", errors=("410",)),
    Op("GET", f"{API}/sandbox/envelopes/{{envelope_id}}/signers/{{token}}",
       "What the sandbox signing page shows a signer (state, document, other signers)", "signatures",
       {"200": json({"type": "object", "required": ["state"]}, "The signer's view")}, auth="public",
       errors=("410",)),
    Op("POST", f"{API}/sandbox/envelopes/{{envelope_id}}/signers/{{token}}", "Sign or decline in the sandbox",
       "signatures", {"200": json({"type": "object"}, "Recorded")}, auth="public", body=sandbox.ACTION,
       body_required=True, errors=("409", "410")),
    Op("GET", f"{API}/sandbox/envelopes/{{envelope_id}}/signers/{{token}}/document",
       "The document a sandbox signer is asked to sign", "signatures", {"200": binary("The file")},
       auth="public", errors=("410",)),
    Op("GET", f"{API}/sandbox/envelopes/{{envelope_id}}/signers/{{token}}/document/pages/{{page}}",
       "Page `page` (1-10) of the document to sign, as a PNG", "signatures",
       {"200": binary("The page as image/png")}, auth="public", errors=("410",)),
    Op("GET", "/static/pages/{name}", "Script and styles of the approval and signing pages", "pages",
       {"200": binary("text/css or application/javascript")}, auth="public"),
]
