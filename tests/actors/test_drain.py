"""SIGTERM drains a worker: the hop in hand finishes, nothing runs twice, the run goes on."""
import threading

import pytest
from werkzeug import Response

from tests import factories

pytestmark = pytest.mark.e2e


def test_sigterm_lets_the_worker_finish_the_hop_in_hand(client, org, db, spawn_worker, httpserver):
    arrived, release, calls = threading.Event(), threading.Event(), []

    def slow(request):
        calls.append(1)
        arrived.set()
        release.wait(20)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "slow", "config": {"url": httpserver.url_for("/slow")}},
        {"node_type": "webhook", "label": "after"},
    ])
    worker = spawn_worker()

    # Given a worker in the middle of a hop (its outbound call is in flight)
    execution_id = factories.start(client, org, wf["id"], {"x": 1})
    assert arrived.wait(30)

    # When it gets SIGTERM, and the call then answers
    worker.terminate()
    worker.wait_for_log("Stopping worker process", timeout=10)
    release.set()

    # Then it finishes that hop before it exits, cleanly
    assert worker.proc.wait(30) == 0, worker.log()[-3000:]
    slow_step = next(s for s in factories.steps(client, org, execution_id) if s["label"] == "slow")
    assert slow_step["status"] == "success"

    # and the next worker takes the run on from there without repeating the call
    spawn_worker()
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert len(calls) == 1
