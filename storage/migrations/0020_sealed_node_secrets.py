"""Seal secrets still stored in clear in node and step configs (outgoing-webhook `secret`...).

Needs the keyring (`docg migrate` configures it); a database with no clear
secret is left untouched without it.
"""
import json

from storage import node_secrets

TABLES = (
    ("workflow_nodes", "SELECT n.id, n.config, w.organization_id FROM workflow_nodes n "
                       "JOIN workflows w ON w.id = n.workflow_id"),
    ("execution_steps", "SELECT s.id, s.config, e.organization_id FROM execution_steps s "
                        "JOIN workflow_executions e ON e.id = s.execution_id"),
)


def up(db):
    for table, select in TABLES:
        for row_id, config, organization_id in db.execute_sql(select).fetchall():
            config = json.loads(config) if isinstance(config, str) else config
            if node_secrets.needs_sealing(config):
                sealed = node_secrets.seal_clear(config, organization_id)
                db.execute_sql(f"UPDATE {table} SET config = %s WHERE id = %s", (json.dumps(sealed), row_id))


def down(db):
    """Sealed secrets stay sealed (opening them would write secrets in clear)."""
