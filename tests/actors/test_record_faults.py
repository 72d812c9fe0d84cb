"""Fault injection with real processes: the record (PostgreSQL outbox, Redis stream, SSE replay) never lies.

Each test crashes or restarts something mid-run, lets the system recover
with its own mechanisms (redelivery, the relay's gap repair, the clock's
reaper and leftover relay), then checks every run: it ended, and its Redis
stream and its SSE replay from Last-Event-ID 0 and from several cut points
are exactly its PostgreSQL events, in order, with no gap and no duplicate.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import redis as redis_lib
import requests
from werkzeug import Response

from cli.watch import EventSource
from storage import embedded, events
from storage.db import connect_params
from tests import factories
from tests.support import ROOT, Process, free_port, http_ok, start_web, wait_for_web, wait_until

pytestmark = pytest.mark.e2e
TERMINAL = ("completed", "failed", "canceled")
CHAIN = [{"node_type": "webhook", "label": f"n{i}"} for i in range(6)]


def outbox(database_url, execution_id):
    """[(stream id, type)] of the run in that PostgreSQL."""
    conn = psycopg2.connect(**connect_params(database_url))
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT seq, event_type FROM execution_events WHERE execution_id = %s ORDER BY seq",
                           (execution_id,))
            return [(f"{seq}-0", event_type) for seq, event_type in cursor.fetchall()]
    finally:
        conn.close()


def assert_record_is_whole(base, headers, database_url, redis_url, execution_id):
    history = outbox(database_url, execution_id)
    assert [i for i, _ in history] == [f"{n}-0" for n in range(1, len(history) + 1)], "gap or duplicate in the outbox"
    assert history[-1][1] in events.TERMINAL_EVENTS
    client = redis_lib.Redis.from_url(redis_url)
    stream = [(i.decode(), f[b"type"].decode()) for i, f in client.xrange(events.stream_key(execution_id))]
    assert stream == history, f"Redis stream of {execution_id} differs from PostgreSQL"

    def replay(cut):
        source = EventSource(f"{base}/api/v1/sse/executions/{execution_id}/stream", headers,
                             last_event_id=f"{cut}-0")
        return cut, [(i, t) for i, t, _ in source.events()]

    # NOTE: in parallel: each browser-like replay ends with its reconnect's 204, after the server's 3 s retry
    with ThreadPoolExecutor(4) as pool:
        for cut, replayed in pool.map(replay, (0, 1, len(history) // 2, len(history) - 1)):
            assert replayed == history[cut:], f"replay of {execution_id} from {cut}"


def run_clock(env, *jobs):
    """Run clock jobs once, in a fresh process on the given servers (what the periodiq clock does each minute)."""
    code = "from actors import scheduled\nfrom storage.db import connection\nwith connection():\n" + "".join(
        f"    print(scheduled.{job})\n" for job in jobs)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def status_of(base, headers, execution_id):
    try:
        return requests.get(f"{base}/api/v1/executions/{execution_id}", headers=headers, timeout=5).json()["status"]
    except (requests.RequestException, KeyError, ValueError):
        return None


@pytest.mark.usefixtures("quiet_pipeline")
def test_kill_9_after_the_commit_before_the_publish_loses_no_event(client, org, db, spawn_worker, web_server, redis):
    # Given a worker that dies right after a step's commit, before its events reach Redis
    wf = factories.workflow(client, org, CHAIN)
    dying = spawn_worker(env={"DOCG_FAULT": "after_commit"})
    execution_id = factories.start(client, org, wf["id"], {"x": 1})
    wait_until(lambda: not dying.children() or dying.proc.poll() is not None, 60, message="armed worker died")
    dying.kill(signal.SIGKILL)
    dying.proc.wait(10)
    committed = factories.outbox_events(execution_id)
    assert committed[-1][1] == "execution.progress"  # the step's events are committed...
    assert factories.redis_events(redis, execution_id) == committed[:len(factories.redis_events(redis, execution_id))]
    assert len(factories.redis_events(redis, execution_id)) < len(committed)  # ...but were never published

    # When another worker takes the redelivered hop
    spawn_worker()

    # Then the run ends and its record is whole everywhere
    assert factories.wait_for_status(client, org, execution_id, timeout=90)["status"] == "completed"
    assert_record_is_whole(web_server.base, org.headers, os.environ["DATABASE_URL"],
                           os.environ["REDIS_URL"], execution_id)


@pytest.fixture
def private_redis(logs_dir):
    """A redis-server of this test only, on a free TCP port, that keeps nothing across restarts."""
    port = free_port()
    server = {"process": None}
    data = tempfile.mkdtemp(prefix="docg-redis-loss-")

    def start():
        process = Process("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                    "--appendonly", "no", "--dir", data], logs_dir).start()
        wait_until(lambda: _pings(port), 20, message="private redis up")
        server["process"] = process

    def lose_everything():
        server["process"].kill(signal.SIGKILL)
        server["process"].proc.wait(10)
        start()

    start()
    yield f"redis://127.0.0.1:{port}/0", lose_everything
    server["process"].kill(signal.SIGKILL)


def _pings(port):
    try:
        return redis_lib.Redis(port=port, socket_timeout=1).ping()
    except redis_lib.RedisError:
        return False


@pytest.fixture
def slow_receiver(httpserver):
    """The URL of a webhook receiver that takes 300 ms to answer.

    A burst whose runs each wait on it lasts long enough, on however fast or
    busy a machine, that when its first run is seen completed its last runs
    are still in flight (8 worker threads: the last four start a round later).
    """
    def answer(request):
        time.sleep(0.3)  # the receiver's own latency, not the test waiting
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(answer)
    return httpserver.url_for("/slow")


def burst(base, headers, count, receiver):
    nodes = [*CHAIN[:3], {"node_type": "outgoing-webhook", "label": "slow", "config": {"url": receiver}},
             *CHAIN[3:]]
    wf = requests.post(f"{base}/api/v1/workflows", headers=headers, timeout=10,
                       json={"name": "burst", "nodes": nodes}).json()
    return [requests.post(f"{base}/api/v1/workflows/{wf['id']}/executions", headers=headers, timeout=10,
                          json={"trigger_data": {"n": n}}).json()["execution_id"] for n in range(count)]


def recover(base, headers, env, runs):
    """Let the clock's reaper re-drive what lost its messages until every run ended."""
    for _ in range(6):
        if all(status_of(base, headers, r) in TERMINAL for r in runs):
            return
        done = run_clock(env, "redrive_stuck(older_than=0)")
        assert done.returncode == 0, done.stderr[-2000:]
        try:
            wait_until(lambda: all(status_of(base, headers, r) in TERMINAL for r in runs), 20,
                       message="every run ended")
            return
        except AssertionError:
            continue
    raise AssertionError(f"runs not ended: {[(r, status_of(base, headers, r)) for r in runs]}")


