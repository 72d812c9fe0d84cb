"""SSE against a real gunicorn (gevent) process, a real worker and Redis."""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug import Response

from storage import events
from tests import factories
from tests.support import SseClient, free_port, http_ok, start_web, wait_for_web, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def gate(httpserver):
    """An outgoing-webhook target that holds the run until the test opens it."""
    opened = threading.Event()

    def hold(request):
        opened.wait(20)
        return Response("ok")

    httpserver.expect_request("/gate").respond_with_handler(hold)
    yield opened, httpserver.url_for("/gate")
    opened.set()


def gated_run(client, org, gate_url):
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "gate", "config": {"url": gate_url}},
        {"node_type": "webhook", "label": "after"},
    ])
    return factories.start(client, org, wf["id"], {"x": 1})


def stream_url(base, execution_id):
    return f"{base}/api/v1/sse/executions/{execution_id}/stream"


def test_reconnect_with_last_event_id_gets_exactly_the_missed_events(client, org, worker, web_server, gate, redis):
    opened, gate_url = gate
    execution_id = gated_run(client, org, gate_url)

    # Given a client that saw the run up to the gated step, then disconnected
    first = SseClient(stream_url(web_server.base, execution_id), org.headers)
    seen = first.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")
    first.close()
    assert first.retry == int(os.environ["SSE_RETRY_MS"])  # the suite's short SSE_RETRY_MS (tests/conftest.py)
    assert first.response.headers["Content-Type"].startswith("text/event-stream")
    assert first.response.headers["X-Accel-Buffering"] == "no"
    last_id = seen[-1][0]

    # When the run finishes while it is away, and it reconnects with Last-Event-ID
    opened.set()
    factories.wait_for_status(client, org, execution_id)
    again = SseClient(stream_url(web_server.base, execution_id), {**org.headers, "Last-Event-ID": last_id})
    replayed = again.events_until(lambda e: False)

    # Then it receives exactly the events after last_id, in order, ending at completion
    missed = redis.xrange(events.stream_key(execution_id), min=f"({last_id}", max="+")
    assert [(e[0], e[1]) for e in replayed] == [(i.decode(), f[b"type"].decode()) for i, f in missed]
    assert replayed[-1][1] == "execution.completed"
    assert [e[0] for e in seen] + [e[0] for e in replayed] == \
        [i.decode() for i, _ in redis.xrange(events.stream_key(execution_id))]
    assert all(e[2]["schema_version"] == 1 and e[2]["execution_id"] == execution_id for e in replayed)

    # and the query parameter works the same for browsers
    by_query = SseClient(f"{stream_url(web_server.base, execution_id)}?last_event_id={last_id}", org.headers)
    assert [e[0] for e in by_query.events_until(lambda e: False)] == [e[0] for e in replayed]


def test_many_clients_share_one_redis_reader_and_get_heartbeats(client, org, worker, web_server, gate, redis):
    opened, gate_url = gate
    execution_id = gated_run(client, org, gate_url)
    wait_until(lambda: factories.steps(client, org, execution_id)[1]["status"] == "running", 30,
               message="gated step running")

    (web_pid,) = web_server.children()

    def from_web():
        return [c.get("name", "") for c in redis.client_list() if c.get("name", "").endswith(f"-{web_pid}")]

    def pooled():
        return sum(n.startswith("docg-app-") for n in from_web())

    pooled_before = pooled()

    # Given twenty clients following the same run
    clients = [SseClient(stream_url(web_server.base, execution_id), org.headers) for _ in range(20)]
    for c in clients:
        c.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")

    # Then the web process holds one stream reader, whatever the number of clients
    assert sum(n.startswith("docg-sse-") for n in from_web()) == 1, from_web()
    # and open streams hold no pooled connection each: the twenty connecting one after the other add at most
    # the three the pool may open for requests that overlap (the web server is the session's, so its pool
    # already holds what earlier tests' requests used at once; the broker's own pool is not counted either,
    # streams never use it)
    assert pooled() - pooled_before <= 3, (pooled_before, from_web())

    # and idle clients get heartbeat comments while the run waits
    assert clients[0].next_comment() == ": heartbeat"

    # When the run goes on, every client receives the rest live and the stream closes
    opened.set()
    for c in clients:
        rest = c.events_until(lambda e: False)
        assert rest[-1][1] == "execution.completed"


