"""Approvals, signature requests, webhook deliveries and clock tick claims."""
import peewee

from storage.fields import EncryptedTextField
from storage.models.base import BaseModel, created_at, jsonb, timestamp, utcnow, uuid_pk
from storage.models.executions import Execution


class Approval(BaseModel):
    id = uuid_pk()
    organization_id = peewee.UUIDField()
    execution = peewee.ForeignKeyField(Execution, column_name="execution_id")
    node_id = peewee.UUIDField()
    approver_email = peewee.TextField()
    token_hash = peewee.TextField(unique=True)
    token_ciphertext = EncryptedTextField(null=True)
    hop = peewee.IntegerField(null=True)
    strategy = peewee.TextField(default="all")
    quorum = peewee.IntegerField(null=True)
    status = peewee.TextField(default="pending")
    expires_at = timestamp(null=True)
    auto_approve_on_timeout = peewee.BooleanField(default=False)
    reminder_hours = peewee.FloatField(null=True)
    reminder_sent_at = timestamp(null=True)
    decided_at = timestamp(null=True)
    decided_by = peewee.TextField(null=True)
    comment = peewee.TextField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "workflow_approvals"


class SignatureRequest(BaseModel):
    id = uuid_pk()
    organization_id = peewee.UUIDField()
    execution = peewee.ForeignKeyField(Execution, column_name="execution_id")
    node_id = peewee.UUIDField()
    provider = peewee.TextField()
    connection_id = peewee.UUIDField(null=True)
    hop = peewee.IntegerField(null=True)
    envelope_id = peewee.TextField(null=True)
    status = peewee.TextField(default="pending")
    signers = jsonb(default=list)
    signers_status = jsonb(default=dict)
    expires_at = timestamp(null=True)
    completed_at = timestamp(null=True)
    #: None, then "stored" or "unavailable" once the signed PDF and audit trail were fetched (or given up)
    documents_state = peewee.TextField(null=True)
    signed_documents = jsonb(null=True)
    created_at = created_at()
    updated_at = timestamp(default=utcnow)

    class Meta:
        table_name = "signature_requests"


class WebhookDelivery(BaseModel):
    id = peewee.BigAutoField()
    provider = peewee.TextField()
    event_key = peewee.TextField()
    organization_id = peewee.UUIDField(null=True)
    target_id = peewee.TextField(null=True)
    status = peewee.TextField(default="received")
    payload = jsonb(default=dict)
    received_at = created_at()
    applied_at = timestamp(null=True)

    class Meta:
        table_name = "webhook_deliveries"


class ClockTick(BaseModel):
    job = peewee.TextField()
    tick = peewee.TextField()
    claimed_at = created_at()

    class Meta:
        table_name = "clock_ticks"
        primary_key = peewee.CompositeKey("job", "tick")


class SandboxEnvelope(BaseModel):
    """An envelope held by the built-in signature sandbox provider."""

    id = uuid_pk()
    idempotency_key = peewee.TextField(unique=True)
    name = peewee.TextField()
    content_type = peewee.TextField()
    document = peewee.BlobField()
    signers = jsonb()
    status = peewee.TextField(default="sent")
    webhook_url = peewee.TextField()
    expires_at = timestamp(null=True)
    locale = peewee.TextField(default="en")
    sender = peewee.TextField(default="")
    sequential = peewee.BooleanField(default=False)
    reminder_hours = peewee.FloatField(null=True)
    created_at = created_at()

    class Meta:
        table_name = "sandbox_envelopes"
