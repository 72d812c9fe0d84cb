"""Data source connections: credentials encrypted at rest, never returned."""
import datetime
import uuid

from storage.db import database
from storage.errors import NotFound
from storage.models import Connection, utcnow
from storage.models.base import find_owned


def _audit(connection, action, actor):
    from storage import audit

    audit.record(connection.organization_id, action, actor_type=actor[0], actor_id=actor[1],
                 target_type="connection", target_id=connection.id,
                 metadata={"provider": connection.provider, "auth_type": connection.auth_type})


def create(organization_id, *, provider, auth_type, credentials, name="", actor=("user", None)):
    from storage import fields

    with database.atomic():
        connection = Connection.create(organization=organization_id, provider=provider, auth_type=auth_type,
                                       name=name, credentials=credentials, key_id=fields.keyring().current_kid,
                                       token_expires_at=expires_at_of(credentials))
        _audit(connection, "connection.created", actor)
    return connection


def get(connection_id, organization_id):
    connection = find_owned(Connection, connection_id, organization_id)
    if connection is None or connection.deleted_at is not None:
        raise NotFound("Connection not found.", f"connection {connection_id}")
    return connection


def webhook_secret(provider, connection_id):
    """The webhook secret a customer set on their `provider` connection, or ''.

    Per-connection webhook URLs (/webhooks/.../{connection_id}) are verified
    with it, so each customer's own provider account signs its callbacks.
    """
    try:
        connection_id = uuid.UUID(str(connection_id))
    except ValueError:
        return ""
    connection = Connection.get_or_none((Connection.id == connection_id) & (Connection.provider == provider)
                                        & Connection.deleted_at.is_null())
    return (connection.credentials or {}).get("webhook_secret", "") if connection else ""


def granted_scopes(connection_id, organization_id):
    """The OAuth scopes the provider said it granted this connection, or None if unknown."""
    connection = find_owned(Connection, connection_id, organization_id)
    scope = ((connection.credentials or {}).get("scope") if connection and connection.deleted_at is None else None)
    return set(scope.split()) if isinstance(scope, str) and scope.strip() else None


def list_for(organization_id):
    return list(Connection.select().where((Connection.organization == organization_id)
                                          & Connection.deleted_at.is_null()).order_by(Connection.created_at))


def delete(connection, actor=("user", None)):
    with database.atomic():
        Connection.update(deleted_at=utcnow(), status="deleted").where(Connection.id == connection.id).execute()
        _audit(connection, "connection.deleted", actor)


def expires_at_of(credentials):
    value = credentials.get("expires_at")
    return datetime.datetime.fromisoformat(value) if isinstance(value, str) else None


def store_tokens(connection_id, credentials):
    """Persist refreshed credentials (encrypted) and their expiry."""
    from storage import fields

    (Connection.update(credentials=credentials, token_expires_at=expires_at_of(credentials), status="active",
                       key_id=fields.keyring().current_kid, updated_at=utcnow())
     .where(Connection.id == connection_id).execute())


def locked(connection_id):
    """Re-read the connection under a row lock (call inside a transaction)."""
    return Connection.select().where(Connection.id == connection_id).for_update().first()


def mark(connection_id, status):
    Connection.update(status=status, updated_at=utcnow()).where(Connection.id == connection_id).execute()


def serialize(connection):
    return {"id": str(connection.id), "provider": connection.provider, "name": connection.name,
            "auth_type": connection.auth_type, "status": connection.status, "key_id": connection.key_id,
            "token_expires_at": connection.token_expires_at.isoformat() if connection.token_expires_at else None,
            "created_at": connection.created_at.isoformat(), "updated_at": connection.updated_at.isoformat()}


def rotate_keys():
    """Re-encrypt every stored secret with the current key; return rows rewritten."""
    from storage import fields
    from storage.models import Approval, Workflow

    ring, rewritten = fields.keyring(), 0
    with database.atomic():
        for model, field in ((Connection, Connection.credentials), (Workflow, Workflow.webhook_secret),
                             (Approval, Approval.token_ciphertext)):
            sql = (f'SELECT id, "{field.column_name}" FROM "{model._meta.table_name}" '
                   f'WHERE "{field.column_name}" IS NOT NULL')
            for row_id, token in database.execute_sql(sql).fetchall():
                if not ring.needs_rotation(token):
                    continue
                values = {field.name: getattr(model.get_by_id(row_id), field.name)}
                if model is Connection:
                    values["key_id"] = ring.current_kid
                model.update(values).where(model.id == row_id).execute()
                rewritten += 1
        rewritten += _rotate_node_secrets()
    return rewritten


def _rotate_node_secrets():
    """Re-seal the secrets in node and step configs (storage/node_secrets.py); return secrets rewritten."""
    import json

    from storage import node_secrets

    rewritten = 0
    for table, owner in (("workflow_nodes", "SELECT organization_id FROM workflows WHERE id = t.workflow_id"),
                         ("execution_steps", "SELECT organization_id FROM workflow_executions "
                                             "WHERE id = t.execution_id")):
        sql = (f"SELECT t.id, t.config, ({owner}) FROM {table} t "
               f"WHERE t.config::text LIKE %s")
        for row_id, config, organization_id in database.execute_sql(sql, (f"%{node_secrets.PREFIX}%",)).fetchall():
            config = json.loads(config) if isinstance(config, str) else config
            fresh, count = node_secrets.reseal(config, organization_id)
            if count:
                database.execute_sql(f"UPDATE {table} SET config = %s WHERE id = %s", (json.dumps(fresh), row_id))
                rewritten += count
    return rewritten
