"""Workflows: CRUD, activation, starting runs and listing them."""
import falcon

from actors import pipeline
from integrations import references
from integrations.base import load_apps
from storage import executions, workflows
from web import schemas
from web.errors import Unprocessable
from web.validation import idempotency_key, read_json


def check_identity(nodes, known_ids):
    """Refuse positions that disagree with the order, and ids not of this workflow.

    `known_ids` is the workflow's node ids (PUT), or None on create, where ids
    are ignored: a workflow read with GET can be posted as a copy.
    """
    problems = [{"field": f"nodes/{i}/position", "problem": f"position {n['position']} at index {i}"}
                for i, n in enumerate(nodes) if "position" in n and n["position"] != i]
    if known_ids is not None:
        ids = [str(n["id"]).lower() for n in nodes if n.get("id")]
        problems += [{"field": f"nodes/{i}/id", "problem": f"{n['id']} is not a node of this workflow"}
                     for i, n in enumerate(nodes) if n.get("id") and str(n["id"]).lower() not in known_ids]
        problems += [{"field": "nodes", "problem": f"node id {i} appears twice"}
                     for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise Unprocessable(f"Invalid field {problems[0]['field']}: {problems[0]['problem']}",
                            "; ".join(f"{p['field']}: {p['problem']}" for p in problems), details=problems)


def check_nodes(nodes, organization_id, known_ids=None):
    """Refuse unknown node types, duplicate labels (outputs are keyed by label) and dangling ids."""
    check_identity(nodes, known_ids)
    registry = load_apps()
    unknown = sorted({n["node_type"] for n in nodes if registry.action(n["node_type"]) is None})
    if unknown:
        valid = ", ".join(sorted(registry.actions))
        raise Unprocessable(f"Unknown step type: {', '.join(unknown)}. Valid node_type values: {valid} "
                            "(GET /api/v1/apps describes each).", f"unknown node_type {unknown}",
                            details=[{"field": "nodes", "problem": f"unknown node_type {t}"} for t in unknown])
    labels = [n.get("label") for n in nodes if n.get("label")]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise Unprocessable(f"Step names must be unique: {', '.join(duplicates)}.", f"duplicate labels {duplicates}")
    dangling = references.problems(nodes, organization_id, registry)
    if dangling:
        first = dangling[0]
        hint = f" ({first['hint']})" if first["hint"] else ""
        raise Unprocessable(f"Step “{first['node']}”: {first['field']} {first['problem']}{hint}.",
                            "; ".join(f"{d['node']}.{d['field']}: {d['problem']}" for d in dangling),
                            details=dangling)


class Workflows:
    def on_get(self, req, resp):
        resp.media = {"workflows": [workflows.serialize(w) for w in workflows.list_for(req.context.organization_id)]}

    def on_post(self, req, resp):
        data = read_json(req, schemas.WORKFLOW_CREATE)
        check_nodes(data.get("nodes", []), req.context.organization_id)
        workflow = workflows.create(req.context.organization_id, data, req.context.actor)
        resp.status = falcon.HTTP_201
        resp.media = workflows.serialize(workflow, with_secret=True)


class Workflow:
    def on_get(self, req, resp, workflow_id):
        resp.media = workflows.serialize(workflows.get(workflow_id, req.context.organization_id), with_secret=True)

    def on_put(self, req, resp, workflow_id):
        workflow = workflows.get(workflow_id, req.context.organization_id)
        data = read_json(req, schemas.WORKFLOW_UPDATE)
        check_nodes(data.get("nodes", []), req.context.organization_id, workflows.node_ids(workflow))
        resp.media = workflows.serialize(workflows.update(workflow, data, req.context.actor), with_secret=True)

    def on_delete(self, req, resp, workflow_id):
        workflows.delete(workflows.get(workflow_id, req.context.organization_id), req.context.actor)
        resp.status = falcon.HTTP_204


class WorkflowActivation:
    def on_post(self, req, resp, workflow_id):
        workflow = workflows.activate(workflows.get(workflow_id, req.context.organization_id), req.context.actor)
        resp.media = workflows.serialize(workflow)


class WorkflowExecutions:
    """POST starts a run: it is queued and its first hop enqueued; nothing else.

    With an `Idempotency-Key` header a retried POST returns the run the key
    started (200, `Idempotent-Replayed: true`) instead of starting another.
    """

    def on_post(self, req, resp, workflow_id):
        workflow = workflows.get(workflow_id, req.context.organization_id)
        data = read_json(req, schemas.EXECUTION_CREATE, required=False)
        options = {"trigger_data": data.get("trigger_data", {}), "dry_run": data.get("dry_run", False),
                   "until_phase": data.get("until_phase"), "actor": req.context.actor}
        execution, created = pipeline.start_once(workflow, idempotency_key(req), source="api", **options)
        resp.status = falcon.HTTP_202 if created else falcon.HTTP_200
        if not created:
            resp.set_header("Idempotent-Replayed", "true")
        resp.media = {"execution_id": str(execution.id), "status": execution.status,
                      "links": {"self": f"/api/v1/executions/{execution.id}",
                                "stream": f"/api/v1/sse/executions/{execution.id}/stream"}}


class WorkflowRuns:
    def on_get(self, req, resp, workflow_id):
        workflow = workflows.get(workflow_id, req.context.organization_id)
        limit = req.get_param_as_int("limit", min_value=1, max_value=100, default=50)
        runs = executions.runs_of_workflow(workflow.id, req.context.organization_id, limit=limit)
        resp.media = {"runs": [executions.run_state(run) for run in runs]}
