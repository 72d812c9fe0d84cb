"""Check, when a workflow is saved, the DocG rows its nodes name by id.

A node's config may name a template (`template_id` of `local-docx`) or a
connection (`connection_id` of any node). Each must be a well-formed id of a
row this organization owns and has not deleted; a value holding a variable
(`{{trigger.x}}`) is resolved at run time and checked by preflight instead.
A value that is the *name* of such a row gets a hint with its id.
"""
import uuid

from integrations.variables import find as variables_in
from storage.models import Connection, Template

MODELS = {"template": Template, "connection": Connection}


def _owned(model, organization_id):
    return (model.organization == organization_id) & model.deleted_at.is_null()


def _problem(kind, organization_id, value):
    """Return (problem, hint) for `value` naming a row of `kind`, or None when it does."""
    model = MODELS[kind]
    if not isinstance(value, str) or not value.strip():
        return f"must be the id of a {kind}", None
    try:
        row_id = uuid.UUID(value)
    except ValueError:
        row_id = None
    if row_id is not None and model.select(model.id).where((model.id == row_id)
                                                          & _owned(model, organization_id)).exists():
        return None
    named = (model.select(model.id).where((model.name == value.strip()) & _owned(model, organization_id))
             .order_by(model.created_at.desc()).first())
    hint = f"did you mean {kind} {named.id}?" if named else None
    if row_id is None:
        return f"{value[:80]!r} is not a {kind} id", hint
    return f"no {kind} {row_id} in this organization", hint


def problems(nodes, organization_id, registry):
    """Return one detail dict per node field that names no row of the organization."""
    found = []
    for position, node in enumerate(nodes):
        action = registry.action(node["node_type"])
        config = node.get("config") or {}
        label = node.get("label") or f"{node['node_type']}-{position + 1}"
        for field, kind in getattr(action, "references", {}).items():
            if field not in config or config[field] in (None, "") or any(variables_in(config[field])):
                continue
            problem = _problem(kind, organization_id, config[field])
            if problem is not None:
                message, hint = problem
                found.append({"node": label, "field": f"config.{field}", "problem": message, "hint": hint})
    return found
