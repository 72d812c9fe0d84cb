"""Static pages a person opens from a link (plain HTML and JavaScript)."""
from pathlib import Path

import falcon

STATIC = Path(__file__).resolve().parent.parent / "static"


class Page:
    auth = "public"

    def __init__(self, name):
        self.html = (STATIC / name).read_text()

    def on_get(self, req, resp, **params):
        resp.content_type = falcon.MEDIA_HTML
        resp.text = self.html
