"""The hot claim (storage/hop.py) under concurrency: what the advisory lock inside CLAIM and COMMIT guarantees.

Each worker is a thread with its own pooled connection, as in a worker
process; a kill -9 is a terminated backend (PostgreSQL drops the session and
its locks exactly as when the worker's socket closes).
"""
import threading

import pytest

from actors import pipeline
from cli import sample
from storage import events, hop, logs, runstate, steps
from storage.db import database
from storage.models import Execution, ExecutionStep
from tests import factories
from tests.support import free_port, in_thread, wait_on_a_lock, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def first_hop(client, org, db, captured, one_node_per_message):
    """The envelope of a webhook run's first hop, its preflight done in process."""
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          {"node_type": "webhook", "label": "again"}])
    factories.start(client, org, wf["id"], sample.trigger_data())
    envelope, _ = captured.pop()
    pipeline.run_preflight(envelope.to_message())
    envelope, _ = captured.pop()
    return envelope


def claim(envelope, token):
    return hop.claim(envelope, token, key=steps.lock_key(envelope.execution_id, envelope.node_index))


def step_row(envelope):
    return ExecutionStep.get((ExecutionStep.execution == envelope.execution_id)
                             & (ExecutionStep.position == envelope.node_index))


def test_a_live_claim_keeps_a_duplicate_out_and_a_killed_one_lets_it_in(first_hop, db):
    # Given worker A holding the step's claim on its connection
    release = threading.Event()

    def hold(box):
        held, claimed = claim(first_hop, "A")
        box["claimed"] = claimed
        release.wait(30)
        try:
            database.execute_sql("SELECT 1")  # the backend is gone: psycopg2 marks the connection closed
        except Exception:  # noqa: BLE001
            pass
        return held

    a, box_a = in_thread(hold)
    wait_until(lambda: "claimed" in box_a, message="A's claim")
    assert box_a["claimed"] is not None and box_a["claimed"].run.status == "running"

    # When a duplicate tries while A is alive, Then it claims nothing and starts nothing
    held, claimed = claim(first_hop, "B")
    assert (held, claimed) == (False, None)
    assert step_row(first_hop).attempt == 1

    # When A is killed (its session ends), Then the duplicate takes the step, as attempt 2
    database.execute_sql("SELECT pg_terminate_backend(%s)", (box_a["pid"],))
    release.set()
    a.join(10)
    held, claimed = wait_until(lambda: (lambda r: r if r[1] else None)(claim(first_hop, "B")),
                               message="the claim after A's death")
    assert claimed.step.attempt == 2 and claimed.run.status == "running"
    steps.release(first_hop.execution_id, first_hop.node_index)


def test_a_run_canceled_while_queued_does_not_start(first_hop, db):
    # Given a queued run canceled before its first hop is taken
    batch = events.EventBatch()
    with batch.atomic():
        runstate.transition(first_hop.execution_id, "canceled", batch=batch, reason="test")
    batch.flush()

    # When the hop's claim runs
    held, claimed = claim(first_hop, "A")

    # Then nothing is claimed, the run stays canceled and no step started
    assert claimed is None
    assert Execution.get_by_id(first_hop.execution_id).status == "canceled"
    assert step_row(first_hop).status == "pending"
    assert "step.started" not in [kind for _, kind in factories.outbox_events(first_hop.execution_id)]
    assert not database.execute_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                                    "pg_backend_pid()").fetchone()[0]


