"""Workflows and their ordered nodes, scoped by organization."""
import secrets

from storage import node_secrets
from storage.db import database
from storage.errors import Conflict, NotFound
from storage.executions import nodes_of
from storage.models.base import find_owned
from storage.models import Workflow, WorkflowNode, utcnow


def get(workflow_id, organization_id):
    workflow = find_owned(Workflow, workflow_id, organization_id)
    if workflow is None or workflow.deleted_at is not None:
        raise NotFound("Workflow not found.", f"workflow {workflow_id}")
    return workflow


def list_for(organization_id, *, limit=100):
    return list(Workflow.select().where((Workflow.organization == organization_id) & Workflow.deleted_at.is_null())
                .order_by(Workflow.created_at.desc()).limit(limit))


def _replace_nodes(workflow, nodes):
    """Store `nodes` in order, secrets sealed; "[set]" keeps the secret of the node with that label (or position)."""
    old = nodes_of(workflow)
    by_label, by_position = {n.label: n.config for n in old}, {n.position: n.config for n in old}
    rows = []
    for i, n in enumerate(nodes):
        label = n.get("label") or f"{n['node_type']}-{i + 1}"
        previous = by_label.get(label, by_position.get(i))
        rows.append({"workflow": workflow.id, "position": i, "node_type": n["node_type"], "label": label,
                     "config": node_secrets.seal(n.get("config") or {}, workflow.organization_id, previous)})
    WorkflowNode.delete().where(WorkflowNode.workflow == workflow.id).execute()
    if rows:
        WorkflowNode.insert_many(rows).execute()


def create(organization_id, data):
    with database.atomic():
        workflow = Workflow.create(organization=organization_id, name=data["name"],
                                   description=data.get("description", ""),
                                   webhook_secret=secrets.token_urlsafe(32))
        _replace_nodes(workflow, data.get("nodes", []))
    return workflow


def update(workflow, data):
    with database.atomic():
        for field in ("name", "description"):
            if field in data:
                setattr(workflow, field, data[field])
        workflow.updated_at = utcnow()
        workflow.save()
        if "nodes" in data:
            _replace_nodes(workflow, data["nodes"])
    return workflow


def delete(workflow):
    Workflow.update(deleted_at=utcnow()).where(Workflow.id == workflow.id).execute()


def activate(workflow):
    if not nodes_of(workflow):
        raise Conflict("A workflow needs at least one step before it can be activated.", "no nodes")
    Workflow.update(status="active", updated_at=utcnow()).where(Workflow.id == workflow.id).execute()
    workflow.status = "active"
    return workflow


def serialize(workflow, *, with_secret=False):
    data = {
        "id": str(workflow.id), "name": workflow.name, "description": workflow.description,
        "status": workflow.status, "created_at": workflow.created_at.isoformat(),
        "updated_at": workflow.updated_at.isoformat(),
        "nodes": [{"id": str(n.id), "position": n.position, "node_type": n.node_type, "label": n.label,
                   "config": node_secrets.mask(n.config)} for n in nodes_of(workflow)],
    }
    if with_secret:
        data["webhook_secret"] = workflow.webhook_secret
    return data
