"""Document templates, stored in PostgreSQL with a version per change."""
import hashlib

from storage.errors import NotFound
from storage.models.base import find_owned
from storage.models import Template, utcnow


def create(organization_id, *, name, content_type, content):
    return Template.create(organization=organization_id, name=name, content_type=content_type,
                           content=content, size=len(content), sha256=hashlib.sha256(content).hexdigest())


def get(template_id, organization_id):
    template = find_owned(Template, template_id, organization_id)
    if template is None or template.deleted_at is not None:
        raise NotFound("Template not found.", f"template {template_id}")
    return template


def list_for(organization_id, *, limit=100):
    return list(Template.select(Template.id, Template.name, Template.content_type, Template.size, Template.sha256,
                                Template.version, Template.created_at, Template.updated_at)
                .where((Template.organization == organization_id) & Template.deleted_at.is_null())
                .order_by(Template.created_at.desc()).limit(limit))


def replace_content(template, *, content_type, content, actor):
    """Store a new version of the template's file and audit it."""
    from storage import audit
    from storage.db import database

    with database.atomic():
        (Template.update(content=content, content_type=content_type, size=len(content),
                         sha256=hashlib.sha256(content).hexdigest(), version=Template.version + 1, updated_at=utcnow())
         .where(Template.id == template.id).execute())
        updated = Template.get_by_id(template.id)
        audit.record(template.organization_id, "template.version_updated", actor_type=actor[0], actor_id=actor[1],
                     target_type="template", target_id=template.id,
                     metadata={"version": updated.version, "sha256": updated.sha256, "previous_sha256": template.sha256})
    return updated


def delete(template):
    Template.update(deleted_at=utcnow()).where(Template.id == template.id).execute()


def serialize(template):
    return {"id": str(template.id), "name": template.name, "content_type": template.content_type,
            "size": template.size, "sha256": template.sha256, "version": template.version,
            "created_at": template.created_at.isoformat(), "updated_at": template.updated_at.isoformat()}
