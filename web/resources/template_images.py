"""Images stored with a template: PUT a raw image/* body or JSON base64 `content`."""
import base64
import binascii

import falcon

from integrations import template_filters
from integrations.errors import TemplateImageInvalid
from storage import template_images, templates
from web.errors import Unprocessable
from web.validation import parse_json, read_body, validate

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
MAX_JSON = template_filters.MAX_IMAGE_BYTES * 4 // 3 + 64 * 1024
IMAGE_JSON = {
    "type": "object",
    "required": ["content"],
    "properties": {"content": {"type": "string", "contentEncoding": "base64"},
                   "content_type": {"type": "string", "enum": list(IMAGE_TYPES)}},
    "additionalProperties": False,
}


def image_name(name):
    """The image name from the path; 422 unless it is 1 to 64 of a-z, 0-9, '-', '_'."""
    if not template_images.valid_name(name):
        raise Unprocessable("An image name is 1 to 64 lowercase letters, digits, '-' or '_'.",
                            f"invalid image name {str(name)[:80]!r}", code="template.image_name_invalid")
    return name


def uploaded_image(req):
    """Return (content_type, bytes) of a checked image; a non-image or a broken one is a 422."""
    content_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if content_type == "application/json":
        data = parse_json(read_body(req, limit=MAX_JSON))
        validate(data, IMAGE_JSON)
        text = data["content"]
        if text.startswith("data:"):
            header, _, text = text.partition(",")
            if ";base64" not in header:
                raise TemplateImageInvalid("The image must be base64 (data:image/png;base64,...).", header[:60])
        try:
            content = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as ex:
            raise TemplateImageInvalid("The content is not valid base64.", str(ex)) from ex
    elif content_type in IMAGE_TYPES:
        content = read_body(req, limit=template_filters.MAX_IMAGE_BYTES)
    else:
        raise TemplateImageInvalid("Send the image as image/png, image/jpeg or image/gif, or as JSON with base64 "
                                   "`content`.", f"content type {content_type[:80]!r}")
    return template_filters.checked_image(content), content


class TemplateImages:
    def on_get(self, req, resp, template_id):
        template = templates.get(template_id, req.context.organization_id)
        resp.media = {"images": [template_images.serialize(i) for i in template_images.list_for(template)]}


class TemplateImage:
    def on_get(self, req, resp, template_id, name):
        template = templates.get(template_id, req.context.organization_id)
        image = template_images.get(template, name)
        resp.content_type = image.content_type
        resp.data = bytes(image.content)

    def on_put(self, req, resp, template_id, name):
        template = templates.get(template_id, req.context.organization_id)
        name = image_name(name)
        content_type, content = uploaded_image(req)
        image, created = template_images.put(template, name, content_type=content_type, content=content,
                                             actor=req.context.actor)
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.media = template_images.serialize(image)

    def on_delete(self, req, resp, template_id, name):
        template = templates.get(template_id, req.context.organization_id)
        template_images.delete(template, name, actor=req.context.actor)
        resp.status = falcon.HTTP_204
