"""Peewee models of SPEC §3; every tenant-owned row carries organization_id."""
from storage.models.base import BaseModel, utcnow
from storage.models.tenancy import ApiToken, Organization, User
from storage.models.workflows import (Connection, Template, TemplateImage, Workflow, WorkflowDatastore,
                                     WorkflowNode)
from storage.models.executions import (
    AuditEvent,
    Execution,
    ExecutionLog,
    ExecutionStep,
    GeneratedDocument,
    SideEffect,
)
from storage.models.waits import Approval, ClockTick, SandboxEnvelope, SignatureRequest, WebhookDelivery

__all__ = [
    "BaseModel", "utcnow", "ApiToken", "Organization", "User", "Connection", "Template",
    "TemplateImage",
    "Workflow", "WorkflowDatastore", "WorkflowNode", "AuditEvent", "Execution", "ExecutionLog",
    "ExecutionStep", "GeneratedDocument", "SideEffect", "Approval", "ClockTick",
    "SandboxEnvelope", "SignatureRequest", "WebhookDelivery",
]
