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


def node_ids(workflow):
    return {str(n.id) for n in WorkflowNode.select(WorkflowNode.id).where(WorkflowNode.workflow == workflow.id)}


def _replace_nodes(workflow, nodes, *, keep_ids=False):
    """Store `nodes` in order, secrets sealed; with `keep_ids`, a node sent with its `id` keeps it.

    "[set]" keeps the secret of the same node (by id, else label, else position).
    NOTE: the rows are deleted and inserted again (positions are unique per
    workflow); nothing references a node row, runs snapshot nodes by id.
    The caller checked that every kept id is one of this workflow's nodes.
    """
    old = nodes_of(workflow)
    by_id = {str(n.id).lower(): n.config for n in old}
    by_label, by_position = {n.label: n.config for n in old}, {n.position: n.config for n in old}
    rows = []
    for i, n in enumerate(nodes):
        label = n.get("label") or f"{n['node_type']}-{i + 1}"
        kept = str(n["id"]).lower() if keep_ids and n.get("id") else None
        previous = by_id[kept] if kept in by_id else by_label.get(label, by_position.get(i))
        row = {"workflow": workflow.id, "position": i, "node_type": n["node_type"], "label": label,
               "config": node_secrets.seal(n.get("config") or {}, workflow.organization_id, previous)}
        if kept:
            row["id"] = n["id"]
        rows.append(row)
    WorkflowNode.delete().where(WorkflowNode.workflow == workflow.id).execute()
    if rows:
        WorkflowNode.insert_many(rows).execute()


def _audit(workflow, action, actor, metadata=None):
    from storage import audit

    audit.record(workflow.organization_id, action, actor_type=actor[0], actor_id=actor[1], target_type="workflow",
                 target_id=workflow.id, metadata=metadata or {})


def create(organization_id, data, actor=("user", None)):
    with database.atomic():
        workflow = Workflow.create(organization=organization_id, name=data["name"],
                                   description=data.get("description", ""),
                                   webhook_secret=secrets.token_urlsafe(32))
        _replace_nodes(workflow, data.get("nodes", []))
        _audit(workflow, "workflow.created", actor, {"name": workflow.name, "nodes": len(data.get("nodes", []))})
    return workflow


def update(workflow, data, actor=("user", None)):
    with database.atomic():
        for field in ("name", "description"):
            if field in data:
                setattr(workflow, field, data[field])
        workflow.updated_at = utcnow()
        workflow.save()
        if "nodes" in data:
            _replace_nodes(workflow, data["nodes"], keep_ids=True)
        _audit(workflow, "workflow.updated", actor, {"fields": sorted(data)})
    return workflow


def delete(workflow, actor=("user", None)):
    with database.atomic():
        Workflow.update(deleted_at=utcnow()).where(Workflow.id == workflow.id).execute()
        _audit(workflow, "workflow.deleted", actor)


def activate(workflow, actor=("user", None)):
    if not nodes_of(workflow):
        raise Conflict("A workflow needs at least one step before it can be activated.", "no nodes")
    with database.atomic():
        Workflow.update(status="active", updated_at=utcnow()).where(Workflow.id == workflow.id).execute()
        _audit(workflow, "workflow.activated", actor)
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
