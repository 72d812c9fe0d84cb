"""Logs, audit trail and step snapshots of real runs; `docg audit verify`."""
import json
import os
import subprocess
import sys

import pytest

from cli import sample
from storage.models import AuditEvent
from tests import factories
from tests.support import ROOT, audit_row_edited

pytestmark = pytest.mark.e2e


@pytest.fixture
def finished_run(client, org, worker, httpserver):
    httpserver.expect_request("/hook").respond_with_data("ok")
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "storage", "label": "archive", "config": {"folder": "history"}},
        {"node_type": "outgoing-webhook", "label": "notify",
         "config": {"url": httpserver.url_for("/hook"), "secret": "s3cret",
                    "payload": {"credentials": {"api_key": "k-1"}, "nested": [{"password": "p"}], "ok": 1}}},
    ])
    execution_id = factories.start(client, org, wf["id"], {**sample.trigger_data(), "token": "t-1"})
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    return execution_id


def test_logs_filter_and_page_with_stable_cursors(client, org, finished_run):
    url = f"/api/v1/executions/{finished_run}/logs"
    everything = client.simulate_get(url, params={"limit": 100}, headers=org.headers).json
    assert not everything["has_more"] and everything["next_cursor"] is None  # seed F5: null on the last page
    capped = client.simulate_get(url, params={"limit": 1000}, headers=org.headers).json
    assert capped["logs"] == everything["logs"]  # a limit above 100 is capped at 100, not refused
    assert all(log["correlation_id"] for log in everything["logs"])

    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.simulate_get(url, params=params, headers=org.headers).json
        pages.extend(page["logs"])
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert [log["id"] for log in pages] == [log["id"] for log in everything["logs"]]

    preflight = client.simulate_get(url, params={"domain": "preflight"}, headers=org.headers).json["logs"]
    assert {log["domain"] for log in preflight} == {"preflight"}
    step_id = factories.steps(client, org, finished_run)[1]["id"]
    by_step = client.simulate_get(url, params={"step_id": step_id}, headers=org.headers).json["logs"]
    assert by_step and {log["step_id"] for log in by_step} == {step_id}
    assert client.simulate_get(url, params={"level": "loud"}, headers=org.headers).status_code == 422
    assert client.simulate_get(url, params={"cursor": "!!"}, headers=org.headers).status_code == 400


def test_audit_lists_the_runs_actions_in_order(client, org, finished_run):
    events = client.simulate_get(f"/api/v1/executions/{finished_run}/audit", headers=org.headers).json["events"]
    assert [e["action"] for e in events] == ["execution.started", "document.generated", "document.saved",
                                             "document.sent", "execution.completed"]
    assert events[0]["actor_type"] == "user" and events[1]["actor_type"] == "system"


def test_step_snapshots_redact_secrets_at_any_depth(client, org, finished_run):
    steps = factories.steps(client, org, finished_run)
    assert steps[0]["data_out"]["token"] == "[REDACTED]"
    notify = steps[3]["data_in"]
    assert notify["secret"] == "[REDACTED]" and notify["payload"]["credentials"] == "[REDACTED]"
    assert notify["payload"]["nested"] == [{"password": "[REDACTED]"}] and notify["payload"]["ok"] == 1


def test_worker_log_lines_are_json_with_the_correlation_id(client, org, finished_run, worker):
    correlation = factories.run_state(client, org, finished_run)["correlation_id"]
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    hops = [line for line in lines if line["logger"] == "docg.pipeline" and finished_run in line["message"]]
    assert len(hops) == 4 and {line["correlation_id"] for line in hops} == {correlation}


def test_template_versions_are_audited(client, org, db):
    template_id = factories.template(client, org)
    resp = client.simulate_put(f"/api/v1/templates/{template_id}?name=v2.docx", body=sample.contract_template(),
                               headers={**org.headers, "Content-Type": "application/octet-stream"})
    assert resp.status_code == 200 and resp.json["version"] == 2
    row = AuditEvent.get((AuditEvent.organization_id == org.id) & (AuditEvent.action == "template.version_updated"))
    assert row.metadata["version"] == 2


def test_docg_audit_verify_reports_the_first_tampered_row(client, org, finished_run, db):
    def verify():
        return subprocess.run([sys.executable, "-m", "cli", "audit", "verify", "--organization", org.id],
                              cwd=ROOT, env=os.environ, capture_output=True, text=True)

    intact = verify()
    assert intact.returncode == 0 and "intact" in intact.stdout
    target = AuditEvent.select().where(AuditEvent.execution_id == finished_run).order_by(AuditEvent.id)[2]
    with audit_row_edited(db, target.id, "actor_id", "mallory"):
        broken = verify()
        assert broken.returncode == 1 and f"row {target.id}" in broken.stdout
    assert verify().returncode == 0
