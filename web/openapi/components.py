"""Response bodies of the API as JSON Schemas (OpenAPI 3.1 components).

Request bodies are not repeated here: they are the validation schemas the
resources already enforce (web/schemas.py and each resource's constants),
so the document cannot drift from what the API accepts.
NOTE: objects leave `additionalProperties` open on purpose: a response may
grow fields (additions are allowed by the versioning rule), never lose one.
"""
from storage.events import EVENT_TYPES
from storage.logs import DOMAINS, LEVELS
from storage.runstate import TRANSITIONS

STATUSES = list(TRANSITIONS)
UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
NULL_UUID = {"type": ["string", "null"], "format": "uuid"}
NULL_STRING = {"type": ["string", "null"]}
ANY_OBJECT = {"type": "object"}
NULL_OBJECT = {"type": ["object", "null"]}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=None):
    """An object whose listed properties are all required unless `required` says otherwise."""
    return {"type": "object", "properties": properties,
            "required": sorted(properties) if required is None else required}


def page_of(key, item):
    return obj({key: {"type": "array", "items": ref(item)}, "has_more": {"type": "boolean"},
                "next_cursor": NULL_STRING})


CURRENT_STEP = {"type": ["object", "null"], "properties": {
    "index": {"type": "integer"}, "label": {"type": "string"}, "node_id": {"type": "string"},
    "node_type": {"type": "string"}}}

ISSUE = obj({"code": {"type": "string"}, "domain": {"type": "string"}, "message_human": {"type": "string"},
             "message_tech": {"type": "string"}, "node_id": NULL_STRING,
             "severity": {"enum": ["blocking", "warning"]}})

ACTION = obj({"action": {"type": "string"}, "label": {"type": "string"}, "description": {"type": "string"},
              "target_node_id": NULL_STRING, "params": ANY_OBJECT})

