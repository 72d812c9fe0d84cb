"""Idempotent starts and outages: a retried POST starts one run, and a
database or Redis outage answers 503 with Retry-After, never a 500, and loses
no run."""
import threading
import uuid

import requests

from tests import factories
from tests.support import wait_until

NODES = [{"node_type": "webhook", "label": "deal"}]


def start_url(workflow_id):
    return f"/api/v1/workflows/{workflow_id}/executions"


def runs_of(client, org, workflow_id):
    resp = client.simulate_get(f"/api/v1/workflows/{workflow_id}/runs", headers=org.headers)
    assert resp.status_code == 200, resp.text
    return resp.json["runs"]


def test_a_repeated_idempotency_key_returns_the_run_it_started(client, org):
    wf = factories.workflow(client, org, NODES)
    headers = {**org.headers, "Idempotency-Key": "order-1"}
    body = {"trigger_data": {"name": "Ana"}}

    first = client.simulate_post(start_url(wf["id"]), json=body, headers=headers)
    again = client.simulate_post(start_url(wf["id"]), json=body, headers=headers)

    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["execution_id"] == first.json["execution_id"]
    assert [r["id"] for r in runs_of(client, org, wf["id"])] == [first.json["execution_id"]]

    reused = client.simulate_post(start_url(wf["id"]), json={"trigger_data": {"name": "Bia"}}, headers=headers)
    assert reused.status_code == 409 and reused.json["error"]["code"] == "idempotency.key_reused"
    too_long = client.simulate_post(start_url(wf["id"]), json=body, headers={**headers, "Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422 and too_long.json["error"]["code"] == "idempotency.invalid_key"
    other = client.simulate_post(start_url(wf["id"]), json=body, headers={**headers, "Idempotency-Key": "order-2"})
    assert other.status_code == 202 and other.json["execution_id"] != first.json["execution_id"]


def test_twenty_concurrent_posts_with_one_key_start_one_run(client, org, web_server):
    wf = factories.workflow(client, org, NODES)
    headers = {**org.headers, "Idempotency-Key": f"burst-{uuid.uuid4()}"}
    answers, barrier = [], threading.Barrier(20)

    def post():
        barrier.wait()
        answers.append(requests.post(web_server.base + start_url(wf["id"]), json={"trigger_data": {"n": 1}},
                                     headers=headers, timeout=30))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(a.status_code for a in answers) == [200] * 19 + [202]
    assert len({a.json()["execution_id"] for a in answers}) == 1
    assert len(runs_of(client, org, wf["id"])) == 1


def assert_unavailable(resp):
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "service_unavailable" and resp.headers["Retry-After"] == "5"


def test_a_database_outage_answers_503_with_retry_after(broken_web, org):
    base = broken_web("DATABASE_URL")
    wait_until(lambda: requests.get(f"{base}/api/v1/workflows", headers=org.headers, timeout=5).status_code == 503,
               30, message="web answering without its database")
    assert_unavailable(requests.get(f"{base}/api/v1/workflows", headers=org.headers, timeout=5))
    assert_unavailable(requests.post(f"{base}/api/v1/workflows", json={"name": "x", "nodes": NODES},
                                     headers=org.headers, timeout=5))


def test_a_redis_outage_loses_no_run_and_the_retried_post_finishes_it(client, org, worker, web_server, broken_web):
    wf = factories.workflow(client, org, NODES)
    headers = {**org.headers, "Idempotency-Key": f"during-outage-{uuid.uuid4()}"}
    body = {"trigger_data": {"name": "Ana"}}
    broken = broken_web("REDIS_URL")

    # The run is committed before its first hop is enqueued: Redis failing then is a 503, not a lost run
    assert_unavailable(requests.post(broken + start_url(wf["id"]), json=body, headers=headers, timeout=30))
    (queued,) = runs_of(client, org, wf["id"])
    assert queued["status"] == "queued"

    # The client retries with the same key once Redis is back: the same run, which now runs to the end
    retried = requests.post(web_server.base + start_url(wf["id"]), json=body, headers=headers, timeout=30)
    assert retried.status_code == 200 and retried.json()["execution_id"] == queued["id"]
    state = factories.wait_for_status(client, org, queued["id"])
    assert state["status"] == "completed"
    assert len(runs_of(client, org, wf["id"])) == 1
