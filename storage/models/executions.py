"""Executions, their steps, logs, audit trail, documents and side-effect ledger."""
import peewee

from storage.models.base import BaseModel, created_at, jsonb, timestamp, utcnow, uuid_pk
from storage.models.tenancy import Organization
from storage.models.workflows import Workflow

TERMINAL = ("completed", "failed", "canceled")


class Execution(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    workflow = peewee.ForeignKeyField(Workflow, column_name="workflow_id")
    status = peewee.TextField(default="queued")
    progress = peewee.IntegerField(default=0)
    current_step = jsonb(null=True)
    current_node_id = peewee.UUIDField(null=True)
    node_index = peewee.IntegerField(default=0)
    hop = peewee.IntegerField(default=0)
    version = peewee.IntegerField(default=0)
    last_error_human = peewee.TextField(null=True)
    last_error_tech = peewee.TextField(null=True)
    preflight_summary = jsonb(null=True)
    delivery_state = peewee.TextField(null=True)
    signature_state = peewee.TextField(null=True)
    recommended_actions = jsonb(default=list)
    phase_metrics = jsonb(default=dict)
    correlation_id = peewee.UUIDField()
    trigger_type = peewee.TextField(default="api")
    trigger_data = jsonb(default=dict)
    execution_context = jsonb(default=dict)
    dry_run = peewee.BooleanField(default=False)
    until_phase = peewee.TextField(null=True)
    retry_of = peewee.ForeignKeyField("self", column_name="retry_of", null=True)
    started_at = timestamp(null=True)
    completed_at = timestamp(null=True)
    last_progress_at = timestamp(default=utcnow)
    created_at = created_at()
    updated_at = timestamp(default=utcnow)
    admitted_at = timestamp(null=True)  # set once the run may move (storage/admission.py)
    traceparent = peewee.TextField(null=True)
    event_seq = peewee.IntegerField(default=0)
    redrive_count = peewee.IntegerField(default=0)
    redriven_at = timestamp(null=True)

    class Meta:
        table_name = "workflow_executions"

    @property
    def is_terminal(self):
        return self.status in TERMINAL


class ExecutionStep(BaseModel):
    id = uuid_pk()
    execution = peewee.ForeignKeyField(Execution, column_name="execution_id", backref="steps")
    node_id = peewee.UUIDField()
    position = peewee.IntegerField()
    node_type = peewee.TextField()
    label = peewee.TextField()
    phase = peewee.TextField()
    config = jsonb(default=dict)
    status = peewee.TextField(default="pending")
    attempt = peewee.IntegerField(default=0)
    claim_token = peewee.TextField(null=True)
    claimed_at = timestamp(null=True)
    data_in = jsonb(null=True)
    data_out = jsonb(null=True)
    error_code = peewee.TextField(null=True)
    error_human = peewee.TextField(null=True)
    error_tech = peewee.TextField(null=True)
    started_at = timestamp(null=True)
    completed_at = timestamp(null=True)
    duration_ms = peewee.IntegerField(null=True)

    class Meta:
        table_name = "execution_steps"


class ExecutionLog(BaseModel):
    id = peewee.BigAutoField()
    execution = peewee.ForeignKeyField(Execution, column_name="execution_id")
    organization_id = peewee.UUIDField()
    level = peewee.TextField()
    domain = peewee.TextField()
    message_human = peewee.TextField()
    message_key = peewee.TextField(null=True)
    message_params = jsonb(null=True)
    details_tech = peewee.TextField(null=True)
    step_id = peewee.UUIDField(null=True)
    correlation_id = peewee.UUIDField(null=True)
    timestamp = timestamp(default=utcnow)

    class Meta:
        table_name = "execution_logs"


class AuditEvent(BaseModel):
    id = peewee.BigAutoField()
    organization_id = peewee.UUIDField()
    actor_type = peewee.TextField()
    actor_id = peewee.TextField(null=True)
    action = peewee.TextField()
    target_type = peewee.TextField()
    target_id = peewee.TextField(null=True)
    execution_id = peewee.UUIDField(null=True)
    metadata = jsonb(default=dict)
    correlation_id = peewee.UUIDField(null=True)
    created_at = created_at()
    prev_hash = peewee.TextField()
    hash = peewee.TextField()

    class Meta:
        table_name = "audit_events"


class SideEffect(BaseModel):
    id = peewee.BigAutoField()
    execution = peewee.ForeignKeyField(Execution, column_name="execution_id")
    node_id = peewee.UUIDField()
    effect = peewee.TextField()
    idempotency_key = peewee.TextField(unique=True)
    status = peewee.TextField(default="started")
    result = jsonb(null=True)
    created_at = created_at()
    completed_at = timestamp(null=True)

    class Meta:
        table_name = "side_effects"


class GeneratedDocument(BaseModel):
    id = uuid_pk()
    organization_id = peewee.UUIDField()
    execution = peewee.ForeignKeyField(Execution, column_name="execution_id")
    node_id = peewee.UUIDField()
    name = peewee.TextField()
    content_type = peewee.TextField()
    content = peewee.BlobField(null=True)
    size = peewee.IntegerField(default=0)
    sha256 = peewee.TextField(null=True)
    storage = peewee.TextField(default="database")
    path = peewee.TextField(null=True)
    url = peewee.TextField(null=True)
    external_id = peewee.TextField(null=True)
    is_preview = peewee.BooleanField(default=False)
    kind = peewee.TextField(default="generated")
    source_document_id = peewee.UUIDField(null=True)
    superseded = peewee.BooleanField(default=False)
    created_at = created_at()

    class Meta:
        table_name = "generated_documents"
