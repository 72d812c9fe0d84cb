"""A real five-node run through a real dramatiq worker, end to end."""
import hashlib
import hmac
import io
import json

import docx
import pytest
from werkzeug import Response

from cli import sample
from storage import events
from tests import factories

pytestmark = pytest.mark.e2e


def test_local_workflow_runs_end_to_end(client, org, worker, mailbox, httpserver, files_root, redis):
    # Given a template, a webhook receiver and the 5-node local workflow
    received = []

    def receive(request):
        received.append((request.headers, request.get_data()))
        return Response("ok")

    httpserver.expect_request("/hooks/docg", method="POST").respond_with_handler(receive)
    template_id = factories.template(client, org)
    to = f"ana+{org.id[:8]}@acme.example"
    wf = factories.workflow(client, org, sample.workflow(
        template_id, folder="contracts/2026", to=[to], webhook_url=httpserver.url_for("/hooks/docg"),
        webhook_secret="s3cret")["nodes"])

    # When a run starts
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())

    # Then it completes with every step recorded
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed", state
    assert state["progress"] == 100
    assert state["delivery_state"] == "sent"
    assert set(state["phase_metrics"]) == {"preflight", "trigger", "render", "save", "delivery"}
    assert state["preflight_summary"]["blocking_count"] == 0
    steps = factories.steps(client, org, execution_id)
    assert [s["status"] for s in steps] == ["success"] * 5
    assert all(s["attempt"] == 1 for s in steps)
    assert steps[4]["data_in"]["secret"] == "[REDACTED]"

    # and the document landed in the folder, rendered from the trigger data
    path = steps[2]["data_out"]["path"]
    assert path.startswith(str(files_root / org.id / "contracts" / "2026"))
    text = "\n".join(p.text for p in docx.Document(path).paragraphs)
    assert "Acme Corp" in text and "Ana Souza" in text and "12,500.00 USD" in text

    # and the email arrived with the document attached
    message = mailbox.wait_for(to)[0]
    assert message["Subject"] == "Your contract, Ana Souza"
    assert message["X-Correlation-ID"] == state["correlation_id"]
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Contract Acme Corp.docx"]
    attached = docx.Document(io.BytesIO(attachments[0].get_content()))
    assert "Acme Corp" in attached.paragraphs[1].text

    # and the outgoing webhook was signed over the exact body
    headers, body = received[0]
    assert headers["X-DocG-Signature"] == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Correlation-ID"] == state["correlation_id"]
    assert json.loads(body) == {"deal_id": "D-1042", "document": path, "message_id": message["Message-ID"]}

    # and the stream holds the whole story, ending with completion
    types = [f[b"type"].decode() for _, f in redis.xrange(events.stream_key(execution_id))]
    assert types[0] == "execution.created" and types[-1] == "execution.completed"
    assert types.count("step.started") == 5 and types.count("step.completed") == 5
    assert redis.ttl(events.stream_key(execution_id)) > 0


def test_missing_required_fields_stop_the_run_in_review_before_any_action(client, org, worker, mailbox):
    to = f"never+{org.id[:8]}@example.com"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
        {"node_type": "email", "label": "send", "config": {"to": [to]}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"other": 1})

    state = factories.wait_for_status(client, org, execution_id, "needs_review")

    assert "client_name" in state["last_error_human"]
    assert state["last_error_tech"].startswith("[missing_required_field]")
    assert state["recommended_actions"][0]["action"] == "fill_required"
    assert [s["status"] for s in factories.steps(client, org, execution_id)] == ["pending", "pending"]
    assert mailbox.messages(to) == []


def test_a_failing_step_fails_the_run_with_human_and_technical_errors(client, org, worker, httpserver):
    httpserver.expect_request("/refuses").respond_with_data("no such hook", status=404)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": httpserver.url_for("/refuses")}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"n": 1})

    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "failed" and state["delivery_state"] == "failed"
    assert state["last_error_human"] == "The webhook call was refused (404)."
    assert "404" in state["last_error_tech"] and "no such hook" not in state["last_error_tech"]  # never the body
    steps = factories.steps(client, org, execution_id)
    assert [s["status"] for s in steps] == ["success", "failure"]
    assert steps[1]["error_code"] == "bad_response" and steps[1]["attempt"] == 1


def test_a_long_run_never_holds_the_http_request(client, org, worker, httpserver):
    # Given a node that takes as long as the outside world makes it
    import threading

    gate = threading.Event()

    def slow(request):
        gate.wait(30)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    wf = factories.workflow(client, org, [
        {"node_type": "outgoing-webhook", "label": "slow", "config": {"url": httpserver.url_for("/slow")}},
    ])

    # When a run starts, the API answers while the node is still working
    execution_id = factories.start(client, org, wf["id"])
    from tests.support import wait_until

    wait_until(lambda: factories.steps(client, org, execution_id)[0]["status"] == "running", 30, message="running")
    assert not gate.is_set()

    # Then the run finishes on its own once the node does
    gate.set()
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
