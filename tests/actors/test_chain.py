"""Chained nodes (actors/pipeline.py): a run's next nodes run in the message of the node before.

What a node keeps of a message of its own, each proven with a real worker:
its own commit and events before the next node starts, its own time limit,
and its own retries. A kill -9 in the middle of a chain is covered by
tests/actors/test_crash.py (the render hop killed there runs chained after
the trigger, in the preflight's message).

The tests with workers of their own (a 2 s HOP_TIME_LIMIT_MS, HOP_CHAIN_MS=0)
come first, before this module asks for the shared worker.
"""
import time

import pytest
from werkzeug import Response

from storage.db import database
from storage.models import ExecutionStep
from tests import factories

pytestmark = pytest.mark.e2e

#: the spawned worker's per-node limit; a slow node below takes 60 % of it
LIMIT_MS = 2000
SLOW_S = 1.2


def rows(execution_id):
    return list(ExecutionStep.select().where(ExecutionStep.execution == execution_id).order_by(ExecutionStep.position))


def outgoing(label, url):
    return {"node_type": "outgoing-webhook", "label": label, "config": {"url": url}}


@pytest.fixture
def limited_worker(spawn_worker):
    """A worker whose nodes may run 2 s each, chaining for up to a minute (so only the limit can stop a node)."""
    return spawn_worker(threads=2, env={"HOP_TIME_LIMIT_MS": str(LIMIT_MS), "HOP_CHAIN_MS": "60000"})


def test_each_chained_node_gets_its_own_time_limit(client, org, httpserver, limited_worker):
    # Given three nodes that each take 60 % of the time limit: 180 % of it in one message
    def slow(request):
        time.sleep(SLOW_S)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    wf = factories.workflow(client, org, [outgoing(f"slow {i}", httpserver.url_for("/slow")) for i in range(3)])

    # When the run goes through the worker
    execution_id = factories.start(client, org, wf["id"], {"n": 1})
    state = factories.wait_for_status(client, org, execution_id, timeout=60)

    # Then no node was interrupted: all three ran once, chained in one message
    assert state["status"] == "completed", state
    steps = rows(execution_id)
    assert [s.attempt for s in steps] == [1, 1, 1]
    assert len({s.claim_token for s in steps}) == 1, "the nodes ran in more than one message"
    assert (steps[-1].completed_at - steps[0].started_at).total_seconds() > LIMIT_MS / 1000


def test_a_chained_node_past_its_time_limit_is_retried_in_a_message_of_its_own(
        client, org, httpserver, limited_worker):
    # Given a quick trigger, then a node whose first call outlasts the time limit
    calls = []

    def first_call_stalls(request):
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(LIMIT_MS / 1000 + 1.5)
        return Response("ok")

    httpserver.expect_request("/stalls").respond_with_handler(first_call_stalls)
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          outgoing("stalls", httpserver.url_for("/stalls"))])

    # When the run goes through the worker
    execution_id = factories.start(client, org, wf["id"], {"n": 1})
    state = factories.wait_for_status(client, org, execution_id, timeout=60)

    # Then the stalled node was interrupted and ran again, in a message of its own; the trigger did not rerun
    assert state["status"] == "completed", state
    trigger, stalled = rows(execution_id)
    assert (trigger.attempt, stalled.attempt) == (1, 2)
    assert stalled.claim_token != trigger.claim_token
    assert len(calls) == 2


def test_a_chain_yields_its_thread_after_hop_chain_ms(client, org, spawn_worker):
    # Given a worker that chains for no time at all (HOP_CHAIN_MS=0: one node per message)
    spawn_worker(threads=2, env={"HOP_CHAIN_MS": "0"})
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": f"n{i}"} for i in range(3)])

    # When a run goes through it
    execution_id = factories.start(client, org, wf["id"], {"n": 1})
    state = factories.wait_for_status(client, org, execution_id)

    # Then each node had a message of its own
    assert state["status"] == "completed"
    assert len({s.claim_token for s in rows(execution_id)}) == 3


def test_chained_nodes_commit_with_their_events_before_the_next_starts(client, org, worker):
    # Given a run of three nodes
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": f"n{i}"} for i in range(3)])

    # When it runs
    execution_id = factories.start(client, org, wf["id"], {"n": 1})
    state = factories.wait_for_status(client, org, execution_id)

    # Then the three ran in one message, and each committed, events included, before the next started
    assert state["status"] == "completed"
    steps = rows(execution_id)
    assert len({s.claim_token for s in steps}) == 1
    for done, after in zip(steps, steps[1:]):
        assert done.completed_at <= after.started_at
    events = database.execute_sql(
        "SELECT event_type, event->'data'->>'node_id' FROM execution_events WHERE execution_id = %s "
        "AND event_type IN ('step.started', 'step.completed') ORDER BY seq", (execution_id,)).fetchall()
    order = [(kind, next(s.position for s in steps if str(s.node_id) == node)) for kind, node in events]
    assert order == [("step.started", 0), ("step.completed", 0), ("step.started", 1), ("step.completed", 1),
                     ("step.started", 2), ("step.completed", 2)]


def test_a_chained_node_failing_transiently_is_attempted_as_often_as_any_other(client, org, worker, httpserver):
    # Given a trigger, then a node whose endpoint is always busy
    httpserver.expect_request("/busy").respond_with_data("busy", status=503)
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          outgoing("notify", httpserver.url_for("/busy"))])

    # When the run goes through the worker (HOP_MAX_RETRIES is 3 in the suite)
    execution_id = factories.start(client, org, wf["id"], {"n": 1})
    state = factories.wait_for_status(client, org, execution_id, timeout=60)

    # Then the node had its first attempt chained and three retries of its own: four in all, then failed
    assert state["status"] == "failed"
    trigger, busy = rows(execution_id)
    assert busy.attempt == 4 and busy.status == "failure"
    assert busy.claim_token != trigger.claim_token
    assert len([r for r in httpserver.log if r[0].path == "/busy"]) == 4
    assert "failed after 4 attempts" in state["last_error_human"]
