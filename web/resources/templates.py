"""Templates: upload as a raw body (?name=) or JSON with base64 content."""
import base64
import binascii

import falcon

from integrations import template_checks
from integrations.errors import TemplateProblem
from storage import template_images, templates
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
    checked(content)
    return name, content_type, content


def checked(content):
    """Return the template's Report; a non-OOXML file, a broken tag or unsafe access is a 422."""
    try:
        return template_checks.inspect(content)
    except TemplateProblem as ex:
        raise Unprocessable(ex.message_human, ex.message_tech, code=ex.code, details=ex.details) from ex


def described(template):
    """The template as GET /templates/{id} shows it: the fields it needs, its images."""
    body = templates.serialize(template)
    stored = template_images.list_for(template)
    body["images"] = [template_images.serialize(image) for image in stored]
    try:
        report = template_checks.inspect(bytes(template.content))
    except TemplateProblem as ex:  # stored before uploads were checked
        body.update({"fields": [], "loops": [], "problem": {"code": ex.code, "message_human": ex.message_human}})
        return body
    body.update(report.as_dict())
    body["missing_images"] = template_checks.missing_images(report, {image.name for image in stored})
    return body


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
        resp.media = described(templates.get(template_id, req.context.organization_id))

    def on_put(self, req, resp, template_id):
        template = templates.get(template_id, req.context.organization_id)
        _, content_type, content = uploaded(req)
        resp.media = templates.serialize(templates.replace_content(template, content_type=content_type,
                                                                   content=content, actor=req.context.actor))

    def on_delete(self, req, resp, template_id):
        templates.delete(templates.get(template_id, req.context.organization_id))
        resp.status = falcon.HTTP_204
