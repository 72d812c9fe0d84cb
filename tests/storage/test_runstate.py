"""The status machine: one table, compare-and-set transitions, events."""
import threading

import pytest

from storage import runstate
from storage.errors import InvalidTransition
from storage.events import EventBatch
from storage.models import Execution, Workflow


@pytest.fixture
def execution(org, db):
    workflow = Workflow.create(organization=org.id, name="wf")
    return Execution.create(organization=org.id, workflow=workflow.id, correlation_id=workflow.id)


def test_the_table_covers_the_twelve_states_and_terminals_are_final():
    assert set(runstate.TRANSITIONS) == {"queued", "running", "needs_review", "ready", "sending", "sent", "signing",
                                         "signed", "completed", "failed", "canceled", "paused"}
    assert runstate.TERMINAL == {"completed", "failed", "canceled"}
    for targets in runstate.TRANSITIONS.values():
        assert targets <= set(runstate.TRANSITIONS)


def test_allowed_transition_updates_row_and_queues_events(execution):
    batch = EventBatch()
    row = runstate.transition(execution.id, "running", batch=batch, reason="go")
    assert row.status == "running" and row.version == execution.version + 1
    assert [e["event_type"] for e in batch.events] == ["execution.status_changed"]
    assert batch.events[0]["data"] == {"from": "queued", "to": "running", "reason": "go"}

    runstate.transition(execution.id, "completed", batch=batch)
    assert [e["event_type"] for e in batch.events][-1] == "execution.completed"
    assert Execution.get_by_id(execution.id).completed_at is not None


def test_forbidden_transitions_raise_and_change_nothing(execution):
    with pytest.raises(InvalidTransition):
        runstate.transition(execution.id, "signed", batch=EventBatch())
    runstate.transition(execution.id, "canceled", batch=EventBatch())
    with pytest.raises(InvalidTransition):
        runstate.transition(execution.id, "running", batch=EventBatch())
    with pytest.raises(InvalidTransition):
        runstate.transition(execution.id, "canceled", batch=EventBatch())
    assert Execution.get_by_id(execution.id).status == "canceled"


def test_concurrent_terminal_transitions_have_exactly_one_winner(execution, services):
    runstate.transition(execution.id, "running", batch=EventBatch())
    winners, errors = [], []
    barrier = threading.Barrier(10)

    def race(target):
        with services.db.connection_context():
            barrier.wait()
            try:
                runstate.transition(execution.id, target, batch=EventBatch())
                winners.append(target)
            except InvalidTransition:
                errors.append(target)

    threads = [threading.Thread(target=race, args=("completed" if i % 2 else "canceled",)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(errors) == 9
    assert Execution.get_by_id(execution.id).status == winners[0]


def _race(services, execution_id, committed_later, target):
    """Transition to `target` while another transaction holds the row moved to `committed_later`.

    The other transaction commits once the transition had time to reach the
    row; returns what the transition returned, raised and queued.
    """
    import os

    import psycopg2

    from storage.db import connect_params

    other = psycopg2.connect(**connect_params(os.environ["DATABASE_URL"]))
    other.cursor().execute("UPDATE workflow_executions SET status = %s, version = version + 1 WHERE id = %s",
                           (committed_later, str(execution_id)))
    outcome = {}

    def run():
        with services.db.connection_context():
            batch = EventBatch()
            try:
                outcome["row"] = runstate.transition(execution_id, target, batch=batch, reason="race")
            except InvalidTransition as ex:
                outcome["error"] = ex
            outcome["events"] = batch.events

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(0.3)
    other.commit()
    other.close()
    thread.join(10)
    return outcome


def test_a_transition_that_loses_to_a_concurrent_change_raises_and_queues_nothing(execution, services):
    # Given a running run
    runstate.transition(execution.id, "running", batch=EventBatch())

    # When it is completed while another transaction cancels it and commits
    outcome = _race(services, execution.id, "canceled", "completed")

    # Then the completion lost: it raised, queued no event and changed nothing
    assert isinstance(outcome.get("error"), InvalidTransition)
    assert outcome["events"] == []
    assert Execution.get_by_id(execution.id).status == "canceled"


def test_a_transition_that_waits_on_a_concurrent_change_reports_the_status_it_left(execution, services):
    # Given a running run
    runstate.transition(execution.id, "running", batch=EventBatch())

    # When it is failed (allowed from both) while another transaction moves it to sending and commits
    outcome = _race(services, execution.id, "sending", "failed")

    # Then the transition applies after the change and says it left sending, not running
    assert outcome["row"].status == "failed"
    assert outcome["events"][0]["data"] == {"from": "sending", "to": "failed", "reason": "race"}
