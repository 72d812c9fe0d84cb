"""What bench/fairness.py and bench/recovery.py share: private servers, a worker, resource counters.

Each bench gets its own embedded PostgreSQL and Redis under var/<name> (so
their CPU, commits and commands are ours alone on a shared machine) and
a RabbitMQ vhost when asked. `setup()` must run before `actors` is imported.
"""
import os
import shutil
import sys
import time

import psutil

from tests.support import ROOT, Process, reset_servers

WORKFLOW_NODES = [{"node_type": "webhook", "label": f"step {i}"} for i in range(3)]


def setup(name, *, broker="redis", env=None):
    """Start private servers, rebuild the schema and export the settings; return the var dir."""
    from storage import embedded

    var = ROOT / "var" / name
    var.mkdir(parents=True, exist_ok=True)
    db_url, redis_url = embedded.ensure_postgres(var), embedded.ensure_redis(var)
    reset_servers(db_url, redis_url)
    os.environ.update({"DATABASE_URL": db_url, "REDIS_URL": redis_url, "VAR_DIR": str(var),
                       "BROKER_NAMESPACE": f"docg-{name}", "SECRET_KEY": "bench", "ADMIN_TOKEN": "bench", "DOCG_PROFILE": "dev",
                       "dramatiq_worker_timeout": "100", "OUTBOUND_ALLOW": "127.0.0.0/8",
                       **(env or {})})
    if broker == "rabbitmq":
        from tests import rabbit

        os.environ["BROKER_URL"] = rabbit.fresh_vhost(f"docg-{name}")
    else:
        os.environ.pop("BROKER_URL", None)
    return var


def start_worker(var, *, threads=8, env=None):
    logs = var / "logs"
    logs.mkdir(exist_ok=True)
    worker = Process("worker", [sys.executable, "-m", "dramatiq", "actors", "--processes", "1", "--threads",
                                str(threads)], logs, env=env).start()
    worker.wait_for_log("Worker process is ready", timeout=90)
    return worker


def client():
    """A Falcon test client on the app, for creating orgs' workflows as the API does."""
    import falcon.testing

    from actors import broker
    from web.app import create_app

    return falcon.testing.TestClient(create_app(broker.services, broker=broker.broker))


def org_with_workflow(api, name, nodes=WORKFLOW_NODES):
    from storage import tenancy, workflows

    with_db = __import__("actors.broker", fromlist=["services"]).services.db
    with with_db.connection_context():
        organization, token = tenancy.create_organization(name)
    headers = {"Authorization": f"Bearer {token}", "X-Organization-ID": str(organization.id)}
    made = api.simulate_post("/api/v1/workflows", json={"name": name, "nodes": nodes}, headers=headers)
    assert made.status_code == 201, made.text
    with with_db.connection_context():
        return organization.id, workflows.get(made.json["id"], organization.id), headers


class Usage:
    """CPU of process trees and server counters between two `sample()` calls."""

    def __init__(self, worker_pid, var):
        self.worker = psutil.Process(worker_pid)
        self.var = var

    def _cpu(self, procs):
        """CPU seconds of live processes, plus what the first one (the parent) reaped from ended children."""
        total = 0.0
        for index, proc in enumerate(procs):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
                if index == 0:
                    total += times.children_user + times.children_system
            except psutil.Error:
                pass
        return total

    def _servers(self):
        """The embedded PostgreSQL (postmaster and backends) and redis-server, by their pid files."""
        def tree(pidfile):
            try:
                root = psutil.Process(int(pidfile.read_text().split()[0]))
                return [root, *root.children(recursive=True)]
            except (OSError, ValueError, IndexError, psutil.Error):
                return []

        return tree(self.var / "pg" / "postmaster.pid"), tree(self.var / "redis" / "redis.pid")

    def sample(self):
        from actors import broker

        pg, rd = self._servers()
        with broker.services.db.connection_context():
            commits = broker.services.db.execute_sql(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]
        return {"t": time.monotonic(), "worker_cpu": self._cpu([self.worker, *self.worker.children(recursive=True)]),
                "pg_cpu": self._cpu(pg), "redis_cpu": self._cpu(rd), "pg_commits": commits,
                "redis_commands": broker.services.redis.info("stats")["total_commands_processed"]}


def delta(before, after):
    return {k: after[k] - before[k] for k in before}


def clean(var):
    shutil.rmtree(var / "files", ignore_errors=True)
