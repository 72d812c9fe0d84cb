"""Workflows, their nodes, templates, connections and the per-workflow datastore."""
import peewee

from storage.fields import EncryptedJSONField, EncryptedTextField
from storage.models.base import BaseModel, created_at, jsonb, timestamp, utcnow, uuid_pk
from storage.models.tenancy import Organization


class Workflow(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    name = peewee.TextField()
    description = peewee.TextField(default="")
    status = peewee.TextField(default="draft")
    webhook_secret = EncryptedTextField(null=True)
    created_at = created_at()
    updated_at = timestamp(default=utcnow)
    deleted_at = timestamp(null=True)

    class Meta:
        table_name = "workflows"


class WorkflowNode(BaseModel):
    id = uuid_pk()
    workflow = peewee.ForeignKeyField(Workflow, column_name="workflow_id", backref="nodes")
    position = peewee.IntegerField()
    node_type = peewee.TextField()
    label = peewee.TextField()
    config = jsonb(default=dict)

    class Meta:
        table_name = "workflow_nodes"


class Template(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    name = peewee.TextField()
    content_type = peewee.TextField()
    content = peewee.BlobField()
    size = peewee.IntegerField()
    sha256 = peewee.TextField()
    version = peewee.IntegerField(default=1)
    created_at = created_at()
    updated_at = timestamp(default=utcnow)
    deleted_at = timestamp(null=True)

    class Meta:
        table_name = "templates"


class Connection(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    provider = peewee.TextField()
    name = peewee.TextField(default="")
    auth_type = peewee.TextField()
    credentials = EncryptedJSONField()
    key_id = peewee.TextField()
    status = peewee.TextField(default="active")
    token_expires_at = timestamp(null=True)
    created_at = created_at()
    updated_at = timestamp(default=utcnow)
    deleted_at = timestamp(null=True)

    class Meta:
        table_name = "data_source_connections"


class WorkflowDatastore(BaseModel):
    id = peewee.BigAutoField()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    workflow = peewee.ForeignKeyField(Workflow, column_name="workflow_id")
    key = peewee.TextField()
    value = jsonb(null=True)
    updated_at = timestamp(default=utcnow)

    class Meta:
        table_name = "workflow_datastore"


class TemplateImage(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    template = peewee.ForeignKeyField(Template, column_name="template_id", backref="images")
    name = peewee.TextField()
    content_type = peewee.TextField()
    content = peewee.BlobField()
    size = peewee.IntegerField()
    sha256 = peewee.TextField()
    created_at = created_at()
    updated_at = timestamp(default=utcnow)

    class Meta:
        table_name = "template_images"
