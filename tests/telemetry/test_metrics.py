"""Every process serves Prometheus metrics: web, a worker group and the clock.

Real processes: `dramatiq actors` (two worker processes behind one port),
`periodiq actors` and gunicorn; each is scraped over HTTP.
"""
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.support import Process, free_port, reachable, wait_until

pytestmark = pytest.mark.e2e

WORKER_METRICS = ("docg_hops_total", "docg_hop_duration_seconds", "docg_message_retries_total",
                  "docg_dead_letters_total", "docg_reaper_redrives_total", "docg_messages_deferred_total")
CLOCK_METRICS = ("docg_executions", "docg_waits_due", "docg_queue_messages", "docg_queue_oldest_message_age_seconds",
                 "docg_queue_delayed_messages", "docg_dead_letter_messages", "docg_outbox_lag_seconds",
                 "docg_retention_due_runs")
WEB_METRICS = ("docg_executions", "docg_queue_messages", "docg_sse_streams", "docg_sse_clients")


def scrape(url, headers=None):
    """{metric family name: [samples]} of one Prometheus text page."""
    text = requests.get(url, headers=headers or {}, timeout=10).text
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def scraped(url, names, headers=None):
    def ready():
        try:
            found = scrape(url, headers)
        except requests.RequestException:
            return None
        missing = [name for name in names if name.removesuffix("_total") not in found]
        last["missing"] = missing
        return None if missing else found

    last = {}
    try:
        return wait_until(ready, 30, interval=0.2, message=f"metrics at {url}")
    except AssertionError as ex:
        raise AssertionError(f"{ex}: missing {last.get('missing')}") from None


@pytest.fixture
def clock(logs_dir):
    port = free_port()
    process = Process("clock", [str(Path(sys.executable).parent / "periodiq"), "actors"], logs_dir,
                      env={"TZ": "UTC", "CLOCK_METRICS_PORT": str(port)}).start()
    wait_until(lambda: reachable("127.0.0.1", port) or process.proc.poll() is not None, 60, message="clock port")
    assert process.proc.poll() is None, process.log()
    process.metrics_url = f"http://127.0.0.1:{port}/metrics"
    yield process
    process.stop()


def test_worker_clock_and_web_each_serve_their_metrics(client, org, spawn_worker, clock, web_server):
    # Given a worker group of two processes behind one metrics port
    port = free_port()
    spawn_worker(processes=2, threads=2, env={"WORKER_METRICS_PORT": str(port)})
    worker_url = f"http://127.0.0.1:{port}/metrics"

    # When runs go through it
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    runs = [factories.start(client, org, wf["id"], {"client_name": f"c{i}"}) for i in range(4)]
    for execution_id in runs:
        factories.wait_for_status(client, org, execution_id)

    # Then the worker port sums every process's hops by phase and outcome, with durations
    found = scraped(worker_url, WORKER_METRICS)
    hops = {(s.labels["phase"], s.labels["outcome"]): s.value for s in found["docg_hops"]
            if s.name == "docg_hops_total"}
    assert hops[("trigger", "done")] >= 4 and hops[("preflight", "done")] >= 4
    count = {s.labels["phase"]: s.value for s in found["docg_hop_duration_seconds"]
             if s.name == "docg_hop_duration_seconds_count"}
    assert count["trigger"] >= 4

    # and the clock serves the deployment's gauges: runs by status, queues, waits, outbox, retention
    found = scraped(clock.metrics_url, CLOCK_METRICS)
    completed = [s.value for s in found["docg_executions"] if s.labels.get("status") == "completed"]
    assert completed and completed[0] >= 4
    assert {s.labels["queue"] for s in found["docg_queue_oldest_message_age_seconds"]} >= {"pipeline", "clock"}

    # and the web process serves runs, queues and SSE streams behind the admin token
    scraped(f"{web_server.base}/metrics", WEB_METRICS, headers={"Authorization": "Bearer test-admin-token"})


def test_the_grafana_dashboard_only_charts_metrics_some_process_serves():
    import json
    import re

    from tests.support import ROOT

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {name for expr in expressions for name in re.findall(r"\b(docg_[a-z_]+|dramatiq_[a-z_]+)", expr)}
    served = {*WORKER_METRICS, *CLOCK_METRICS, *WEB_METRICS}
    base = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    assert base <= served, base - served
    assert {"docg_hops_total", "docg_queue_oldest_message_age_seconds", "docg_outbox_lag_seconds",
            "docg_sse_streams", "docg_waits_due", "docg_reaper_redrives_total", "docg_dead_letters_total"} <= base


def test_outbox_lag_is_the_age_of_the_oldest_event_missing_from_its_stream(org, db, redis, services):
    from actors import pipeline
    from storage import events, workflows
    from telemetry.collectors import ClusterCollector, behind_runs, outbox_lag

    # Given the events outbox (created here when this branch runs before it exists)
    created = db.execute_sql("SELECT to_regclass('execution_events')").fetchone()[0] is None
    if created:
        db.execute_sql("CREATE TABLE execution_events (execution_id uuid NOT NULL, seq integer NOT NULL,"
                       " organization_id uuid NOT NULL, event_type text NOT NULL, event jsonb NOT NULL,"
                       " created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (execution_id, seq))")
    try:
        wf = workflows.create(org.id, {"name": "outbox", "nodes": [{"node_type": "webhook", "label": "deal"}]})
        execution, _ = pipeline._create(wf, trigger_data={})
        redis.delete(events.stream_key(execution.id))
        # When an event committed two minutes ago never reached the run's stream
        db.execute_sql("INSERT INTO execution_events (execution_id, seq, organization_id, event_type, event,"
                       " created_at) VALUES (%s, 1000, %s, 'execution.progress', '{}', now() - interval '120 s')",
                       (str(execution.id), org.id))

        # Then the run is behind and the lag is at least that event's age, on the clock's scrape too
        assert (str(execution.id), 1) in behind_runs(redis, 3600)
        assert outbox_lag(redis, 3600) >= 119
        gauges = {f.name: f for f in ClusterCollector(None, services.settings, redis)._outbox_lag()}
        assert gauges["docg_outbox_lag_seconds"].samples[0].value >= 119
        # and once the relay published it, the run is no longer behind
        redis.xadd(events.stream_key(execution.id), {"type": "execution.progress", "event": "{}"}, id="1000-0")
        assert str(execution.id) not in {run for run, _ in behind_runs(redis, 3600)}
    finally:
        if created:
            db.execute_sql("DROP TABLE execution_events")
