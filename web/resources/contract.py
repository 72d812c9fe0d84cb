"""The API contract: the OpenAPI 3.1 document and its human page (/api/docs)."""
import importlib.resources
from pathlib import Path

import falcon

from web.openapi import document

PAGE = Path(__file__).resolve().parent.parent / "static" / "apidocs"
#: Swagger UI is scripts and styles served from this origin (no inline script); React sets inline styles.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def swagger_ui_dir():
    """Swagger UI's files as shipped in the swagger-ui-py wheel (served locally, no CDN)."""
    return Path(str(importlib.resources.files("swagger_ui") / "static"))


class OpenApiDocument:
    auth = "public"

    def on_get(self, req, resp):
        resp.media = document()


class ApiDocs:
    auth = "public"

    def __init__(self):
        self.html = (PAGE / "index.html").read_text()

    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Content-Security-Policy", DOCS_CSP)
        resp.text = self.html


def install(app):
    """Add the document, the page and the page's static files to `app`."""
    app.add_route("/api/v1/openapi.json", OpenApiDocument())
    app.add_route("/api/docs", ApiDocs())
    app.add_static_route("/api/docs/static", str(swagger_ui_dir()))
    app.add_static_route("/api/docs/assets", str(PAGE))
