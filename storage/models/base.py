"""Shared base model and field helpers."""
import datetime
import uuid

import peewee
from playhouse.postgres_ext import BinaryJSONField, DateTimeTZField

from storage.db import database


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


def uuid_pk():
    return peewee.UUIDField(primary_key=True, default=uuid.uuid4)


def created_at():
    return DateTimeTZField(default=utcnow)


def jsonb(**kwargs):
    return BinaryJSONField(**kwargs)


def timestamp(**kwargs):
    return DateTimeTZField(**kwargs)


def find_owned(model, row_id, organization_id):
    """Return the row of `model` with this id owned by the organization, or None."""
    try:
        row_id = uuid.UUID(str(row_id))
    except ValueError:
        return None
    return model.get_or_none((model.id == row_id) & (model.organization == organization_id))
