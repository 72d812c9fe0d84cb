"""An idle system with open streams logs nothing alarming (no reader tracebacks)."""
import os
import threading
import time

import pytest

from cli import sample
from tests import factories
from tests.support import SseClient, free_port, http_ok, start_web, wait_for_web, wait_until
from web.sse import reader_timeout

pytestmark = pytest.mark.e2e

#: the hub's quiet XREAD, short here so that the idle stretch holds many of them
BLOCK_MS = 1000
#: NOTE: a dozen quiet hub reads, and longer than the reader's socket timeout (its block plus a margin): a
#: reader that times out or fails on a quiet stream does so within it (it used to take the first block).
IDLE_SECONDS = reader_timeout(BLOCK_MS) + 1


def test_open_quiet_streams_log_no_traceback(client, org, worker, mailbox, logs_dir):
    # Given a fresh web process (its own log) and a run that waits for an approver who does not answer
    port = free_port()
    web = start_web(logs_dir, port, env={"SSE_HUB_BLOCK_MS": str(BLOCK_MS)}, wait=False)
    base = f"http://127.0.0.1:{port}"
    try:
        template_id = factories.template(client, org)
        wf = factories.workflow(client, org, [
            {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
            {"node_type": "review-documents", "label": "review",
             "config": {"approvers": [f"idle+{org.id[:8]}@acme.example"]}},
        ])
        execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
        factories.wait_for_status(client, org, execution_id, "paused")
        wait_for_web(web)
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="web health")

        # When a run stream and the organization feed stay open and quiet for many hub reads
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
        heartbeat = float(os.environ["SSE_HEARTBEAT_SECONDS"])

        # Then both kept getting heartbeats, and the web log has no traceback and no reader failure
        assert all(b >= IDLE_SECONDS / heartbeat // 2 for b in beats), beats
        text = web.log()
        assert "Traceback" not in text and "hub reader failed" not in text, text[-3000:]
        for stream in streams:
            stream.close()
    finally:
        web.stop()
