"""JSON Schemas of request bodies; a failure is a 422 naming the field."""
from integrations.base import PHASES

NODE = {
    "type": "object",
    "required": ["node_type"],
    "properties": {
        "id": {"type": "string", "format": "uuid",
               "description": "On PUT, an existing node's id keeps its identity; ignored on create."},
        "position": {"type": "integer", "minimum": 0, "description": "Accepted if it agrees with the order."},
        "node_type": {"type": "string", "minLength": 1, "maxLength": 64},
        "label": {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"^[^{}.]+$"},
        "config": {"type": "object"},
    },
    "additionalProperties": False,
}

WORKFLOW_CREATE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 5000},
        "nodes": {"type": "array", "items": NODE, "maxItems": 100},
    },
    "additionalProperties": False,
}

#: What GET /workflows/{id} returns can be PUT back unchanged: its read-only fields are accepted and ignored.
READ_ONLY = {"id": {"type": "string"}, "status": {"type": "string"}, "created_at": {"type": "string"},
             "updated_at": {"type": "string"}, "webhook_secret": {"type": ["string", "null"]}}
WORKFLOW_UPDATE = {**WORKFLOW_CREATE, "required": [],
                   "properties": {**WORKFLOW_CREATE["properties"],
                                  **{k: {**v, "readOnly": True} for k, v in READ_ONLY.items()}}}

EXECUTION_CREATE = {
    "type": "object",
    "properties": {
        "trigger_data": {"type": "object"},
        "dry_run": {"type": "boolean"},
        "until_phase": {"enum": ["preflight", *PHASES]},
    },
    "additionalProperties": False,
}

TEMPLATE_JSON = {
    "type": "object",
    "required": ["name", "content"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "content_type": {"type": "string", "maxLength": 200},
        "content": {"type": "string", "contentEncoding": "base64"},
    },
    "additionalProperties": False,
}
