"""Create every table of SPEC §3, with the append-only audit trail."""

UP = r"""
CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    email text NOT NULL,
    name text NOT NULL DEFAULT '',
    role text NOT NULL DEFAULT 'member',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, email)
);

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    user_id uuid REFERENCES users(id),
    name text NOT NULL DEFAULT '',
    prefix text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE workflows (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active')),
    webhook_secret text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX workflows_org ON workflows (organization_id, created_at);

CREATE TABLE workflow_nodes (
    id uuid PRIMARY KEY,
    workflow_id uuid NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    position integer NOT NULL,
    node_type text NOT NULL,
    label text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    UNIQUE (workflow_id, position)
);

CREATE TABLE templates (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    name text NOT NULL,
    content_type text NOT NULL,
    content bytea NOT NULL,
    size integer NOT NULL,
    sha256 text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX templates_org ON templates (organization_id, created_at);

CREATE TABLE data_source_connections (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    provider text NOT NULL,
    name text NOT NULL DEFAULT '',
    auth_type text NOT NULL CHECK (auth_type IN ('oauth2', 'api_key', 'bearer', 'none')),
    credentials text NOT NULL,
    key_id text NOT NULL,
    status text NOT NULL DEFAULT 'active',
    token_expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE workflow_executions (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations(id),
    workflow_id uuid NOT NULL REFERENCES workflows(id),
    status text NOT NULL CHECK (status IN ('queued', 'running', 'needs_review', 'ready',
        'sending', 'sent', 'signing', 'signed', 'completed', 'failed', 'canceled', 'paused')),
    progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    current_step jsonb,
    current_node_id uuid,
    node_index integer NOT NULL DEFAULT 0,
    hop integer NOT NULL DEFAULT 0,
    version integer NOT NULL DEFAULT 0,
    last_error_human text,
    last_error_tech text,
    preflight_summary jsonb,
    delivery_state text,
    signature_state text,
    recommended_actions jsonb NOT NULL DEFAULT '[]',
    phase_metrics jsonb NOT NULL DEFAULT '{}',
    correlation_id uuid NOT NULL,
    trigger_type text NOT NULL DEFAULT 'api',
    trigger_data jsonb NOT NULL DEFAULT '{}',
    execution_context jsonb NOT NULL DEFAULT '{}',
    dry_run boolean NOT NULL DEFAULT false,
    until_phase text,
    retry_of uuid REFERENCES workflow_executions(id),
    started_at timestamptz,
    completed_at timestamptz,
    last_progress_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX executions_workflow ON workflow_executions (workflow_id, created_at DESC, id DESC);
CREATE INDEX executions_org ON workflow_executions (organization_id, created_at DESC);
CREATE INDEX executions_active ON workflow_executions (status, last_progress_at)
    WHERE status NOT IN ('completed', 'failed', 'canceled');

CREATE TABLE execution_steps (
    id uuid PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    node_id uuid NOT NULL,
    position integer NOT NULL,
    node_type text NOT NULL,
    label text NOT NULL,
    phase text NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'success', 'failure', 'skipped')),
    attempt integer NOT NULL DEFAULT 0,
    claim_token text,
    claimed_at timestamptz,
    data_in jsonb,
    data_out jsonb,
    error_code text,
    error_human text,
    error_tech text,
    started_at timestamptz,
    completed_at timestamptz,
    duration_ms integer,
    UNIQUE (execution_id, node_id),
    UNIQUE (execution_id, position)
);

CREATE TABLE execution_logs (
    id bigserial PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    organization_id uuid NOT NULL,
    level text NOT NULL CHECK (level IN ('ok', 'warn', 'error')),
    domain text NOT NULL CHECK (domain IN ('preflight', 'step', 'delivery', 'signature', 'approval')),
    message_human text NOT NULL,
    details_tech text,
    step_id uuid,
    correlation_id uuid,
    timestamp timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX execution_logs_exec ON execution_logs (execution_id, id);
CREATE INDEX execution_logs_level ON execution_logs (execution_id, level, id);
CREATE INDEX execution_logs_domain ON execution_logs (execution_id, domain, id);
CREATE INDEX execution_logs_step ON execution_logs (execution_id, step_id, id);

CREATE TABLE audit_events (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'system', 'webhook')),
    actor_id text,
    action text NOT NULL,
    target_type text NOT NULL,
    target_id text,
    execution_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    correlation_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_events_exec ON audit_events (execution_id, id);
CREATE INDEX audit_events_org ON audit_events (organization_id, id);

CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (%% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();

CREATE TABLE side_effects (
    id bigserial PRIMARY KEY,
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    node_id uuid NOT NULL,
    effect text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    status text NOT NULL DEFAULT 'started' CHECK (status IN ('started', 'done')),
    result jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    UNIQUE (execution_id, node_id, effect)
);

CREATE TABLE generated_documents (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    node_id uuid NOT NULL,
    name text NOT NULL,
    content_type text NOT NULL,
    content bytea,
    size integer NOT NULL DEFAULT 0,
    sha256 text,
    storage text NOT NULL DEFAULT 'database',
    path text,
    url text,
    external_id text,
    is_preview boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (execution_id, node_id)
);

CREATE TABLE workflow_approvals (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    node_id uuid NOT NULL,
    approver_email text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    strategy text NOT NULL DEFAULT 'all' CHECK (strategy IN ('all', 'any', 'quorum')),
    quorum integer,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'revoked')),
    expires_at timestamptz,
    auto_approve_on_timeout boolean NOT NULL DEFAULT false,
    reminder_hours double precision,
    reminder_sent_at timestamptz,
    decided_at timestamptz,
    comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (execution_id, node_id, approver_email)
);
CREATE INDEX approvals_pending ON workflow_approvals (expires_at) WHERE status = 'pending';

CREATE TABLE signature_requests (
    id uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    execution_id uuid NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
    node_id uuid NOT NULL,
    provider text NOT NULL,
    envelope_id text,
    status text NOT NULL DEFAULT 'pending',
    signers jsonb NOT NULL DEFAULT '[]',
    signers_status jsonb NOT NULL DEFAULT '{}',
    expires_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (execution_id, node_id)
);
CREATE INDEX signature_requests_envelope ON signature_requests (provider, envelope_id);

CREATE TABLE workflow_datastore (
    id bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    workflow_id uuid NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    key text NOT NULL,
    value jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, key)
);

CREATE TABLE webhook_deliveries (
    id bigserial PRIMARY KEY,
    provider text NOT NULL,
    event_key text NOT NULL,
    organization_id uuid,
    target_id text,
    status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'pending', 'applied', 'ignored')),
    payload jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz,
    UNIQUE (provider, event_key)
);

CREATE TABLE clock_ticks (
    job text NOT NULL,
    tick text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, tick)
);
"""

DOWN = """
DROP TABLE IF EXISTS clock_ticks, webhook_deliveries, workflow_datastore, signature_requests,
    workflow_approvals, generated_documents, side_effects, audit_events, execution_logs,
    execution_steps, workflow_executions, data_source_connections, templates,
    workflow_nodes, workflows, api_tokens, users, organizations CASCADE;
DROP FUNCTION IF EXISTS audit_events_refuse();
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
