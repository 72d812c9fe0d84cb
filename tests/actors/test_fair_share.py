"""Fair share: one organization's burst holds at most ORG_MAX_INFLIGHT runs in flight."""
import dataclasses
import signal
import threading

import pytest
from werkzeug import Response

from storage.models import Execution
from tests import factories
from tests.support import free_port, wait_until

pytestmark = pytest.mark.e2e

LIMIT = 2


@pytest.fixture
def limited(services, monkeypatch):
    """ORG_MAX_INFLIGHT=2 in this process (which starts runs) and in the workers it spawns."""
    monkeypatch.setattr(services, "settings", dataclasses.replace(services.settings, org_max_inflight=LIMIT))
    return {"ORG_MAX_INFLIGHT": str(LIMIT)}


@pytest.fixture
def httpserver():
    """A receiver that serves calls concurrently (the plugin's default one is serial)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def gated_workflow(client, org, httpserver, path):
    gate, calls, lock = threading.Event(), {"now": 0, "max": 0, "total": 0}, threading.Lock()

    def slow(request):
        with lock:
            calls["now"] += 1
            calls["total"] += 1
            calls["max"] = max(calls["max"], calls["now"])
        gate.wait(30)
        with lock:
            calls["now"] -= 1
        return Response("ok")

    httpserver.expect_request(path).respond_with_handler(slow)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "call", "config": {"url": httpserver.url_for(path)}},
    ])
    return wf, gate, calls


def test_a_burst_waits_its_turn_and_a_quiet_org_goes_first(client, org, other_org, db, limited, spawn_worker,
                                                           httpserver):
    # Given a noisy org whose calls block, and ten of its runs started
    wf, gate, calls = gated_workflow(client, org, httpserver, "/noisy")
    spawn_worker(threads=8, env=limited)
    noisy = [factories.start(client, org, wf["id"], {"n": i}) for i in range(10)]
    wait_until(lambda: calls["now"] == LIMIT, 30, message="the noisy org fills its slots")

    # When a quiet org starts one run while the noisy ones are blocked
    quiet_wf = factories.workflow(client, other_org, [{"node_type": "webhook", "label": "deal"}])
    quiet = factories.start(client, other_org, quiet_wf["id"], {"q": 1})

    # Then the quiet run completes ahead of the burst, which is deferred, not dropped
    assert factories.wait_for_status(client, other_org, quiet, timeout=30)["status"] == "completed"
    assert sum(Execution.get_by_id(r).admitted_at is None for r in noisy) == 10 - LIMIT
    gate.set()
    states = [factories.wait_for_status(client, org, r, timeout=60)["status"] for r in noisy]
    assert states == ["completed"] * 10
    assert calls["total"] == 10 and calls["max"] <= LIMIT


def test_slots_held_by_a_killed_worker_come_back(client, org, db, limited, spawn_worker, httpserver):
    # Given a worker holding both slots of the org in blocked calls, and more runs deferred
    wf, gate, calls = gated_workflow(client, org, httpserver, "/held")
    first = spawn_worker(threads=8, env=limited)
    runs = [factories.start(client, org, wf["id"], {"n": i}) for i in range(5)]
    wait_until(lambda: calls["now"] == LIMIT, 30, message="both slots in use")

    # When that worker is killed with SIGKILL and another one takes over
    first.kill(signal.SIGKILL)
    first.proc.wait(10)
    gate.set()
    spawn_worker(threads=8, env=limited)

    # Then every run completes: the killed worker's slots were not leaked
    states = [factories.wait_for_status(client, org, r, timeout=90)["status"] for r in runs]
    assert states == ["completed"] * 5
    assert calls["max"] <= LIMIT


def test_with_no_limit_every_run_is_admitted_at_once(db, services, org, client, monkeypatch):
    from storage import admission

    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    monkeypatch.setattr(services, "settings", dataclasses.replace(services.settings, org_max_inflight=0))
    runs = [factories.start(client, org, wf["id"], {"n": i}) for i in range(3)]
    assert all(Execution.get_by_id(r).admitted_at is not None for r in runs)
    assert admission.release(org.id, 0) == []
