"""Streams that end: an EventSource (reconnect with its last id, stop on 204) against ended runs."""
import time

import pytest

from cli import client as cli_client
from cli import sample
from cli.watch import EventSource
from storage import events
from tests import factories

pytestmark = pytest.mark.e2e


def stream_url(base, execution_id):
    return f"{base}/api/v1/sse/executions/{execution_id}/stream"


def ended_run(client, org):
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "webhook", "label": "second"},
        {"node_type": "webhook", "label": "third"},
    ])
    execution_id = factories.start(client, org, wf["id"], {"x": 1})
    factories.wait_for_status(client, org, execution_id)
    return execution_id


def browse(base, org, execution_id, last_event_id=None):
    """Follow the stream as a browser would until it stops; return (events, connections, seconds)."""
    source = EventSource(stream_url(base, execution_id), org.headers, last_event_id=last_event_id)
    started = time.monotonic()
    got = [(i, t) for i, t, _ in source.events()]
    return got, source.connections, time.monotonic() - started


def test_an_ended_run_streams_what_is_unseen_then_stops_its_browser_with_204(client, org, worker, web_server, redis):
    execution_id = ended_run(client, org)
    history = factories.outbox_events(execution_id)
    assert history == factories.redis_events(redis, execution_id) and history[-1][1] == "execution.completed"

    # When a browser opens it from the start, and from several cut points
    for cut in (None, "0", history[0][0], history[len(history) // 2][0], history[-2][0]):
        got, connections, seconds = browse(web_server.base, org, execution_id, cut)
        # Then it gets exactly the events after the cut, in order, and stops on the 204 of its reconnect
        after = 0 if cut is None else int(cut.partition("-")[0])
        assert got == history[after:]
        assert connections == 2 and seconds < 10

    # and a reconnect at the terminal event gets 204 at once
    got, connections, seconds = browse(web_server.base, org, execution_id, history[-1][0])
    assert got == [] and connections == 1 and seconds < 5


def test_trimmed_or_lost_redis_streams_replay_from_postgresql_and_still_stop(client, org, worker, web_server, redis):
    execution_id = ended_run(client, org)
    history = factories.outbox_events(execution_id)
    key = events.stream_key(execution_id)

    # Given Redis trimmed the stream to its last entry
    redis.xtrim(key, maxlen=1, approximate=False)
    got, connections, seconds = browse(web_server.base, org, execution_id, history[1][0])
    assert got == history[2:] and connections == 2 and seconds < 10

    # Given Redis lost the stream altogether
    redis.delete(key)
    for cut in (None, history[3][0]):
        got, connections, seconds = browse(web_server.base, org, execution_id, cut)
        assert got == history[0 if cut is None else 4:] and connections == 2 and seconds < 10


def test_a_pruned_history_sends_a_terminal_resync_then_stops(client, org, worker, web_server, db):
    execution_id = ended_run(client, org)
    history = factories.outbox_events(execution_id)
    # Given retention pruned the run's history
    db.execute_sql("DELETE FROM execution_events WHERE execution_id = %s AND seq < %s",
                   (execution_id, len(history)))

    source = EventSource(stream_url(web_server.base, execution_id), org.headers, last_event_id="1-0")
    got = list(source.events())

    # Then the one event is a resync that says the run ended, with its final state, and the browser stops
    assert [t for _, t, _ in got] == ["stream.resync"]
    assert got[0][2]["terminal"] is True and got[0][2]["run"]["status"] == "completed"
    assert source.connections == 2

    # and `docg tail` from that point prints the resync (no KeyError) and exits 0 for a completed run
    lines = []
    state = cli_client.follow(web_server.base, org.headers, execution_id, last_event_id="1-0", out=lines.append)
    assert state["status"] == "completed" and "history pruned" in lines[0]


def test_events_caused_by_an_expiry_come_before_the_terminal_event(client, org, worker, mailbox):
    approver = f"ana+{org.id[:8]}@acme.example"
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "review-documents", "label": "review",
         "config": {"approvers": [approver], "timeout_hours": 1 / 3600, "on_timeout": "fail"}},
    ])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    assert factories.wait_for_status(client, org, execution_id, timeout=30)["status"] == "failed"

    types = [t for _, t in factories.outbox_events(execution_id)]
    assert types[-4:] == ["approval.decided", "step.failed", "execution.status_changed", "execution.failed"]


def test_docg_tail_prints_the_error_and_what_to_do_and_exits_non_zero(client, org, worker, web_server, monkeypatch,
                                                                        capsys):
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "hook", "config": {"url": "not a url"}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"x": 1})
    state = factories.wait_for_status(client, org, execution_id, ("failed", "needs_review"))
    monkeypatch.setenv("DOCG_URL", web_server.base)
    monkeypatch.setenv("DOCG_TOKEN", org.headers["Authorization"].split()[1])
    monkeypatch.setenv("DOCG_ORG", org.id)

    code = cli_client.tail(execution_id, last_event_id="0")

    out = capsys.readouterr().out
    assert code == 1 and f"run {execution_id}: {state['status']}" in out
    assert state["last_error_human"] and state["last_error_human"] in out
    for action in state["recommended_actions"]:
        assert action["label"] in out
