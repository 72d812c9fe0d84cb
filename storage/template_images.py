"""Named images stored with a template: a logo, a signature, a stamp.

Images belong to the template, not to one of its versions: a new version of
the template's file keeps them, and a render reads the images stored when it
runs. The bytes are checked by the caller (web: magic bytes and size);
the table's CHECK holds the name to `NAME`; every change is audited like a new
template version.
"""
import hashlib
import re

from storage import audit
from storage.db import database
from storage.errors import Conflict, NotFound
from storage.models import Template, TemplateImage, utcnow

NAME = re.compile(r"[a-z0-9_-]{1,64}")
MAX_PER_TEMPLATE = 20
META = (TemplateImage.name, TemplateImage.content_type, TemplateImage.size, TemplateImage.sha256,
        TemplateImage.created_at, TemplateImage.updated_at)


def valid_name(name):
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def put(template, name, *, content_type, content, actor):
    """Store or replace the image `name` of `template`; return (image, created).

    NOTE: the template's row is locked first, so concurrent uploads to one
    template count its images and audit replacements one at a time.
    """
    digest = hashlib.sha256(content).hexdigest()
    with database.atomic():
        Template.select(Template.id).where(Template.id == template.id).for_update().execute()
        image = TemplateImage.get_or_none((TemplateImage.template == template.id) & (TemplateImage.name == name))
        previous = image.sha256 if image else None
        if image is None:
            if TemplateImage.select().where(TemplateImage.template == template.id).count() >= MAX_PER_TEMPLATE:
                raise Conflict(f"A template keeps at most {MAX_PER_TEMPLATE} images; delete one first.",
                               f"template {template.id} has {MAX_PER_TEMPLATE} images")
            image = TemplateImage.create(organization=template.organization_id, template=template.id, name=name,
                                         content_type=content_type, content=content, size=len(content),
                                         sha256=digest)
        elif previous != digest or image.content_type != content_type:
            (TemplateImage.update(content=content, content_type=content_type, size=len(content), sha256=digest,
                                  updated_at=utcnow())
             .where(TemplateImage.id == image.id).execute())
            image = TemplateImage.get_by_id(image.id)
        else:
            return image, False
        audit.record(template.organization_id, "template.image_stored", actor_type=actor[0], actor_id=actor[1],
                     target_type="template", target_id=template.id,
                     metadata={"image": name, "sha256": digest, "size": len(content), "previous_sha256": previous})
    return image, previous is None


def list_for(template):
    """The template's images without their bytes, by name."""
    return list(TemplateImage.select(*META).where(TemplateImage.template == template.id)
                .order_by(TemplateImage.name))


def get(template, name):
    """The image `name` of `template`, with its bytes; NotFound otherwise."""
    image = TemplateImage.get_or_none((TemplateImage.template == template.id) & (TemplateImage.name == str(name)))
    if image is None:
        raise NotFound("Image not found.", f"template {template.id} has no image {str(name)[:80]!r}")
    return image


def delete(template, name, *, actor):
    """Remove the image `name`; NotFound when the template has none of that name."""
    with database.atomic():
        deleted = (TemplateImage.delete()
                   .where((TemplateImage.template == template.id) & (TemplateImage.name == str(name)))
                   .returning(TemplateImage.sha256).execute())
        rows = list(deleted)
        if not rows:
            raise NotFound("Image not found.", f"template {template.id} has no image {str(name)[:80]!r}")
        audit.record(template.organization_id, "template.image_deleted", actor_type=actor[0], actor_id=actor[1],
                     target_type="template", target_id=template.id,
                     metadata={"image": name, "previous_sha256": rows[0].sha256})


def names(template_id):
    """The names of the template's images (a set)."""
    return {row.name for row in TemplateImage.select(TemplateImage.name).where(TemplateImage.template == template_id)}


def contents(template_id, wanted=None):
    """Return {name: bytes} of the template's images (only the `wanted` names when given)."""
    query = TemplateImage.select(TemplateImage.name, TemplateImage.content).where(
        TemplateImage.template == template_id)
    if wanted is not None:
        if not wanted:
            return {}
        query = query.where(TemplateImage.name.in_(sorted(wanted)))
    return {row.name: bytes(row.content) for row in query}


def serialize(image):
    return {"name": image.name, "content_type": image.content_type, "size": image.size, "sha256": image.sha256,
            "created_at": image.created_at.isoformat(), "updated_at": image.updated_at.isoformat()}
