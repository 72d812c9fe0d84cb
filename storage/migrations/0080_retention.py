"""Per-organization retention and the run's trace context.

Additive only (nullable columns), so the previous release keeps running
against the migrated schema.
"""

UP = """
ALTER TABLE organizations ADD COLUMN retention_days integer
    CHECK (retention_days IS NULL OR retention_days > 0);
ALTER TABLE workflow_executions ADD COLUMN traceparent text;
"""

DOWN = """
ALTER TABLE workflow_executions DROP COLUMN IF EXISTS traceparent;
ALTER TABLE organizations DROP COLUMN IF EXISTS retention_days;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