def test_a_duplicate_that_wins_the_lock_between_unlock_and_commit_finds_the_hop_moved(first_hop, db):
    # Given worker A has run COMMIT (which releases the advisory lock) in a transaction not yet committed
    held, claimed = claim(first_hop, "A")
    assert claimed is not None
    run = claimed.run
    duplicate = {}
    with database.atomic():
        out = hop.commit(claimed, next_index=1, context=first_hop.context, progress=50, metrics={},
                         data_in={}, data_out={"ok": True}, duration_ms=1,
                         events=[events.build(run, "step.completed", {"node_id": str(claimed.step.node_id)}),
                                 events.build(run, "execution.progress", {})],
                         log=("step", logs.text("step.completed", label="deal"), "test"))
        assert out is not None and claimed.released

        # When a duplicate claims now: it wins the free lock and must wait on A's row lock
        thread, duplicate = in_thread(lambda box: claim(first_hop, "B"))
        wait_until(lambda: duplicate.get("ready") and database.execute_sql(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s",
            (duplicate["pid"],)).fetchone()[0], message="the duplicate waiting on the run's row lock")
    # (A commits here)
    thread.join(10)

    # Then the duplicate saw the hop moved: it claimed nothing and the step ran once
    assert "error" not in duplicate, duplicate.get("error")
    held_b, claimed_b = duplicate["result"]
    assert held_b is True and claimed_b is None
    step = step_row(first_hop)
    assert (step.status, step.attempt, step.claim_token) == ("success", 1, "A")
    assert Execution.get_by_id(first_hop.execution_id).hop == first_hop.hop + 1
    seqs = [int(stream_id.partition("-")[0]) for stream_id, _ in factories.outbox_events(first_hop.execution_id)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_the_reaper_failing_a_run_a_worker_is_claiming_takes_the_run_first_and_does_not_deadlock(first_hop, db):
    from integrations.errors import RunStuck

    # Given worker A inside its claim: CLAIM locks the run row first, then the step
    locked, go_on = threading.Event(), threading.Event()

    def worker_claims(box):
        with database.atomic():
            database.execute_sql("SELECT id FROM workflow_executions WHERE id = %s FOR UPDATE",
                                 (str(first_hop.execution_id),))
            locked.set()
            go_on.wait(30)
            held, claimed = claim(first_hop, "A")
        steps.release(first_hop.execution_id, first_hop.node_index)
        return held, claimed

    a, box_a = in_thread(worker_claims)
    assert locked.wait(30)

    # When the reaper fails the same run meanwhile: it must queue on the run row, holding nothing A needs
    b, box_b = in_thread(lambda box: steps.fail_run(Execution.get_by_id(first_hop.execution_id),
                                                    RunStuck(message_tech="test")))
    wait_on_a_lock(box_b, "the reaper waiting on the run's row lock")
    go_on.set()
    a.join(30)
    b.join(30)

    # Then neither was chosen as a deadlock victim: A claimed the step, and the reaper then failed run and step
    assert "error" not in box_a, box_a.get("error")
    assert "error" not in box_b, box_b.get("error")
    assert box_a["result"][1] is not None and box_b["result"] is True
    assert Execution.get_by_id(first_hop.execution_id).status == "failed"
    step = step_row(first_hop)
    assert (step.status, step.error_code, step.claim_token) == ("failure", "run.stuck", "A")


def test_a_claim_whose_relay_to_redis_fails_leaves_no_lock_behind(first_hop, db, services):
    import redis as redis_lib

    from storage.bootstrap import redis_client

    # Given Redis gone when the claim relays its events (CLAIM has run: the step is started and locked)
    events.configure(events.EventLog(redis_client(f"redis://127.0.0.1:{free_port()}/0"), maxlen=100, ttl=60))
    try:
        with pytest.raises(redis_lib.ConnectionError):
            claim(first_hop, "A")
    finally:
        events.configure(services.events)

    # Then the claim's connection holds no lock (it goes back to the pool), and a retry takes the step
    assert not database.execute_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                                    "pg_backend_pid()").fetchone()[0]
    thread, box = in_thread(lambda box: claim(first_hop, "B"))
    thread.join(10)
    held, claimed = box["result"]
    assert held is True and claimed.step.attempt == 2 and step_row(first_hop).claim_token == "B"
    steps.release(first_hop.execution_id, first_hop.node_index)
