"""`docg up` as a new user runs it: no SMTP_URL, a non-default PORT, a worker that crashes.

Real processes throughout: `python -m cli up` supervising gunicorn, dramatiq
and periodiq, on the shared PostgreSQL (a database of its own) and Redis
(the suite's db, a broker namespace of its own), with VAR_DIR in a temp dir.
"""
import json
import os
import re
import signal
import subprocess
import sys
import uuid

import psycopg2
import pytest
import requests

from storage import embedded
from tests.support import ROOT, Process, free_port, http_ok, wait_until

pytestmark = pytest.mark.e2e

ADMIN_TOKEN = "up-admin-token"
SCRUBBED = ("SMTP_URL", "PUBLIC_BASE_URL", "DOCG_URL", "PORT", "STORAGE_ROOT", "ADMIN_TOKEN", "BROKER_NAMESPACE")


def fresh_database(name):
    """A new empty database on the suite's PostgreSQL server; return its URL."""
    from tests.conftest import _with_database

    admin = _with_database(os.environ["DATABASE_URL"], "postgres")
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
    embedded.create_database_if_missing(admin, name)
    return _with_database(os.environ["DATABASE_URL"], name)


def up_environment(var_dir, port, database):
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith("DOCG_TEST")}
    env.update({"VAR_DIR": str(var_dir), "PORT": str(port), "DATABASE_URL": fresh_database(database),
                "BROKER_NAMESPACE": f"docg-up-{uuid.uuid4().hex[:8]}", "ADMIN_TOKEN": ADMIN_TOKEN,
                "WEB_CONCURRENCY": "1", "WORKER_PROCESSES": "1", "WORKER_THREADS": "2"})
    return env


class Up:
    """A running `docg up` and what a user would do against it."""

    def __init__(self, tmp, database):
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        self.env = up_environment(tmp / "var", self.port, database)
        self.process = Process("docg-up", [sys.executable, "-m", "cli", "up"], tmp)
        self.process.env = self.env  # NOTE: Process merges os.environ, which holds the suite's SMTP_URL.

    def start(self):
        self.process.start()
        wait_until(lambda: http_ok(f"{self.base}/health") or self.process.proc.poll() is not None, 120,
                   interval=0.3, message="docg up: /health")
        assert self.process.proc.poll() is None, self.process.log()[-4000:]
        self.process.wait_for_log("Worker process is ready", timeout=90)
        return self

    def pids(self, role):
        return [int(pid) for pid in re.findall(rf"{role} started with pid (\d+)", self.process.log())]

    def stop(self):
        self.process.stop(timeout=40)
        for pid in sum((self.pids(role) for role in ("web", "worker", "clock")), []):
            try:
                os.killpg(pid, signal.SIGKILL)  # NOTE: only if a child outlived the supervisor.
            except (ProcessLookupError, PermissionError):
                pass

    def docg(self, *args):
        done = subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def organization(self):
        created = json.loads(self.docg("org", "create", "Acme", "--json"))
        return {"Authorization": f"Bearer {created['token']}", "X-Organization-ID": created["organization_id"]}

    def api(self, method, path, headers, **kwargs):
        return requests.request(method, f"{self.base}/api/v1{path}", headers=headers, timeout=15, **kwargs)

    def run_state(self, headers, execution_id):
        return self.api("GET", f"/executions/{execution_id}", headers).json()

    def wait_for(self, headers, execution_id, statuses, timeout=90):
        return wait_until(lambda: (s := self.run_state(headers, execution_id))["status"] in statuses and s,
                          timeout, interval=0.3, message=f"run {execution_id} in {statuses}")

    def mail(self):
        resp = requests.get(f"{self.base}/ops/mail", headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                                              "Accept": "application/json"}, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()["messages"]


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    name = f"{os.environ.get('DOCG_TEST_DB', 'docg_test')}_up"
    running = Up(tmp_path_factory.mktemp("docg-up"), name).start()
    yield running
    running.stop()


