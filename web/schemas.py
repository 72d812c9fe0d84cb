"""JSON Schemas of request bodies; a failure is a 422 naming the field."""
from integrations.base import PHASES

NODE = {
    "type": "object",
    "required": ["node_type"],
    "properties": {
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

WORKFLOW_UPDATE = {**WORKFLOW_CREATE, "required": []}

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
