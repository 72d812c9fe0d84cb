"""Fair share: a run holds one of its organization's ORG_MAX_INFLIGHT slots once admitted."""

UP = """
ALTER TABLE workflow_executions ADD COLUMN admitted_at timestamptz;
UPDATE workflow_executions SET admitted_at = created_at;
CREATE INDEX executions_org_deferred ON workflow_executions (organization_id, created_at)
    WHERE admitted_at IS NULL AND status = 'queued';
CREATE INDEX executions_org_inflight ON workflow_executions (organization_id)
    WHERE admitted_at IS NOT NULL AND status IN ('queued', 'running', 'sending', 'sent', 'signed', 'ready');
"""

DOWN = """
DROP INDEX IF EXISTS executions_org_deferred, executions_org_inflight;
ALTER TABLE workflow_executions DROP COLUMN IF EXISTS admitted_at;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
