"""SIGTERM drains a web process: SSE clients get a reconnect hint, the process stops accepting and exits."""
import pytest

from tests import factories
from tests.support import SseClient, free_port, reachable, start_web, wait_until
from tests.web.test_sse import gate, gated_run, stream_url  # noqa: F401 (gate is a fixture)

pytestmark = pytest.mark.e2e


def test_sigterm_tells_sse_clients_to_reconnect_and_nothing_is_lost(client, org, worker, web_server, gate, logs_dir):
    opened, gate_url = gate
    port = free_port()
    web = start_web(logs_dir, port)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: reachable("127.0.0.1", port), 30, message="draining web up")

    # Given an SSE client following a run that is held at a step
    execution_id = gated_run(client, org, gate_url)
    stream = SseClient(stream_url(base, execution_id), org.headers)
    seen = stream.events_until(lambda e: e[1] == "step.started" and e[2]["data"]["label"] == "gate")
    last_id = seen[-1][0]

    # When its web process gets SIGTERM
    web.terminate()

    # Then the client is told to reconnect (with a retry hint) and its stream ends
    try:
        until_hint = stream.events_until(lambda e: e[1] == "stream.reconnect")
    except Exception as ex:
        raise AssertionError(f"stream broke: {ex}\n{web.log()[-4000:]}") from ex
    _, event, data = until_hint[-1]
    assert event == "stream.reconnect" and data["reason"] == "server_shutdown"
    last_id = next((e[0] for e in reversed(until_hint) if e[0]), last_id)
    assert stream.retry == 1000
    assert stream.next_event() is None
    # and the process stops accepting and exits cleanly, without gunicorn cutting open requests at its
    # graceful timeout
    assert web.proc.wait(30) == 0, web.log()[-3000:]
    assert "graceful timeout" not in web.log()
    assert not reachable("127.0.0.1", port)

    # When the client reconnects to another web process with its Last-Event-ID, it misses nothing
    opened.set()
    factories.wait_for_status(client, org, execution_id)
    again = SseClient(stream_url(web_server.base, execution_id), {**org.headers, "Last-Event-ID": last_id})
    rest = again.events_until(lambda e: e[1] == "execution.completed")
    assert rest[0][0] > last_id and rest[-1][1] == "execution.completed"
