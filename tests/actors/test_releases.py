"""Releases do not break runs in flight: pinned definitions, envelope versions."""
import json
import uuid

import pytest

from actors.envelope import ENVELOPE_VERSION, Envelope
from cli import sample
from storage.models import Execution
from tests import factories

pytestmark = pytest.mark.e2e


def approver(org):
    return f"ana+{org.id[:8]}@acme.example"


def queued_run(client, org):
    """A queued run whose first hop was never sent (as if sent by another release)."""
    from actors import pipeline
    from storage import workflows

    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution, batch = pipeline._create(workflows.get(wf["id"], org.id), trigger_data={"client_name": "x"})
    batch.flush()
    return execution


def enqueue_raw(broker, message):
    """Put a message on its Redis queue the way a release without this middleware would."""
    message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
    broker.do_enqueue(message.queue_name, message.options["redis_message_id"], message.encode())
    return message


# (first in the module: the shared worker is not up yet, so the worker it starts is the only one taking messages;
# see tests/conftest.py: _worker_only_where_asked)
def test_a_worker_leaves_messages_of_an_unknown_envelope_version_and_runs_old_ones(client, org, db, broker,
                                                                                    spawn_worker):
    from actors.phases import preflight_hop

    worker = spawn_worker()
    execution = queued_run(client, org)
    envelope = Envelope.of(execution).to_message()

    # When a newer release's message (envelope version 99) arrives
    newer = preflight_hop.send_with_options(args=(envelope,), envelope_version=99)
    worker.wait_for_log("left for a compatible worker", timeout=20)

    # Then the worker neither runs it nor crashes: the run is still queued, the message waits in the delay queue
    assert Execution.get_by_id(execution.id).status == "queued" and worker.proc.poll() is None
    delayed = {json.loads(raw)["message_id"]: json.loads(raw)
               for raw in broker.client.hvals(f"{broker.namespace}:pipeline.DQ.msgs")}
    assert any(m["options"].get("envelope_version") == 99 and m["options"].get("deferrals", 0) >= 1
               for m in delayed.values() if m["message_id"] == newer.message_id)

    # When the previous release's message (no version at all) arrives, it runs
    older = enqueue_raw(broker, preflight_hop.message(envelope))
    assert "envelope_version" not in older.options
    assert factories.wait_for_status(client, org, str(execution.id))["status"] == "completed"

    # and this release's messages carry the current version
    assert preflight_hop.message(envelope).options == {} and ENVELOPE_VERSION == 2
    sent = preflight_hop.send(Envelope.of(Execution.get_by_id(execution.id)).to_message())
    assert sent.options["envelope_version"] == ENVELOPE_VERSION

    # (clean up: the version-99 message would bounce until a compatible worker takes it)
    worker.stop()
    for key, raw in broker.client.hscan_iter(f"{broker.namespace}:pipeline.DQ.msgs"):
        if json.loads(raw)["options"].get("envelope_version") == 99:
            broker.client.hdel(f"{broker.namespace}:pipeline.DQ.msgs", key)


def test_a_workflow_edited_during_a_wait_does_not_change_the_waiting_run(client, org, worker, mailbox):
    # Given a run waiting for approval, with an email step still to come
    customer = f"customer+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "human-in-loop", "label": "review", "config": {"approvers": [approver(org)]}},
        {"node_type": "email", "label": "send", "config": {"to": [customer], "subject": "version one"}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")

    # When the workflow is edited meanwhile (new subject, one more step)
    edited = client.simulate_put(f"/api/v1/workflows/{wf['id']}", headers=org.headers, json={"nodes": [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "human-in-loop", "label": "review", "config": {"approvers": [approver(org)]}},
        {"node_type": "email", "label": "send", "config": {"to": [customer], "subject": "version two"}},
        {"node_type": "email", "label": "copy", "config": {"to": [customer], "subject": "added later"}},
    ]})
    assert edited.status_code == 200, edited.text
    # and the approver approves
    token = factories.approval_token(mailbox.wait_for(approver(org))[0])
    assert client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "approved"}).status_code == 200

    # Then the run finishes with the definition it started with
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert [m["Subject"] for m in mailbox.wait_for(customer)] == ["version one"]
    assert [s["label"] for s in factories.steps(client, org, execution_id)] == ["deal", "review", "send"]

    # When it is retried from the email step: by default with its own definition
    original = client.simulate_post(f"/api/v1/executions/{execution_id}/retry", headers=org.headers,
                                    json={"from_step": "send"}).json["execution_id"]
    assert factories.wait_for_status(client, org, original)["status"] == "completed"
    assert [s["label"] for s in factories.steps(client, org, original)] == ["deal", "review", "send"]
    # or with the workflow as it is now
    current = client.simulate_post(f"/api/v1/executions/{execution_id}/retry", headers=org.headers,
                                   json={"from_step": "send", "definition": "current"}).json["execution_id"]
    assert factories.wait_for_status(client, org, current)["status"] == "completed"
    steps = factories.steps(client, org, current)
    assert [(s["label"], s["status"]) for s in steps] == [
        ("deal", "skipped"), ("review", "skipped"), ("send", "success"), ("copy", "success")]
    subjects = [m["Subject"] for m in mailbox.wait_for(customer, count=4)]
    assert sorted(subjects) == ["added later", "version one", "version one", "version two"]
    bad = client.simulate_post(f"/api/v1/executions/{execution_id}/retry", headers=org.headers,
                               json={"definition": "newest"})
    assert bad.status_code == 422 and bad.json["error"]["code"]


def test_an_envelope_with_keys_this_release_does_not_know_still_reads():
    data = {**Envelope("e", "o", "w", "c", 0, 0).to_message(), "added_by_a_newer_release": {"x": 1}}
    assert Envelope.from_message(data) == Envelope("e", "o", "w", "c", 0, 0)


def test_a_message_nobody_can_handle_is_dead_lettered_after_its_deferrals(broker):
    import dramatiq

    from actors.middleware import EnvelopeVersion
    from actors.phases import preflight_hop

    message = preflight_hop.message_with_options(args=({},), envelope_version=99,
                                                 deferrals=EnvelopeVersion.MAX_DEFERRALS)
    proxy = dramatiq.broker.MessageProxy(message)
    with pytest.raises(dramatiq.middleware.SkipMessage):
        EnvelopeVersion().before_process_message(broker, proxy)
    assert proxy.failed
