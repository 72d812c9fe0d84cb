"""An idle system with open streams logs nothing alarming (no reader tracebacks)."""
import threading
import time

import pytest

from cli import sample
from tests import factories
from tests.support import SseClient, free_port, http_ok, start_web, wait_until

pytestmark = pytest.mark.e2e

IDLE_SECONDS = 60


def test_open_quiet_streams_for_a_minute_log_no_traceback(client, org, worker, mailbox, logs_dir):
    # Given a fresh web process (its own log) and a run that waits for an approver who does not answer
    port = free_port()
    web = start_web(logs_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="web health")
        template_id = factories.template(client, org)
        wf = factories.workflow(client, org, [
            {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
            {"node_type": "review-documents", "label": "review",
             "config": {"approvers": [f"idle+{org.id[:8]}@acme.example"]}},
        ])
        execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
        factories.wait_for_status(client, org, execution_id, "paused")

        # When a run stream and the organization feed stay open and quiet for a minute
        streams = [SseClient(f"{base}/api/v1/sse/executions/{execution_id}/stream", org.headers, timeout=20),
                   SseClient(f"{base}/api/v1/sse/organizations/stream", org.headers, timeout=20)]
        beats = [0, 0]
        stop = time.monotonic() + IDLE_SECONDS

        def read(n):
            while time.monotonic() < stop and streams[n].next_comment() is not None:
                beats[n] += 1

        readers = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(2)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(IDLE_SECONDS + 20)

        # Then both kept getting heartbeats, and the web log has no traceback and no reader failure
        assert all(b >= IDLE_SECONDS // 2 for b in beats), beats
        text = web.log()
        assert "Traceback" not in text and "hub reader failed" not in text, text[-3000:]
        for stream in streams:
            stream.close()
    finally:
        web.stop()
