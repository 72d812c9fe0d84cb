"""Retention: ended runs past retention go, in small batches; waiting runs and the audit trail stay."""
import dataclasses
import datetime
import json
import subprocess
import sys
from pathlib import Path

import peewee
import pytest

from cli import sample
from storage import audit, events, retention
from storage.models import AuditEvent, Execution, ExecutionLog, ExecutionStep, GeneratedDocument, Organization
from tests import factories
from tests.support import ROOT

pytestmark = pytest.mark.e2e


def age(db, execution_id, days):
    """Make a run look as if it was created (and ended) `days` ago."""
    db.execute_sql("UPDATE workflow_executions SET created_at = now() - make_interval(days => %s),"
                   " updated_at = now() - make_interval(days => %s),"
                   " completed_at = CASE WHEN completed_at IS NULL THEN NULL ELSE now() - make_interval(days => %s)"
                   " END WHERE id = %s", (days, days, days, execution_id))


def stored_files(execution_id):
    return [Path(d.path) for d in GeneratedDocument.select().where((GeneratedDocument.execution == execution_id)
                                                                   & (GeneratedDocument.storage == "folder"))]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_ended_runs_past_retention_go_in_batches_and_waiting_runs_stay(client, org, db, worker, mailbox, redis,
                                                                      services):
    # Given ended runs that stored files, a run waiting for approval, all aged 120 days, and a recent run
    template_id = factories.template(client, org)
    stored = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "storage", "label": "archive", "config": {"folder": "retention"}}])
    waiting_wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "review-documents", "label": "review", "config": {"approvers": [f"ana+{org.id[:8]}@x.co"]}}])
    old = [factories.start(client, org, stored["id"], sample.trigger_data()) for _ in range(5)]
    waiting = factories.start(client, org, waiting_wf["id"], sample.trigger_data())
    recent = factories.start(client, org, stored["id"], sample.trigger_data())
    for execution_id in [*old, recent]:
        assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    factories.wait_for_status(client, org, waiting, "paused")
    files = [path for execution_id in old for path in stored_files(execution_id)]
    assert len(files) == 5 and all(path.is_file() for path in files)
    assert all(redis.exists(events.stream_key(e)) for e in old)
    for execution_id in [*old, waiting]:
        age(db, execution_id, 120)
    audit_rows = AuditEvent.select().where(AuditEvent.execution_id.in_(old)).count()
    assert audit_rows >= 5

    # When the dry run looks (through the CLI)
    settings = dataclasses.replace(services.settings, retention_batch=2)
    dry = cli("retention", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["runs_by_organization"][org.id] == 5

    # Then nothing went yet
    assert Execution.select().where(Execution.id.in_(old)).count() == 5

    # When retention runs batch by batch, two runs per transaction
    batches = []
    while ids := retention.delete_batch(settings.retention_days, 2, redis=redis, files_root=settings.files_root):
        batches.append(ids)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(i for b in batches for i in b) == sorted(old)

    # Then the old ended runs are gone with steps, logs, documents, files and streams
    assert Execution.select().where(Execution.id.in_(old)).count() == 0
    for model, column in ((ExecutionStep, ExecutionStep.execution), (ExecutionLog, ExecutionLog.execution),
                          (GeneratedDocument, GeneratedDocument.execution)):
        assert model.select().where(column.in_(old)).count() == 0
    assert not any(path.exists() for path in files)
    assert not any(redis.exists(events.stream_key(e)) for e in old)
    # and the waiting run (as old as they were) and the recent run stay, with the audit trail
    assert Execution.get_by_id(waiting).status == "paused"
    assert Execution.get_by_id(recent).status == "completed" and stored_files(recent)[0].is_file()
    assert AuditEvent.select().where(AuditEvent.execution_id.in_(old)).count() == audit_rows
    assert audit.verify(org.id) is None
    # and the approval still resumes the waiting run
    token = factories.approval_token(mailbox.wait_for(f"ana+{org.id[:8]}@x.co")[0])
    assert client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "approved"}).status_code == 200
    assert factories.wait_for_status(client, org, waiting)["status"] == "completed"


def test_an_organizations_own_retention_days_wins_over_the_default(client, org, other_org, db, worker, services):
    # Given two organizations' runs that ended 40 days ago; one organization keeps runs 30 days
    assert cli("org", "retention", org.id, "0").returncode == 2
    assert cli("org", "retention", "not-an-id", "30").returncode == 2
    assert cli("org", "retention", org.id, "30").returncode == 0
    assert Organization.get_by_id(org.id).retention_days == 30
    runs = {}
    for tenant in (org, other_org):
        wf = factories.workflow(client, tenant, [{"node_type": "webhook", "label": "deal"}])
        runs[tenant.id] = factories.start(client, tenant, wf["id"], {"client_name": "x"})
        factories.wait_for_status(client, tenant, runs[tenant.id])
        age(db, runs[tenant.id], 40)

    # When the clock's retention job runs (default RETENTION_DAYS is 90)
    from actors.retention import apply_retention

    apply_retention()

    # Then only the organization with 30 days lost its run
    assert Execution.get_or_none(Execution.id == runs[org.id]) is None
    assert Execution.get_by_id(runs[other_org.id]).status == "completed"


def test_old_audit_months_are_dropped_whole_and_the_chain_still_verifies(db, services, monkeypatch):
    # Given an organization whose trail began in January 2016 and goes on today
    organization = Organization.create(name="long-lived")
    db.execute_sql("SELECT audit_events_ensure_partition('2016-01-01')")
    import storage.audit as audit_module

    real_now = audit_module.utcnow
    monkeypatch.setattr(audit_module, "utcnow", lambda: datetime.datetime(2016, 1, 15, tzinfo=datetime.timezone.utc))
    old = [audit.record(organization.id, f"old.{i}") for i in range(3)]
    monkeypatch.setattr(audit_module, "utcnow", real_now)
    new = [audit.record(organization.id, f"new.{i}") for i in range(2)]
    assert new[0].prev_hash == old[-1].hash

    # When the dry run looks, then retention runs with a one-year audit retention
    settings = dataclasses.replace(services.settings, audit_retention_days=365)
    assert "audit_events_p2016_01" in retention.apply(settings, dry_run=True)["audit_partitions"]
    report = retention.apply(settings)

    # Then the 2016 partition is gone whole, the rest of the chain still verifies from its checkpoint
    assert "audit_events_p2016_01" in report["audit_partitions"]
    assert db.execute_sql("SELECT to_regclass('audit_events_p2016_01')").fetchone()[0] is None
    remaining = [e.action for e in AuditEvent.select().where(AuditEvent.organization_id == organization.id)
                 .order_by(AuditEvent.id)]
    assert remaining == ["new.0", "new.1"]
    assert audit.verify(organization.id) is None
    # and rows still cannot be edited, deleted or truncated, on the table or on a partition
    partition = db.execute_sql("SELECT tableoid::regclass::text FROM audit_events WHERE id = %s",
                               (new[0].id,)).fetchone()[0]
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events",
                      f"DELETE FROM {partition}", f"TRUNCATE {partition}", "TRUNCATE audit_events_default"):
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with db.atomic():
                db.execute_sql(statement)
