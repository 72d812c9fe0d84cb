"""Crash safety with real processes: kill -9, SIGTERM, a Redis restart.

These tests run their own `dramatiq actors` processes (no module worker), so
they decide exactly which process holds a hop when it dies.
"""
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug import Response

from cli import sample
from storage import embedded
from storage.models import ExecutionStep, GeneratedDocument, SandboxEnvelope, SignatureRequest
from tests import factories
from tests.support import free_port, http_ok, queue_drained, start_web, wait_for_web, wait_until

pytestmark = pytest.mark.e2e


def contract_workflow(client, org, to, folder):
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "storage", "label": "archive", "config": {"folder": folder}},
        {"node_type": "email", "label": "send", "config": {"to": [to], "subject": "contract"}},
    ])


def step_status(execution_id, position):
    return ExecutionStep.get((ExecutionStep.execution == execution_id) & (ExecutionStep.position == position)).status


def test_kill_9_during_a_render_hop_loses_nothing(client, org, db, mailbox, spawn_worker, table_lock, files_root):
    # Given a run whose render hop is in flight in worker A
    to = f"render+{org.id[:8]}@acme.example"
    wf = contract_workflow(client, org, to, "crash/render")
    first = spawn_worker()
    lock = table_lock("generated_documents", "SHARE")  # the render hop blocks writing its document
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    wait_until(lambda: step_status(execution_id, 1) == "running", 30, message="render hop in flight")
    chained = {s.position: s.claim_token for s in ExecutionStep.select().where(ExecutionStep.execution == execution_id)}
    assert chained[1] == chained[0], "the render was not chained after the trigger, in the same message"

    # When worker A is killed with SIGKILL (in the middle of the chain) and worker B takes over
    first.kill(signal.SIGKILL)
    first.proc.wait(10)
    killed_at = time.monotonic()
    lock.rollback()
    second = spawn_worker()
    try:
        state = factories.wait_for_status(client, org, execution_id, timeout=60)
        recovery = time.monotonic() - killed_at
    finally:
        second.stop()

    # Then the run completed with one document, one file and one email
    print(f"render-hop recovery after kill -9: {recovery:.1f}s")
    assert state["status"] == "completed"
    assert GeneratedDocument.select().where(GeneratedDocument.execution == execution_id).count() == 1
    assert len(list((files_root / org.id / "crash" / "render").iterdir())) == 1
    assert len(mailbox.wait_for(to)) == 1
    steps = factories.steps(client, org, execution_id)
    assert (steps[0]["attempt"], steps[1]["attempt"]) == (1, 2)  # the render reran, not the trigger chained before it


def test_kill_9_during_an_email_hop_sends_one_email(client, org, db, mailbox, spawn_worker):
    # Given a run whose email hop is talking to the SMTP server in worker A
    to = f"mail+{org.id[:8]}@acme.example"
    wf = contract_workflow(client, org, to, "crash/mail")
    release = mailbox.hold(to)
    first = spawn_worker()
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    wait_until(lambda: to in mailbox.held, 30, message="email hop at the SMTP server")

    # When worker A is killed and worker B takes over
    first.kill(signal.SIGKILL)
    first.proc.wait(10)
    release.set()
    second = spawn_worker()
    try:
        state = factories.wait_for_status(client, org, execution_id, timeout=60)
    finally:
        second.stop()

    # Then exactly one email was received, with its attachment
    assert state["status"] == "completed"
    messages = mailbox.wait_for(to)
    assert len(messages) == 1
    assert [a.get_filename() for a in messages[0].iter_attachments()] == ["Contract Acme Corp.docx"]


