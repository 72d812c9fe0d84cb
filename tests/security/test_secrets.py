"""Secrets stay secret: write-only node secrets, quiet logs, no development keys in production."""
import hashlib
import hmac
import json
import os
import subprocess
import sys

import pytest

import settings as settings_module
from storage.models import ExecutionStep, WorkflowNode
from tests import factories
from tests.security.receivers import Receiver
from tests.support import ROOT

SECRET = "whsec-very-private-42"
PERSONAL = {"name": "Maria Segura", "cpf": "987.654.321-00", "email": "maria.segura@example.com"}


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def webhook_nodes(url, secret=SECRET):
    return [{"node_type": "webhook", "label": "deal"},
            {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": url, "secret": secret}}]


def test_a_node_secret_is_shown_as_set_and_stored_sealed(client, org, db, receiver):
    # Given a workflow saved with an outgoing-webhook secret
    created = client.simulate_post("/api/v1/workflows", json={"name": "w", "nodes": webhook_nodes(receiver.url)},
                                   headers=org.headers)
    assert created.status_code == 201
    wf_id = created.json["id"]
    # Then no answer of the API carries it: the create, the item and the list show "[set]"
    for resp in (created, client.simulate_get(f"/api/v1/workflows/{wf_id}", headers=org.headers),
                 client.simulate_get("/api/v1/workflows", headers=org.headers)):
        assert SECRET not in resp.text and '"[set]"' in resp.text
    # And the database holds it sealed, not in clear
    raw = db.execute_sql("SELECT config::text FROM workflow_nodes WHERE workflow_id = %s", (wf_id,)).fetchall()
    assert SECRET not in str(raw) and "sealed:v1." in str(raw)


def test_saving_set_back_keeps_the_secret_and_a_new_value_replaces_it(client, org, db, receiver):
    wf = factories.workflow(client, org, webhook_nodes(receiver.url))
    url = f"/api/v1/workflows/{wf['id']}"
    shown = client.simulate_get(url, headers=org.headers).json
    # When the client saves what it was shown (with "[set]") and renames the workflow
    nodes = [{k: n[k] for k in ("node_type", "label", "config")} for n in shown["nodes"]]
    assert client.simulate_put(url, json={"name": "renamed", "nodes": nodes}, headers=org.headers).status_code == 200
    # Then the stored secret is still the original one
    from storage import node_secrets

    node = WorkflowNode.get((WorkflowNode.workflow == wf["id"]) & (WorkflowNode.label == "notify"))
    assert node_secrets.reveal(node.config, org.id)["secret"] == SECRET
    # When a new value is saved, it replaces the old one
    nodes[1]["config"]["secret"] = "rotated"
    client.simulate_put(url, json={"nodes": nodes}, headers=org.headers)
    node = WorkflowNode.get((WorkflowNode.workflow == wf["id"]) & (WorkflowNode.label == "notify"))
    assert node_secrets.reveal(node.config, org.id)["secret"] == "rotated"
    # And "[set]" where nothing was stored is refused clearly
    nodes.append({"node_type": "outgoing-webhook", "label": "new", "config": {"url": receiver.url, "secret": "[set]"}})
    refused = client.simulate_put(url, json={"nodes": nodes}, headers=org.headers)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "secret.not_set"


def test_a_sealed_secret_is_bound_to_its_organization(org, other_org, db):
    from storage import node_secrets
    from storage.errors import DecryptionError

    sealed = node_secrets.seal({"secret": SECRET}, org.id)
    with pytest.raises(DecryptionError):
        node_secrets.reveal(sealed, other_org.id)
    # a client cannot plant a token: whatever it sends is sealed again, and comes back as it sent it
    planted = node_secrets.seal({"secret": sealed["secret"]}, other_org.id)
    assert node_secrets.reveal(planted, other_org.id)["secret"] == sealed["secret"]


@pytest.mark.e2e
def test_the_node_still_signs_with_the_secret_and_logs_carry_no_personal_data(client, org, worker, receiver):
    # Given a workflow whose webhook secret is write-only
    wf = factories.workflow(client, org, webhook_nodes(f"{receiver.url}/hook"))
    # When a run with personal data goes through the real worker
    execution_id = factories.start(client, org, wf["id"], PERSONAL)
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed", state
    # Then the receiver got a body signed with the real secret
    request = receiver.requests[-1]
    assert request["headers"]["X-DocG-Signature"] == "sha256=" + hmac.new(
        SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    # And neither the secret nor the personal data appear in the run's API answers, snapshots or worker log
    shown = json.dumps([state, factories.steps(client, org, execution_id),
                        client.simulate_get(f"/api/v1/executions/{execution_id}/logs", headers=org.headers).json])
    assert SECRET not in shown
    raw_steps = [s.config for s in ExecutionStep.select().where(ExecutionStep.execution == execution_id)]
    assert SECRET not in json.dumps(raw_steps)
    log = worker.log()
    assert execution_id in log
    for value in (SECRET, *PERSONAL.values()):
        assert value not in log, value


# --- development secrets refused at start ------------------------------------------------------------

DEV_SECRET = settings_module.DEV_SECRET_KEY
COMMANDS = {
    "worker": [sys.executable, "-m", "dramatiq", "actors", "--processes", "1", "--threads", "1"],
    "clock": [str(ROOT / ".venv" / "bin" / "periodiq") if (ROOT / ".venv" / "bin" / "periodiq").exists() else "periodiq",
              "actors"],
    "web": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1", "--bind", "127.0.0.1:0",
            "web.wsgi:app"],
}


@pytest.mark.parametrize("role", sorted(COMMANDS))
@pytest.mark.parametrize("variable,value", [("SECRET_KEY", DEV_SECRET), ("ENCRYPTION_KEY", "")])
def test_development_secrets_are_refused_at_start_on_real_servers(role, variable, value):
    env = {**os.environ, variable: value}
    done = subprocess.run(COMMANDS[role], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-2000:]
    assert "refuses to start with development secrets" in output and variable in output, output[-2000:]
    assert ("secrets.token_urlsafe" if variable == "SECRET_KEY" else "docg keys generate") in output


def test_the_embedded_default_keeps_its_development_secrets():
    embedded = settings_module.load({})
    assert settings_module.insecure_secrets(embedded) == []
    started_by_docg_up = settings_module.load({"DATABASE_URL": "postgresql:///x", "REDIS_URL": "redis:///",
                                               "DOCG_EMBEDDED": "1"})
    assert settings_module.insecure_secrets(started_by_docg_up) == []
    real = settings_module.load({"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r"})
    assert len(settings_module.insecure_secrets(real)) == 2


def test_key_rotation_reseals_node_secrets(client, org, db, receiver):
    from storage import connections, fields, node_secrets
    from storage.crypto import Keyring, generate_key

    wf = factories.workflow(client, org, webhook_nodes(receiver.url))
    old, new_entry = fields.keyring(), generate_key()
    try:
        # Given a new first key
        fields.configure(Keyring.from_config(f"{new_entry},{old_entry(old)}", "unused"))
        # When keys are rotated
        assert connections.rotate_keys() >= 1
        # Then the node secret is sealed with the new key alone and still opens to the same value
        fields.configure(Keyring.from_config(new_entry, "unused"))
        node = WorkflowNode.get((WorkflowNode.workflow == wf["id"]) & (WorkflowNode.label == "notify"))
        assert node_secrets.reveal(node.config, org.id)["secret"] == SECRET
    finally:
        # NOTE: back to the suite's key, so no row stays sealed with a key later tests do not have
        fields.configure(Keyring.from_config(f"{old_entry(old)},{new_entry}", "unused"))
        connections.rotate_keys()
        fields.configure(old)


def old_entry(ring):
    import base64

    from storage.crypto import derive_key

    entry = os.environ.get("ENCRYPTION_KEY")
    return entry or "derived:" + base64.urlsafe_b64encode(derive_key(os.environ["SECRET_KEY"])).decode().rstrip("=")


def test_a_dramatiq_message_is_logged_by_actor_and_id_only():
    """Dramatiq logs failed messages with their arguments: the envelope, with the trigger data."""
    import logging

    from dramatiq import Message

    message = Message(queue_name="render", actor_name="run_render", args=({"context": {"trigger": PERSONAL}},),
                      kwargs={}, options={})
    record = logging.LogRecord("dramatiq.worker.WorkerThread", logging.ERROR, __file__, 1,
                               "Failed to process message %s with unhandled exception.", (message,), None)
    line = settings_module.JsonFormatter().format(record)
    assert f"run_render[{message.message_id}]" in line
    assert not any(value in line for value in PERSONAL.values())
