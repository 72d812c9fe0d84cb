"""Falcon middleware: a pooled DB connection per request, request ids, security headers."""
import base64
import functools
import hashlib
import re
import uuid

from storage.db import database


class DatabaseConnection:
    """Hold a pooled connection for the request; return it at the end."""

    def process_request(self, req, resp):
        req.context.opened_db = database.connect(reuse_if_open=True)

    def process_response(self, req, resp, resource, req_succeeded):
        if req.context.get("opened_db") and not database.is_closed():
            database.close()


class RequestId:
    """Echo or create X-Request-ID so a caller can quote it to support."""

    def process_request(self, req, resp):
        req.context.request_id = req.get_header("X-Request-ID") or uuid.uuid4().hex
        req.context.actor = ("user", None)

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("X-Request-ID", req.context.request_id)


class SecurityHeaders:
    """`nosniff` and `Referrer-Policy: no-referrer` on every answer; a strict CSP on HTML pages.

    The pages carry tokens in their URL (approval, sandbox signing, run
    viewer), so no referrer leaves them. Their CSP allows only themselves
    (`connect-src 'self'` for fetch and SSE) and exactly the inline
    `<script>`/`<style>` blocks they ship, by hash: injected markup cannot
    run script or load anything.
    """

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Referrer-Policy", "no-referrer")
        if (resp.content_type or "").startswith("text/html") and isinstance(resp.text, str) \
                and not resp.get_header("Content-Security-Policy"):  # a page may set its own (/api/docs)
            resp.set_header("Content-Security-Policy", content_security_policy(resp.text))


_INLINE = {kind: re.compile(rf"<{kind}>(.*?)</{kind}>", re.DOTALL) for kind in ("script", "style")}


def _hashes(kind, page):
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
                    for block in _INLINE[kind].findall(page)) or "'none'"


@functools.lru_cache(maxsize=256)
def content_security_policy(page):
    return (f"default-src 'none'; script-src {_hashes('script', page)}; style-src {_hashes('style', page)}; "
            "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")
