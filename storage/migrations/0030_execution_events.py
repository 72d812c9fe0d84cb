"""The transactional event outbox, and the reaper's re-drive bookkeeping.

`execution_events` holds every run event, numbered per run (`seq`) in the
transaction that caused it; `workflow_executions.event_seq` is the last
number handed out (bumped by the same INSERT, which also takes the run's row
lock, so numbers are gap-free and follow commit order). `redrive_count` and
`redriven_at` let the reaper page through stuck runs and give up on them.
The side-effect ledger gains the statuses in_flight, failed and unknown.
"""

UP = """
ALTER TABLE workflow_executions ADD COLUMN event_seq integer NOT NULL DEFAULT 0;
ALTER TABLE workflow_executions ADD COLUMN redrive_count integer NOT NULL DEFAULT 0;
ALTER TABLE workflow_executions ADD COLUMN redriven_at timestamptz;

CREATE TABLE execution_events (
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    seq integer NOT NULL,
    organization_id uuid NOT NULL,
    event_type text NOT NULL,
    event jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (execution_id, seq)
);
CREATE INDEX execution_events_created_at ON execution_events (created_at);

ALTER TABLE side_effects DROP CONSTRAINT side_effects_status_check;
ALTER TABLE side_effects ADD CONSTRAINT side_effects_status_check
    CHECK (status IN ('started', 'in_flight', 'done', 'failed', 'unknown'));
"""

DOWN = """
UPDATE side_effects SET status = 'started' WHERE status IN ('in_flight', 'failed', 'unknown');
ALTER TABLE side_effects DROP CONSTRAINT side_effects_status_check;
ALTER TABLE side_effects ADD CONSTRAINT side_effects_status_check CHECK (status IN ('started', 'done'));
DROP TABLE IF EXISTS execution_events;
ALTER TABLE workflow_executions DROP COLUMN IF EXISTS event_seq, DROP COLUMN IF EXISTS redrive_count,
    DROP COLUMN IF EXISTS redriven_at;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
