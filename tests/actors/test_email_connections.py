"""A real worker sends the emails of many runs over one kept SMTP connection per thread."""
import pytest

from tests import factories
from tests.smtp_kit import CountingServer
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def test_runs_one_after_another_share_the_worker_threads_smtp_connection(client, org, db, spawn_worker):
    # Given a one-thread worker sending to an SMTP server that counts its connections
    box = CountingServer().start()
    try:
        worker = spawn_worker(threads=1, env={"SMTP_URL": box.url})
        to = f"kept+{org.id[:8]}@acme.example"
        wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                              {"node_type": "email", "label": "send", "config": {"to": [to]}}])

        # When five runs go through it, one after another
        for n in range(5):
            execution_id = factories.start(client, org, wf["id"], {"n": n})
            assert factories.wait_for_status(client, org, execution_id, timeout=60)["status"] == "completed"

        # Then five emails arrived over two connections: the first preflight's probe, and one kept for every send
        assert len(box.received) == 5
        assert box.opened == 2, f"{box.opened} SMTP connections for 5 runs"

        # And stopping the worker ends the kept session with QUIT (the probe sent the first)
        worker.stop()
        wait_until(lambda: not box.live, 10, message="the worker closed its SMTP connection")
        assert box.quits == 2
    finally:
        box.controller.stop()