def test_stream_refuses_other_organizations_and_bad_ids(client, org, other_org, web_server, worker):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution_id = factories.start(client, org, wf["id"])
    import requests

    other = requests.get(stream_url(web_server.base, execution_id), headers=other_org.headers, timeout=5)
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    bad = requests.get(stream_url(web_server.base, execution_id), headers={**org.headers, "Last-Event-ID": "nope"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_last_event_id"
    anonymous = requests.get(stream_url(web_server.base, execution_id), timeout=5)
    assert anonymous.status_code == 401


def test_a_stream_token_lets_a_browser_follow_one_run(client, org, worker, web_server):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    execution_id = factories.start(client, org, wf["id"])
    other_id = factories.start(client, org, wf["id"])
    token = client.simulate_post(f"/api/v1/executions/{execution_id}/stream-token", headers=org.headers).json["token"]
    import requests

    events_ = SseClient(f"{stream_url(web_server.base, execution_id)}?token={token}").events_until(lambda e: False)
    assert events_[-1][1] == "execution.completed"
    assert requests.get(f"{web_server.base}/api/v1/executions/{execution_id}?token={token}", timeout=5).status_code == 200
    for forbidden in (f"{stream_url(web_server.base, other_id)}?token={token}",
                      f"{stream_url(web_server.base, execution_id)}?token={token}x",
                      f"{web_server.base}/api/v1/workflows?token={token}"):
        assert requests.get(forbidden, timeout=5).status_code == 401


def test_a_client_behind_a_trimmed_stream_replays_from_postgresql_then_gets_live_events(
        client, org, worker, web_server, gate, redis):
    opened, gate_url = gate
    execution_id = gated_run(client, org, gate_url)
    first = SseClient(stream_url(web_server.base, execution_id), org.headers)
    seen = first.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")
    first.close()
    key = events.stream_key(execution_id)
    redis.xtrim(key, maxlen=1, approximate=False)

    # NOTE: before the outbox this answered a stream.resync (events_trimmed); the history now comes from PostgreSQL
    again = SseClient(stream_url(web_server.base, execution_id), {**org.headers, "Last-Event-ID": seen[2][0]})
    replayed = [again.next_event() for _ in seen[3:]]
    assert [(e[0], e[1]) for e in replayed] == [(e[0], e[1]) for e in seen[3:]]
    opened.set()
    rest = again.events_until(lambda e: False)
    assert rest[-1][1] == "execution.completed"
    assert [e[0] for e in seen + rest] == [f"{n}-0" for n in range(1, len(seen) + len(rest) + 1)]


def test_the_organization_stream_carries_every_run(client, org, other_org, worker, web_server):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    feed = SseClient(f"{web_server.base}/api/v1/sse/organizations/stream", org.headers)
    assert feed.next_comment() == ": heartbeat"
    runs = {factories.start(client, org, wf["id"]) for _ in range(2)}
    other_wf = factories.workflow(client, other_org, [{"node_type": "webhook", "label": "x"}])
    factories.start(client, other_org, other_wf["id"])

    completed = set()
    while completed != runs:
        event_id, event_type, event = feed.next_event()
        assert event["organization_id"] == org.id
        if event_type == "execution.completed":
            completed.add(event["execution_id"])
    feed.close()


def publish_progress(services, db, execution_id, organization_id, seqs, pad=0):
    """Append `execution.progress` events with the real EventLog; return their stream ids."""
    from storage import executions

    row = executions.get(execution_id, organization_id)
    return [services.events.publish([events.build(row, "execution.progress", {"seq": s, "pad": "x" * pad})])[0]
            for s in seqs]


def test_a_client_rejoining_mid_run_replays_what_it_missed_while_live_events_keep_coming(
        client, org, worker, web_server, gate, redis, services, db):
    opened, gate_url = gate
    execution_id = gated_run(client, org, gate_url)
    key = events.stream_key(execution_id)

    # Given a watcher following the run live, and a client that saw it up to the gated step, then left
    watcher = SseClient(stream_url(web_server.base, execution_id), org.headers)
    watched_to = watcher.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")[-1][0]
    first = SseClient(stream_url(web_server.base, execution_id), org.headers)
    last_id = first.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")[-1][0]
    first.close()
    # and, while it was away, more history than the sockets between it and the server can hold (~12 MB)
    missed = publish_progress(services, db, execution_id, org.id, range(400), pad=30_000)

    # When it reconnects with Last-Event-ID and, before it reads a byte of its replay, live events arrive
    again = SseClient(stream_url(web_server.base, execution_id), {**org.headers, "Last-Event-ID": last_id})
    live = publish_progress(services, db, execution_id, org.id, range(400, 430))
    received = again.events_until(lambda e: e[2]["data"].get("seq") == 400)
    # and more keep coming while it reads the rest, until the run completes
    live += publish_progress(services, db, execution_id, org.id, range(430, 460))
    opened.set()
    received += again.events_until(lambda e: False)

    # Then it got exactly the events after last_id, once each, in stream order: replay, then live
    ids = [e[0] for e in received]
    assert ids == [i.decode() for i, _ in redis.xrange(key, min=f"({last_id}", max="+")]
    assert len(set(ids)) == len(ids) and set(missed) | set(live) <= set(ids)
    assert received[-1][1] == "execution.completed"
    # and the watcher, on the same hub, got everything live exactly once too
    watched = watcher.events_until(lambda e: False)
    assert [e[0] for e in watched] == [i.decode() for i, _ in redis.xrange(key, min=f"({watched_to}", max="+")]


@pytest.fixture(scope="module")
def small_web(services, logs_dir):
    """A second real gunicorn with 12 connection slots (so 10 SSE streams) and 2 pooled Redis connections.

    NOTE: 3 PostgreSQL connections too: the server is shared, and its streams hold none once open.
    """
    port = free_port()
    process = start_web(logs_dir, port, env={"WEB_CONNECTIONS": "12", "REDIS_POOL_SIZE": "2", "DB_POOL_SIZE": "3"})
    process.base = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(f"{process.base}/health"), 60, message="small web health")
    yield process
    process.stop()


def gauge(base, name):
    text = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {os.environ['ADMIN_TOKEN']}"},
                        timeout=5).text
    return int(float(next(line for line in text.splitlines() if line.startswith(f"{name} ")).split()[1]))