SCHEMAS = {
    "Error": obj({"error": obj({
        "code": {"type": "string", "description": "Stable, language-neutral error code."},
        "message_human": {"type": "string"}, "message_tech": {"type": "string"},
        "details": {"description": "Per-field problems (422) or what was recorded (410)."}},
        required=["code", "message_human", "message_tech"])}),
    "Issue": ISSUE,
    "RecommendedAction": ACTION,
    "CurrentStep": CURRENT_STEP,
    "Node": obj({"id": UUID, "position": {"type": "integer"}, "node_type": {"type": "string"},
                 "label": {"type": "string"}, "config": ANY_OBJECT}),
    "Workflow": obj({"id": UUID, "name": {"type": "string"}, "description": {"type": "string"},
                     "status": {"enum": ["draft", "active"]}, "created_at": TIME, "updated_at": TIME,
                     "nodes": {"type": "array", "items": ref("Node")},
                     "webhook_secret": {"type": ["string", "null"],
                                        "description": "Only on create and GET of one workflow."}},
                    required=["id", "name", "description", "status", "created_at", "updated_at", "nodes"]),
    "WorkflowList": obj({"workflows": {"type": "array", "items": ref("Workflow")}}),
    "RunState": obj({
        "id": UUID, "workflow_id": UUID, "workflow_name": {"type": "string"}, "organization_id": UUID,
        "status": {"enum": list(STATUSES)}, "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "current_step": CURRENT_STEP, "current_node_id": NULL_UUID, "preflight_summary": NULL_OBJECT,
        "delivery_state": {"type": ["string", "null"], "description": "pending, sending, sent, failed"},
        "signature_state": {"type": ["string", "null"], "description": "pending, signing, signed, declined, expired"},
        "last_error_human": NULL_STRING,
        "last_error_tech": NULL_STRING, "recommended_actions": {"type": "array", "items": ref("RecommendedAction")},
        "phase_metrics": ANY_OBJECT, "correlation_id": UUID, "trigger_type": NULL_STRING,
        "dry_run": {"type": "boolean"}, "until_phase": NULL_STRING, "retry_of": NULL_UUID,
        "started_at": NULL_TIME, "completed_at": NULL_TIME, "created_at": NULL_TIME, "updated_at": NULL_TIME}),
    "RunList": obj({"runs": {"type": "array", "items": ref("RunState")}}),
    "Accepted": obj({"execution_id": UUID, "status": {"enum": list(STATUSES)},
                     "links": obj({"self": {"type": "string"}, "stream": {"type": "string"}}, required=["self"])}),
    "Step": obj({
        "id": UUID, "execution_id": UUID, "node_id": UUID, "position": {"type": "integer"},
        "step_index": {"type": "integer"}, "node_type": {"type": "string"}, "label": {"type": "string"},
        "phase": NULL_STRING, "status": {"enum": ["pending", "running", "success", "failure", "skipped"]},
        "attempt": {"type": "integer"}, "data_in": {}, "data_out": {}, "error_code": NULL_STRING,
        "error_human": NULL_STRING, "error_tech": NULL_STRING, "started_at": NULL_TIME, "completed_at": NULL_TIME,
        "duration_ms": {"type": ["integer", "null"]}}),
    "StepList": obj({"steps": {"type": "array", "items": ref("Step")}}),
    "Log": obj({"id": {"type": "integer"}, "execution_id": UUID, "level": {"enum": list(LEVELS)},
                "domain": {"enum": list(DOMAINS)}, "message_human": {"type": "string"},
                "message_key": {"type": ["string", "null"],
                                "description": "Language-neutral key of the text (null on rows written before "
                                               "keys existed, served as stored)."},
                "message_params": {"type": ["object", "null"],
                                   "description": "The parts of the text: step labels, an error's text and "
                                                  "`error_code`..."},
                "message_tech": NULL_STRING, "details_tech": NULL_STRING, "step_id": NULL_UUID,
                "correlation_id": NULL_UUID, "timestamp": TIME}),
    "LogPage": page_of("logs", "Log"),
    "AuditEvent": obj({"id": {"type": "integer"}, "organization_id": UUID, "timestamp": TIME,
                       "action": {"type": "string"}, "actor_type": {"enum": ["user", "system", "webhook"]},
                       "actor_id": NULL_STRING, "target_type": {"type": "string"}, "target_id": NULL_STRING,
                       "execution_id": NULL_UUID, "metadata": ANY_OBJECT, "correlation_id": NULL_UUID,
                       "created_at": TIME, "hash": {"type": "string"}}),
    "AuditPage": page_of("events", "AuditEvent"),
    "Preflight": obj({
        "can_execute": {"type": ["boolean", "null"], "description": "null before the run's preflight ran"},
        "blocking": {"type": "array", "items": ref("Issue")},
        "warnings": {"type": "array", "items": ref("Issue")},
        "recommended_actions": {"type": "array", "items": ref("RecommendedAction")},
        "groups": {"type": "object", "additionalProperties": {"type": "array", "items": ref("Issue")}}},
        required=["can_execute", "blocking", "warnings", "recommended_actions", "groups"]),
    "Document": obj({"id": UUID, "node_id": UUID, "name": {"type": "string"}, "content_type": {"type": "string"},
                     "size": {"type": "integer"}, "sha256": NULL_STRING, "is_preview": {"type": "boolean"},
                     "storage": NULL_STRING, "path": NULL_STRING, "url": NULL_STRING, "created_at": TIME,
                     "download_url": {"type": "string"}}),
    "DocumentList": obj({"documents": {"type": "array", "items": ref("Document")}}),
    "Template": obj({"id": UUID, "name": {"type": "string"}, "content_type": {"type": "string"},
                     "size": {"type": "integer"}, "sha256": {"type": "string"}, "version": {"type": "integer"},
                     "created_at": TIME, "updated_at": TIME}),
    "TemplateImage": obj({"name": {"type": "string"}, "content_type": {"type": "string"}, "size": {"type": "integer"},
                          "sha256": {"type": "string"}, "created_at": TIME, "updated_at": TIME}),
    "TemplateList": obj({"templates": {"type": "array", "items": ref("Template")}}),
    "Connection": obj({"id": UUID, "provider": {"type": "string"}, "name": {"type": "string"},
                       "auth_type": {"type": "string"}, "status": {"type": "string"}, "key_id": {"type": "string"},
                       "token_expires_at": NULL_TIME, "created_at": TIME, "updated_at": TIME,
                       "webhook_path": {"type": "string"}, "webhook_secret_set": {"type": "boolean"}},
                      required=["id", "provider", "name", "auth_type", "status", "created_at", "updated_at"]),
    "ConnectionList": obj({"connections": {"type": "array", "items": ref("Connection")}}),
    "Event": obj({
        "schema_version": {"const": 1}, "event_id": UUID, "event_type": {"enum": sorted(EVENT_TYPES)},
        "timestamp": TIME, "execution_id": UUID, "workflow_id": UUID, "organization_id": UUID,
        "correlation_id": NULL_UUID, "status": {"enum": list(STATUSES)}, "progress": {"type": "integer"},
        "current_step": CURRENT_STEP, "data": ANY_OBJECT}),
    "Health": obj({"status": {"enum": ["ok", "degraded"]}, "db": {"type": "string"}, "redis": {"type": "string"},
                   "broker": {"type": "string"}}),
    "SseHealth": obj({"status": {"enum": ["healthy", "unhealthy"]}, "redis": {"enum": ["connected", "disconnected"]},
                      "mode": {"const": "streams"}}),
}
