"""Templates: upload as a raw body (?name=) or JSON with base64 content."""
import base64
import binascii

import falcon

from storage import templates
from web import schemas
from web.errors import BadRequest, Unprocessable
from web.validation import read_body, read_json, validate


def uploaded(req):
    """Return (name, content_type, content) from a raw or JSON/base64 upload."""
    if (req.content_type or "").startswith("application/json"):
        data = read_json(req, schemas.TEMPLATE_JSON)
        try:
            content = base64.b64decode(data["content"], validate=True)
        except (binascii.Error, ValueError) as ex:
            raise Unprocessable("The content is not valid base64.", str(ex)) from ex
        name, content_type = data["name"], data.get("content_type") or "application/octet-stream"
    else:
        name, content_type, content = req.get_param("name"), req.content_type, read_body(req)
        if not content_type:
            raise BadRequest("Send the file's Content-Type.", "missing content type")
    if not content:
        raise Unprocessable("The template file is empty.", "empty content")
    return name, content_type, content


class Templates:
    def on_get(self, req, resp):
        resp.media = {"templates": [templates.serialize(t) for t in templates.list_for(req.context.organization_id)]}

    def on_post(self, req, resp):
        name, content_type, content = uploaded(req)
        validate({"name": name or ""}, {"properties": {"name": {"type": "string", "minLength": 1}}})
        template = templates.create(req.context.organization_id, name=name, content_type=content_type,
                                    content=content)
        resp.status = falcon.HTTP_201
        resp.media = templates.serialize(template)


class Template:
    def on_get(self, req, resp, template_id):
        resp.media = templates.serialize(templates.get(template_id, req.context.organization_id))

    def on_put(self, req, resp, template_id):
        template = templates.get(template_id, req.context.organization_id)
        _, content_type, content = uploaded(req)
        resp.media = templates.serialize(templates.replace_content(template, content_type=content_type,
                                                                   content=content, actor=req.context.actor))

    def on_delete(self, req, resp, template_id):
        templates.delete(templates.get(template_id, req.context.organization_id))
        resp.status = falcon.HTTP_204
