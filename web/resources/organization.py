"""The caller's organization: its name and locale (GET, PATCH)."""
from storage import i18n, tenancy
from web.errors import Unprocessable
from web.validation import read_json

UPDATE = {
    "type": "object",
    "minProperties": 1,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                   "locale": {"type": "string", "maxLength": 35}},
    "additionalProperties": False,
}


def organization_json(row):
    return {"id": str(row.id), "name": row.name, "locale": row.locale, "created_at": row.created_at.isoformat()}


class Organization:
    def on_get(self, req, resp):
        resp.media = organization_json(tenancy.organization(req.context.organization_id))

    def on_patch(self, req, resp):
        body = read_json(req, UPDATE)
        if "locale" in body:
            locale = i18n.normalize(body["locale"])
            if locale is None:
                raise Unprocessable(f"locale must be one of {', '.join(i18n.LOCALES)}.",
                                    f"locale={body['locale']!r}", code="invalid_locale")
            body["locale"] = locale
        resp.media = organization_json(tenancy.update_organization(req.context.organization_id, **body))
