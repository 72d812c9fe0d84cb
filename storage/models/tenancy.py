"""Organizations, users and hashed API tokens."""
import peewee

from storage.models.base import BaseModel, created_at, timestamp, uuid_pk


class Organization(BaseModel):
    id = uuid_pk()
    name = peewee.TextField()
    locale = peewee.TextField(default="en")
    created_at = created_at()
    retention_days = peewee.IntegerField(null=True)

    class Meta:
        table_name = "organizations"


class User(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    email = peewee.TextField()
    name = peewee.TextField(default="")
    role = peewee.TextField(default="member")
    created_at = created_at()

    class Meta:
        table_name = "users"


class ApiToken(BaseModel):
    id = uuid_pk()
    organization = peewee.ForeignKeyField(Organization, column_name="organization_id")
    user = peewee.ForeignKeyField(User, column_name="user_id", null=True)
    name = peewee.TextField(default="")
    prefix = peewee.TextField()
    token_hash = peewee.TextField(unique=True)
    created_at = created_at()
    last_used_at = timestamp(null=True)
    revoked_at = timestamp(null=True)

    class Meta:
        table_name = "api_tokens"
