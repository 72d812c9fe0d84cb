"""SSE against a real gunicorn (gevent) process, a real worker and Redis."""
import threading

import pytest
from werkzeug import Response

from storage import events
from tests import factories
from tests.support import SseClient, wait_until

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
    assert first.retry == 3000
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

    # Given twenty clients following the same run, plus five following another
    clients = [SseClient(stream_url(web_server.base, execution_id), org.headers) for _ in range(20)]
    for c in clients:
        c.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")

    # Then the web process holds one stream reader, whatever the number of clients
    (web_pid,) = web_server.children()
    names = [c.get("name", "") for c in redis.client_list()]
    from_web = [n for n in names if n.endswith(f"-{web_pid}")]
    assert sum(n.startswith("docg-sse-") for n in from_web) == 1, from_web
    assert len(from_web) <= 4, from_web

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


def test_a_client_behind_a_trimmed_stream_gets_a_resync_then_live_events(client, org, worker, web_server, gate, redis):
    opened, gate_url = gate
    execution_id = gated_run(client, org, gate_url)
    first = SseClient(stream_url(web_server.base, execution_id), org.headers)
    seen = first.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")
    first.close()
    key = events.stream_key(execution_id)
    redis.xtrim(key, maxlen=1, approximate=False)

    again = SseClient(stream_url(web_server.base, execution_id), {**org.headers, "Last-Event-ID": seen[2][0]})
    resync = again.next_event()
    assert resync[1] == "stream.resync" and resync[2]["reason"] == "events_trimmed"
    assert resync[2]["run"]["id"] == execution_id and resync[2]["run"]["status"] == "sending"
    opened.set()
    assert again.events_until(lambda e: False)[-1][1] == "execution.completed"


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