def test_sigterm_with_hops_in_flight_loses_none(client, org, db, spawn_worker, httpserver):
    # Given six runs, three of them in flight in a slow step
    gate = threading.Event()

    def slow(request):
        gate.wait(20)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "slow", "config": {"url": httpserver.url_for("/slow")}},
        {"node_type": "webhook", "label": "after"},
    ])
    first = spawn_worker(threads=3)
    runs = [factories.start(client, org, wf["id"], {"n": i}) for i in range(6)]
    wait_until(lambda: sum(step_status(r, 1) == "running" for r in runs) == 3, 30, message="three hops in flight")

    # When the worker gets SIGTERM (a deploy) and the slow calls then finish
    first.terminate()
    first.wait_for_log("Stopping worker process", timeout=20)
    gate.set()
    first.proc.wait(30)
    second = spawn_worker()
    try:
        states = [factories.wait_for_status(client, org, r, timeout=60) for r in runs]
    finally:
        second.stop()

    # Then every run completed and no node ran twice
    assert [s["status"] for s in states] == ["completed"] * 6
    for run in runs:
        assert [s["attempt"] for s in factories.steps(client, org, run)] == [1, 1, 1]


def test_duplicate_signature_hop_creates_one_envelope(client, org, db, spawn_worker, broker):
    # Given a signature node whose hop message is delivered three times
    from actors import pipeline
    from actors.envelope import Envelope
    from storage.models import Execution

    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "A", "email": "a@acme.example"}]}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    worker = spawn_worker()
    try:
        wait_until(lambda: Execution.get_by_id(execution_id).node_index == 1, 30, message="render done")
        envelope = Envelope.of(Execution.get_by_id(execution_id))
        pipeline.send(envelope, "signature")
        pipeline.send(envelope, "signature")
        factories.wait_for_status(client, org, execution_id, "signing")
        wait_until(lambda: queue_drained(broker), 30, message="drained")
    finally:
        worker.stop()

    # Then one envelope exists at the provider and one request on our side
    assert SandboxEnvelope.select().where(SandboxEnvelope.idempotency_key.startswith(execution_id)).count() == 1
    assert SignatureRequest.select().where(SignatureRequest.execution == execution_id).count() == 1


def test_a_signature_wait_survives_a_redis_restart(org, db, logs_dir, spawn_worker):
    # Given a private Redis with its own web and worker processes
    var = Path(tempfile.mkdtemp(prefix="docg-redis-", dir="/tmp"))
    redis_url = embedded.ensure_redis(var)
    port = free_port()
    env = {"REDIS_URL": redis_url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    web = start_web(logs_dir, port, env=env, wait=False)
    worker = spawn_worker(env=env)
    base, headers = f"http://127.0.0.1:{port}", org.headers
    try:
        wait_for_web(web)
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="web up")
        template = requests.post(f"{base}/api/v1/templates?name=c.docx", data=sample.contract_template(),
                                 headers={**headers, "Content-Type": "application/octet-stream"}, timeout=10).json()
        wf = requests.post(f"{base}/api/v1/workflows", headers=headers, timeout=10, json={"name": "sig", "nodes": [
            factories.render_node(template["id"]),
            {"node_type": "request-signatures", "label": "sign",
             "config": {"provider": "sandbox", "signers": [{"name": "A", "email": "a@acme.example"}]}}]}).json()
        execution_id = requests.post(f"{base}/api/v1/workflows/{wf['id']}/executions", headers=headers, timeout=10,
                                     json={"trigger_data": sample.trigger_data()}).json()["execution_id"]
        run = f"{base}/api/v1/executions/{execution_id}"
        wait_until(lambda: requests.get(run, headers=headers, timeout=5).json()["status"] == "signing", 30,
                   message="waiting for the signature")

        # When Redis restarts while the run waits
        embedded.stop(var)
        redis_url_again = embedded.ensure_redis(var)
        assert redis_url_again == redis_url

        # Then the signer's webhook still resumes the run
        steps = requests.get(f"{run}/steps", headers=headers, timeout=5).json()["steps"]
        sign_url = steps[1]["data_out"]["signers"][0]["sign_url"]
        wait_until(lambda: requests.post(sign_url, json={"action": "signed"}, timeout=5).status_code == 200, 30,
                   message="sandbox reachable after restart")
        wait_until(lambda: requests.get(run, headers=headers, timeout=5).json()["status"] == "completed", 60,
                   message="run completed after the Redis restart")
    finally:
        worker.stop()
        web.stop()
        embedded.stop(var)