@pytest.mark.usefixtures("quiet_pipeline")
@pytest.mark.timeout(400)
def test_a_redis_restart_that_loses_its_data_loses_no_event(org, db, logs_dir, spawn_worker, private_redis,
                                                              slow_receiver):
    # Given web and worker processes on a private Redis, and a burst of runs
    redis_url, lose_everything = private_redis
    port = free_port()
    env = {"REDIS_URL": redis_url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "BROKER_HEARTBEAT_MS": "3000",
           "DB_POOL_SIZE": "10"}
    web = start_web(logs_dir, port, env=env, wait=False)
    spawn_worker(env=env)
    base, headers = f"http://127.0.0.1:{port}", org.headers
    try:
        wait_for_web(web)
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="web up")
        runs = burst(base, headers, 24, slow_receiver)
        wait_until(lambda: status_of(base, headers, runs[0]) == "completed", 60, message="part of the burst done")

        # When Redis dies mid-burst and comes back empty (streams, queues, everything gone)
        in_flight = [r for r in runs[-4:] if status_of(base, headers, r) not in TERMINAL]
        lose_everything()
        assert in_flight, "the burst ended before Redis was lost"

        # Then every run ends (the reaper re-drives the runs whose messages were lost)
        recover(base, headers, env, runs)
        # and once the clock relayed what Redis lost, every record is whole, also over SSE
        relayed = run_clock(env, "relay_events()")
        assert relayed.returncode == 0, relayed.stderr[-2000:]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda r: assert_record_is_whole(base, headers, os.environ["DATABASE_URL"],
                                                           redis_url, r), runs))
    finally:
        web.stop()


@pytest.mark.timeout(400)
def test_a_postgresql_restart_mid_burst_loses_no_event_and_every_run_ends(logs_dir, spawn_worker, slow_receiver):
    # Given web and worker processes on a PostgreSQL of this test only, and a burst of runs
    var = Path(tempfile.mkdtemp(prefix="docg-pg-restart-", dir="/tmp"))
    try:
        database_url = embedded.ensure_postgres(var)
    except Exception as ex:  # noqa: BLE001 - the machine cannot run an embedded PostgreSQL
        pytest.skip(f"embedded PostgreSQL unavailable: {ex}")
    port = free_port()
    env = {"DATABASE_URL": database_url, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "HOP_MAX_RETRIES": "8",
           "DB_POOL_SIZE": "10"}
    cli = [sys.executable, "-m", "cli"]
    run_env = {**os.environ, **env}
    assert subprocess.run([*cli, "migrate"], cwd=ROOT, env=run_env, capture_output=True, timeout=120).returncode == 0
    made = subprocess.run([*cli, "org", "create", "burst", "--json"], cwd=ROOT, env=run_env, capture_output=True,
                          text=True, timeout=60)
    organization = json.loads(made.stdout)
    headers = {"Authorization": f"Bearer {organization['token']}", "X-Organization-ID": organization["organization_id"]}
    web = start_web(logs_dir, port, env=env, wait=False)
    spawn_worker(env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_web(web)
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="web up")
        runs = burst(base, headers, 24, slow_receiver)
        wait_until(lambda: status_of(base, headers, runs[0]) == "completed", 60, message="part of the burst done")

        # When PostgreSQL restarts mid-burst
        in_flight = [r for r in runs[-4:] if status_of(base, headers, r) not in TERMINAL]
        embedded.stop(var)
        assert in_flight, "the burst ended before PostgreSQL restarted"
        assert embedded.ensure_postgres(var) == database_url

        # Then every run ends, and each record is whole in PostgreSQL, Redis and over SSE
        recover(base, headers, env, runs)
        relayed = run_clock(env, "relay_events()")
        assert relayed.returncode == 0, relayed.stderr[-2000:]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda r: assert_record_is_whole(base, headers, database_url,
                                                           os.environ["REDIS_URL"], r), runs))
    finally:
        web.stop()
        embedded.stop(var)