CONTRACT_REVIEW = [
    {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client"]}},
    {"node_type": "email", "label": "notice", "config": {"to": ["sales@acme.example"],
                                                         "subject": "New deal for {{trigger.client}}",
                                                         "body": "We will ask the boss."}},
    {"node_type": "review-documents", "label": "review", "config": {"approvers": ["boss@acme.example"]}},
    {"node_type": "email", "label": "approved", "config": {"to": ["sales@acme.example"],
                                                           "subject": "{{trigger.client}} approved"}},
]


def test_docg_up_catches_the_mail_of_a_run_with_an_email_and_an_approval(up):
    # Given `docg up` with SMTP_URL unset and a non-default PORT
    assert "Mail catcher on smtp://" in up.process.log()
    headers = up.organization()
    workflow = up.api("POST", "/workflows", headers, json={"name": "Contract review", "nodes": CONTRACT_REVIEW}).json()
    # When a run reaches its approval
    started = up.api("POST", f"/workflows/{workflow['id']}/executions", headers,
                     json={"trigger_data": {"client": "Initech"}}).json()
    up.wait_for(headers, started["execution_id"], ("paused",))
    # Then /ops/mail lists the notice and the approval request, whose link points at our PORT
    messages = wait_until(lambda: len(m := up.mail()) >= 2 and m, 30, message="two caught emails")
    assert [m["subject"] for m in messages][0] == "New deal for Initech"
    request = next(m for m in messages if m["recipients"] == ["boss@acme.example"])
    assert request["approval_link"].startswith(f"http://localhost:{up.port}/approvals/")
    # When the approver approves through the emailed link's token
    token = request["approval_link"].rsplit("/", 1)[-1]
    decided = up.api("POST", f"/approvals/{token}/decision", {}, json={"decision": "approved", "comment": "ok"})
    assert decided.status_code == 200, decided.text
    # Then the run completes and its last email is caught too, downloadable as .eml
    assert up.wait_for(headers, started["execution_id"], ("completed", "failed"))["status"] == "completed"
    last = wait_until(lambda: len(m := up.mail()) >= 3 and m[-1], 30, message="the third email")
    assert last["subject"] == "Initech approved"
    raw = requests.get(f"{up.base}/ops/mail/{last['name']}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                       timeout=10)
    assert raw.status_code == 200 and b"Subject: Initech approved" in raw.content
    assert "Initech approved" in up.docg("mail")


def _descendants(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    children = [int(p) for p in out.split()]
    return children + sum((_descendants(child) for child in children), [])


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_dead_worker_child_is_restarted_while_web_and_clock_keep_running(up):
    # Given the worker's processes, and the web and clock pids
    [clock] = up.pids("clock")
    workers_before = up.pids("worker")
    tree = _descendants(workers_before[-1])
    children = [pid for pid in tree if not _descendants(pid) and "dramatiq" in _cmdline(pid)
                and "resource_tracker" not in _cmdline(pid)]
    assert children, f"no worker child under {workers_before[-1]}: {[(p, _cmdline(p)) for p in tree]}"
    headers = up.organization()
    workflow = up.api("POST", "/workflows", headers, json={"name": "notice", "nodes": CONTRACT_REVIEW[:2]}).json()
    # When one worker child is killed, and a run is started while the worker is down
    os.kill(children[-1], signal.SIGKILL)
    up.process.wait_for_log("worker exited with code", timeout=60)
    started = up.api("POST", f"/workflows/{workflow['id']}/executions", headers,
                     json={"trigger_data": {"client": "Globex"}})
    assert started.status_code == 202, started.text
    # Then web and clock keep answering/running, the worker comes back and the run completes
    assert http_ok(f"{up.base}/health") and up.pids("clock") == [clock] and os.path.exists(f"/proc/{clock}")
    assert "restarting worker in" in up.process.log()
    wait_until(lambda: len(up.pids("worker")) == len(workers_before) + 1, 60, message="the worker restarted")
    state = up.wait_for(headers, started.json()["execution_id"], ("completed", "failed"), timeout=120)
    assert state["status"] == "completed", state
    assert http_ok(f"{up.base}/health") and up.pids("clock") == [clock]
    for role in ("web", "worker", "clock"):
        assert "healthy" in up.docg("health", role)  # the docker-compose healthchecks