def test_many_clients_replaying_at_once_share_a_bounded_redis_pool(
        client, org, worker, small_web, gate, redis, services, db):
    opened, gate_url = gate
    execution_id = gated_run(client, org, gate_url)
    wait_until(lambda: factories.steps(client, org, execution_id)[1]["status"] == "running", 30,
               message="gated step running")
    history = publish_progress(services, db, execution_id, org.id, range(600), pad=2_000)

    # When ten viewers open the run at once, each replaying its whole history
    def view(_):
        viewer = SseClient(stream_url(small_web.base, execution_id), org.headers)
        return viewer, viewer.events_until(lambda e: e[0] == history[-1])

    with ThreadPoolExecutor(10) as pool:
        viewers = list(pool.map(view, range(10)))

    # Then every one got all of it, though the web process held at most 2 pooled connections and its reader
    key_ids = [i.decode() for i, _ in redis.xrange(events.stream_key(execution_id), max=history[-1])]
    assert [v.response.status_code for v, _ in viewers] == [200] * 10
    assert all([e[0] for e in replayed] == key_ids for _, replayed in viewers)
    (web_pid,) = small_web.children()
    names = [c.get("name", "") for c in redis.client_list() if c.get("name", "").endswith(f"-{web_pid}")]
    assert sum(n.startswith("docg-app-") for n in names) <= 2 and sum(n.startswith("docg-sse-") for n in names) == 1, \
        names

    # and live events still reach them all
    opened.set()
    assert all(viewer.events_until(lambda e: False)[-1][1] == "execution.completed" for viewer, _ in viewers)


