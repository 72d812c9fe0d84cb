"""Approval reminders keep an encrypted copy of the link token; sandbox envelopes."""

UP = """
ALTER TABLE workflow_approvals ADD COLUMN token_ciphertext text;
ALTER TABLE workflow_approvals ADD COLUMN decided_by text;
ALTER TABLE signature_requests ADD COLUMN connection_id uuid;
ALTER TABLE signature_requests ADD COLUMN hop integer;
ALTER TABLE workflow_approvals ADD COLUMN hop integer;

CREATE TABLE sandbox_envelopes (
    id uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    name text NOT NULL,
    content_type text NOT NULL,
    document bytea NOT NULL,
    signers jsonb NOT NULL,
    status text NOT NULL DEFAULT 'sent',
    webhook_url text NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

DOWN = """
DROP TABLE IF EXISTS sandbox_envelopes;
ALTER TABLE workflow_approvals DROP COLUMN IF EXISTS token_ciphertext, DROP COLUMN IF EXISTS decided_by,
    DROP COLUMN IF EXISTS hop;
ALTER TABLE signature_requests DROP COLUMN IF EXISTS connection_id, DROP COLUMN IF EXISTS hop;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
