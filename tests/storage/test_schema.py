"""Migrations, encrypted fields and the append-only, hash-chained audit trail."""
import peewee
import pytest

from storage import audit, migrations
from storage.models import AuditEvent, Connection, Organization
from tests.support import audit_row_edited


def test_migrate_is_idempotent_and_reversible(services):
    import os

    from storage import db as db_module
    from storage.embedded import create_database_if_missing
    from tests.conftest import TEST_DB, _with_database

    scratch_name = f"{TEST_DB}_migrations"
    admin = _with_database(os.environ["DATABASE_URL"], "postgres")
    create_database_if_missing(admin, scratch_name)
    params = db_module.connect_params(_with_database(os.environ["DATABASE_URL"], scratch_name))
    from playhouse.postgres_ext import PostgresqlExtDatabase

    scratch = PostgresqlExtDatabase(**params)
    with scratch.connection_context():
        scratch.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        every = [version for version, _ in migrations.available()]
        assert migrations.apply(scratch) == every
        assert migrations.apply(scratch) == []
        assert migrations.rollback(scratch, target=0) == every[::-1]
        assert scratch.execute_sql("SELECT to_regclass('workflow_executions')").fetchone()[0] is None
        assert migrations.apply(scratch) == every


def test_credentials_are_encrypted_at_rest(org, db):
    connection = Connection.create(organization=org.id, provider="hubspot", auth_type="oauth2",
                                   credentials={"access_token": "at-123", "refresh_token": "rt-456"}, key_id="k")
    raw = db.execute_sql("SELECT credentials FROM data_source_connections WHERE id = %s",
                         (connection.id,)).fetchone()[0]
    assert "at-123" not in raw and raw.startswith("v1.")
    assert Connection.get_by_id(connection.id).credentials["refresh_token"] == "rt-456"


def test_audit_rows_cannot_be_updated_deleted_or_truncated(org, db):
    audit.record(org.id, "execution.started", target_id="x")
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events",
                      "TRUNCATE audit_events"):
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with db.atomic():
                db.execute_sql(statement)


def test_audit_verify_finds_a_row_edited_with_triggers_disabled(db):
    organization = Organization.create(name="audited")
    rows = [audit.record(organization.id, f"action.{i}", target_id=str(i)) for i in range(4)]
    assert audit.verify(organization.id) is None
    with audit_row_edited(db, rows[2].id, "metadata", '{"amount": 1}'):
        assert audit.verify(organization.id).id == rows[2].id
        assert AuditEvent.get_by_id(rows[3].id).prev_hash == rows[2].hash
    assert audit.verify(organization.id) is None


def test_audit_chain_holds_when_many_threads_record_at_once(db, services):
    # Given one organization
    import threading

    organization = Organization.create(name="busy")
    barrier = threading.Barrier(12)

    def record(i):
        with services.db.connection_context():
            barrier.wait()
            if i % 2:
                audit.record(organization.id, f"action.{i}", target_id=str(i))
            else:
                with services.db.atomic():
                    audit.record(organization.id, f"action.{i}", metadata={"n": i})

    # When twelve threads append to its trail at the same moment, half inside a transaction
    threads = [threading.Thread(target=record, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every row is chained to the one before it
    rows = list(AuditEvent.select().where(AuditEvent.organization_id == organization.id).order_by(AuditEvent.id))
    assert len(rows) == 12
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert audit.verify(organization.id) is None
