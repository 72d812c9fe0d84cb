"""The event outbox: events commit with their change, and relay once, in order, whatever Redis did."""
import threading

import pytest

from storage import events, executions, outbox, workflows
from storage.db import database
from storage.models import Execution
from tests import factories


@pytest.fixture
def run(client, org, db):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution, batch = executions.create(workflows.get(wf["id"], org.id), phases={"webhook": "trigger"},
                                         trigger_data={"n": 1})
    batch.flush()
    return execution


def stream(redis, execution_id):
    return [(i.decode(), f[b"type"].decode()) for i, f in redis.xrange(events.stream_key(execution_id))]


def outbox_rows(execution_id):
    return [(f"{seq}-0", event_type) for seq, event_type, _ in outbox.history(execution_id, 0, 10_000)]


def test_an_event_exists_exactly_when_its_transaction_committed(run, redis, db):
    # Given the created event, written in the run's own transaction
    assert outbox_rows(run.id) == [("1-0", "execution.created")] == stream(redis, run.id)

    # When a transaction that emitted an event rolls back
    batch = events.EventBatch()
    with pytest.raises(RuntimeError):
        with batch.atomic():
            batch.add(run, "execution.progress", {"progress": 5})
            raise RuntimeError("rolled back")
    batch.flush()

    # Then the event is neither in PostgreSQL nor in Redis, and the next event takes the free number
    batch = events.EventBatch()
    with batch.atomic():
        batch.add(run, "execution.progress", {"progress": 6})
    batch.flush()
    assert outbox_rows(run.id) == [("1-0", "execution.created"), ("2-0", "execution.progress")] == \
        stream(redis, run.id)
    assert Execution.get_by_id(run.id).event_seq == 2


def test_concurrent_writers_of_one_run_get_gap_free_numbers_in_commit_order(run, redis, services):
    # When 8 threads emit 25 events each for the same run at once
    def emit(n):
        with database.connection_context():
            for i in range(25):
                batch = events.EventBatch()
                with batch.atomic():
                    batch.add(run, "execution.progress", {"thread": n, "i": i})
                batch.flush()

    threads = [threading.Thread(target=emit, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then the outbox numbers them 1..201 and the stream holds exactly those, in order, once each
    expected = [f"{n}-0" for n in range(1, 202)]
    assert [i for i, _ in outbox_rows(run.id)] == expected
    assert [i for i, _ in stream(redis, run.id)] == expected


def test_relaying_again_publishes_nothing_twice_and_a_gap_is_filled_from_postgresql(run, redis, services):
    log = services.events
    with database.atomic():
        numbers = outbox.append([events.build(run, "execution.progress", {"k": k}) for k in range(3)])
    assert numbers == [2, 3, 4]
    rows = {seq: (seq, str(run.id), str(run.organization_id), t, text)
            for seq, t, text in outbox.history(run.id, 0, 100)}
    org_key = events.org_stream_key(run.organization_id)
    org_before = redis.xlen(org_key)

    # When only the newest is relayed first (its predecessors' relay is late), then all of them twice
    log.relay([rows[4]])
    log.relay([rows[2], rows[3]])
    log.relay([rows[2], rows[3], rows[4]])

    # Then the run stream holds each once, in order, and so does the organization stream
    assert stream(redis, run.id) == outbox_rows(run.id)
    assert redis.xlen(org_key) - org_before == 3


def test_a_stream_lost_with_redis_data_is_rebuilt_from_the_outbox(run, redis, services):
    for k in range(5):
        services.events.publish([events.build(run, "execution.progress", {"k": k})])
    before = stream(redis, run.id)
    # Given Redis lost the run's stream
    redis.delete(events.stream_key(run.id))

    # When the clock relays leftovers
    published = services.events.relay_leftovers(3600)

    # Then the stream is back, identical, and relaying again does nothing
    assert published >= 6 and stream(redis, run.id) == before == outbox_rows(run.id)
    services.events.relay_leftovers(3600)
    assert stream(redis, run.id) == before


def test_the_clock_relays_the_leftovers_of_a_single_recent_run(run, redis, services):
    # Given the only run with events in the window, whose stream Redis lost
    services.events.publish([events.build(run, "execution.progress", {"k": 1})])
    before = stream(redis, run.id)
    redis.delete(events.stream_key(run.id))
    ages = database.execute_sql(  # each run's newest event, youngest first: ours, then the suite's others
        "SELECT execution_id, extract(epoch FROM now() - max(created_at))::float FROM execution_events"
        " GROUP BY execution_id ORDER BY 2 LIMIT 2").fetchall()
    assert ages[0][0] == run.id
    window = (ages[0][1] + ages[1][1]) / 2 if len(ages) > 1 else ages[0][1] + 1
    assert [r[0] for r in outbox.recent_runs(window)] == [run.id]

    # When the clock relays leftovers over that window
    published = services.events.relay_leftovers(window)

    # Then the run's stream is back (one run is the common case of a quiet system)
    assert published == 2 and stream(redis, run.id) == before


def test_a_stream_written_before_the_outbox_is_replaced_by_the_outbox_history(run, redis, services):
    key = events.stream_key(run.id)
    redis.delete(key)
    redis.xadd(key, {"type": "execution.created", "event": "{}"})  # a timestamp id, as before the outbox

    services.events.publish([events.build(run, "execution.progress", {"k": 1})])

    assert stream(redis, run.id) == outbox_rows(run.id) == [("1-0", "execution.created"),
                                                            ("2-0", "execution.progress")]


def test_a_batch_flushed_inside_a_transaction_waits_for_the_commit(run, redis, services):
    with database.atomic():
        batch = events.EventBatch()
        batch.add(run, "execution.progress", {"k": 1})
        batch.write()
        assert batch.flush() == 0
        assert stream(redis, run.id) == [("1-0", "execution.created")]
    # the next relay of the run sees the gap and publishes it first
    services.events.publish([events.build(run, "execution.progress", {"k": 2})])
    assert stream(redis, run.id) == outbox_rows(run.id)
