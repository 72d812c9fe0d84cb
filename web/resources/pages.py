"""Pages a person opens from a link: an HTML shell, its script and styles in static/pages.

A page's words come from the i18n catalogue in the locale of the
organization behind the link (`data-texts` on <body>, `lang` on <html>);
its script fetches the data. Nothing inline: the pages keep working under
the strict Content-Security-Policy they are served with.
"""
import html
import json
from pathlib import Path

import falcon

from storage import approvals, i18n, tenancy
from web.errors import NotFoundError

STATIC = Path(__file__).resolve().parent.parent / "static"
#: what these pages need, and nothing more
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class PageAsset:
    """/static/pages/{name}: the pages' scripts, styles and icon (a fixed list, read once)."""

    auth = "public"
    TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

    def __init__(self):
        folder = STATIC / "pages"
        self.files = {path.name: (self.TYPES[path.suffix], path.read_bytes())
                      for path in folder.iterdir() if path.suffix in self.TYPES}

    def on_get(self, req, resp, name):
        found = self.files.get(name)
        if found is None:
            raise NotFoundError("No such file.", f"static/pages/{name!r:.80}")
        resp.content_type, resp.data = found
        resp.cache_control = ["public", "max-age=300"]
        resp.set_header("X-Content-Type-Options", "nosniff")


class Page:
    auth = "public"

    def __init__(self, name):
        self.html = (STATIC / name).read_text()

    def on_get(self, req, resp, **params):
        resp.content_type = falcon.MEDIA_HTML
        resp.text = self.html


class LocalizedPage:
    """An HTML shell filled with the texts of `prefix` in the reader's locale."""

    def __init__(self, name, prefix):
        self.template = (STATIC / name).read_text()
        self.prefix = prefix

    def render(self, req, resp, locale=None):
        locale = locale or i18n.negotiate(req.get_header("Accept-Language")) or i18n.DEFAULT
        texts = i18n.bundle(self.prefix, locale)
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Content-Security-Policy", CSP)
        resp.set_header("Content-Language", locale)
        resp.set_header("Referrer-Policy", "no-referrer")
        resp.cache_control = ["no-store"]
        resp.text = (self.template.replace("{{lang}}", locale)
                     .replace("{{title}}", html.escape(texts["title"]))
                     .replace("{{texts}}", html.escape(json.dumps(texts, ensure_ascii=False), quote=True)))


class ApprovalPage:
    """/approvals/{token}: in the locale of the organization that asks."""

    auth = "public"

    def __init__(self):
        self.page = LocalizedPage("approval.html", "approval.")

    def on_get(self, req, resp, token):
        approval = approvals.by_token(token)
        self.page.render(req, resp, tenancy.locale_of(approval.organization_id) if approval else None)
