"""Factories that create rows through the real API, and a way to replay a finished step."""
import base64

from cli import sample
from tests.support import wait_until

TERMINAL = ("completed", "failed", "canceled")


def template(client, org, content=None, name="contract.docx"):
    body = {"name": name, "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "content": base64.b64encode(content or sample.contract_template()).decode()}
    resp = client.simulate_post("/api/v1/templates", json=body, headers=org.headers)
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def workflow(client, org, nodes, name="wf"):
    resp = client.simulate_post("/api/v1/workflows", json={"name": name, "nodes": nodes}, headers=org.headers)
    assert resp.status_code == 201, resp.text
    return resp.json


def start(client, org, workflow_id, trigger_data=None, **options):
    resp = client.simulate_post(f"/api/v1/workflows/{workflow_id}/executions",
                                json={"trigger_data": trigger_data or {}, **options}, headers=org.headers)
    assert resp.status_code == 202, resp.text
    return resp.json["execution_id"]


def run_state(client, org, execution_id):
    resp = client.simulate_get(f"/api/v1/executions/{execution_id}", headers=org.headers)
    assert resp.status_code == 200, resp.text
    return resp.json


def wait_for_status(client, org, execution_id, statuses=TERMINAL, timeout=60):
    statuses = (statuses,) if isinstance(statuses, str) else statuses
    return wait_until(lambda: (s := run_state(client, org, execution_id))["status"] in statuses and s,
                      timeout, interval=0.1, message=f"execution {execution_id} in {statuses}")


def steps(client, org, execution_id):
    resp = client.simulate_get(f"/api/v1/executions/{execution_id}/steps", headers=org.headers)
    assert resp.status_code == 200, resp.text
    return resp.json["steps"]


def approval_token(message):
    """The single-use token in an approval email's link."""
    return message["X-DocG-Approval-Link"].rsplit("/", 1)[-1]


def stream_types(redis, execution_id):
    from storage import events

    return [f[b"type"].decode() for _, f in redis.xrange(events.stream_key(execution_id))]


def render_node(template_id, label="contract"):
    return {"node_type": "local-docx", "label": label, "config": {"template_id": template_id,
                                                                   "output_name": "Contract {{trigger.client_name}}"}}


def redeliver(services, org, execution_id, step):
    """Run a finished step's action again in-process, as a redelivered hop would; return its output."""
    from integrations.base import NodeContext, load_apps
    from storage.models import Execution

    execution = Execution.get_by_id(execution_id)
    ctx = NodeContext(execution_id=execution_id, organization_id=org.id, workflow_id=str(execution.workflow_id),
                      correlation_id=str(execution.correlation_id), node_id=step["node_id"],
                      node_type=step["node_type"], label=step["label"], position=step["position"],
                      config=step["data_in"], run=execution.execution_context, settings=services.settings,
                      services=services)
    return load_apps().action(step["node_type"]).run(ctx).output


def outbox_events(execution_id):
    """[(stream id, type)] of a run's events in the PostgreSQL outbox, in order."""
    from storage import outbox
    from storage.db import connection

    with connection():
        return [(f"{seq}-0", event_type) for seq, event_type, _ in outbox.history(execution_id, 0, 100_000)]


def redis_events(redis, execution_id):
    """[(stream id, type)] of a run's Redis stream."""
    from storage import events

    return [(i.decode(), f[b"type"].decode()) for i, f in redis.xrange(events.stream_key(execution_id))]
