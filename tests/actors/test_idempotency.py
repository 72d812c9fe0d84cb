"""Delivering a hop message more than once never runs a node twice."""
import pytest

from actors import pipeline
from actors.envelope import Envelope
from storage import events
from storage.models import Execution
from tests import factories
from tests.support import queue_drained, queue_messages, wait_until

pytestmark = pytest.mark.e2e


def stream_types(redis, execution_id):
    return [f[b"type"].decode() for _, f in redis.xrange(events.stream_key(execution_id))]


def test_duplicated_and_redelivered_hops_run_each_node_once(client, org, db, worker, broker, mailbox, redis):
    # Given a two-node workflow whose second node sends an email
    to = f"dup+{org.id[:8]}@example.com"
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "email", "label": "send", "config": {"to": [to], "subject": "once"}},
    ])

    # When the first hop message is delivered three times at once
    execution_id = factories.start(client, org, wf["id"], {"n": 1})
    first_hop = Envelope.of(Execution.get_by_id(execution_id))
    assert first_hop.hop == 0
    pipeline.send(first_hop, "trigger")
    pipeline.send(first_hop, "trigger")
    factories.wait_for_status(client, org, execution_id)
    wait_until(lambda: queue_drained(broker), 30, message="pipeline queue drained")

    # and, after the run finished, both hop messages are delivered again
    before = stream_types(redis, execution_id)
    second_hop = Envelope(**{**first_hop.to_message(), "hop": 1, "node_index": 1})
    for _ in range(2):
        pipeline.send(first_hop, "trigger")
        pipeline.send(second_hop, "delivery")
    wait_until(lambda: queue_drained(broker), 30, message="pipeline queue drained")

    # Then each node ran exactly once and one email was sent
    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "completed"
    assert [s["attempt"] for s in factories.steps(client, org, execution_id)] == [1, 1]
    assert len(mailbox.wait_for(to)) == 1
    after = stream_types(redis, execution_id)
    assert after == before
    assert after.count("step.started") == 2 and after.count("execution.completed") == 1


def test_concurrent_duplicates_of_a_slow_hop_wait_for_the_claim(client, org, db, worker, broker, httpserver):
    # Given a webhook node whose receiver holds the hop in flight until the test releases it
    import threading

    from werkzeug import Response

    calls, release = [], threading.Event()

    def slow(request):
        calls.append(request.headers["Idempotency-Key"])
        release.wait(20)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    wf = factories.workflow(client, org, [
        {"node_type": "outgoing-webhook", "label": "call", "config": {"url": httpserver.url_for("/slow")}},
    ])

    # When five copies of the same hop are delivered together
    execution_id = factories.start(client, org, wf["id"])
    envelope = Envelope.of(Execution.get_by_id(execution_id))
    wait_until(lambda: calls, 30, message="hop in flight")
    for _ in range(4):
        pipeline.send(envelope, "delivery")
    wait_until(lambda: queue_messages(broker, ready_only=True) == 0, 10,
               message="duplicates fetched by the worker while the hop is in flight")
    release.set()
    factories.wait_for_status(client, org, execution_id)
    wait_until(lambda: queue_drained(broker), 30, message="pipeline queue drained")

    # Then the receiver was called once
    assert len(calls) == 1
    assert factories.steps(client, org, execution_id)[0]["attempt"] == 1