def test_past_its_stream_limit_the_web_process_answers_503_and_still_serves_health(org, small_web):
    feed_url = f"{small_web.base}/api/v1/sse/organizations/stream"
    wait_until(lambda: gauge(small_web.base, "docg_sse_streams") == 0, 30, message="earlier streams closed")
    assert gauge(small_web.base, "docg_sse_stream_limit") == 10

    # Given as many open streams as the process admits
    feeds = [SseClient(feed_url, org.headers) for _ in range(10)]
    assert all(f.response.status_code == 200 for f in feeds)

    # When one more client asks for a stream
    refused = requests.get(feed_url, headers=org.headers, timeout=5)

    # Then it gets a JSON 503 telling it when to come back
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "too_many_streams"
    assert set(refused.json()["error"]) >= {"code", "message_human", "message_tech"}
    # and /health and the API still answer
    assert requests.get(f"{small_web.base}/health", timeout=5).json()["status"] == "ok"
    assert requests.get(f"{small_web.base}/api/v1/workflows", headers=org.headers, timeout=5).status_code == 200

    # When a stream closes, its place is given to the next client
    feeds.pop().close()
    wait_until(lambda: gauge(small_web.base, "docg_sse_streams") == 9, 30, message="closed stream released")
    feeds.append(SseClient(feed_url, org.headers))
    assert feeds[-1].response.status_code == 200 and feeds[-1].next_comment() == ": heartbeat"
    for feed in feeds:
        feed.close()


def test_a_client_too_slow_for_its_buffer_is_cut_off_and_its_reconnect_replays_the_rest(
        client, org, worker, gate, redis, services, db, logs_dir):
    # Given a web process that buffers at most 20 live events for a client
    port = free_port()
    tiny = start_web(logs_dir, port, env={"SSE_CLIENT_BUFFER": "20", "DB_POOL_SIZE": "3"}, wait=False)
    base = f"http://127.0.0.1:{port}"
    try:
        opened, gate_url = gate
        execution_id = gated_run(client, org, gate_url)
        wait_for_web(tiny)
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="tiny-buffer web health")
        key = events.stream_key(execution_id)
        slow = SseClient(stream_url(base, execution_id), org.headers)
        slow.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")

        # When, while it reads nothing, far more arrives than its sockets and its buffer hold (~42 MB)
        published = publish_progress(services, db, execution_id, org.id, range(700), pad=60_000)

        # Then its stream ends early, after an unbroken prefix of the events (no silent gap)
        got = slow.events_until(lambda e: False)
        ids = [i.decode() for i, _ in redis.xrange(key)]
        seen = [e[0] for e in got]
        assert seen and seen[-1] != published[-1] and got[-1][1] == "execution.progress"
        start = ids.index(seen[0])
        assert seen == ids[start:start + len(seen)]

        # and reconnecting with its Last-Event-ID replays exactly the rest, then follows the run to the end
        again = SseClient(stream_url(base, execution_id), {**org.headers, "Last-Event-ID": seen[-1]})
        opened.set()
        rest = again.events_until(lambda e: False)
        assert [e[0] for e in rest] == [i.decode() for i, _ in redis.xrange(key, min=f"({seen[-1]}", max="+")]
        assert rest[-1][1] == "execution.completed" and set(published) <= set(seen) | {e[0] for e in rest}
    finally:
        tiny.stop()


# (last: a test without the worker before the others would stop the shared one; see tests/conftest.py)
def test_streams_ask_browsers_to_reconnect_after_3_s_by_default():
    import settings
    from web.sse import event_stream, run_stream

    assert settings.load({}).sse_retry_ms == 3000
    assert next(run_stream(None, "k", 0, "0-0", None)) == next(event_stream(None, None, "k", "0-0", "0-0")) \
        == b"retry: 3000\n\n"
