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
