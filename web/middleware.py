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
        # NOTE: a page that sets its own (stricter) policy keeps it: the approval and signing pages
        # load their script and styles from /static/pages and allow no inline code at all.
        if ((resp.content_type or "").startswith("text/html") and isinstance(resp.text, str)
                and not resp.get_header("Content-Security-Policy")):
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


class Localize:
    """Answer API texts in the caller's language: Accept-Language, else the organization's locale.

    Only bodies that carry translatable texts (an error, issues, recommended
    actions, log rows) cost a look-up of the organization's locale; codes are untouched.
    Resources for links set `req.context.organization_id` (approvals) or
    `req.context.locale` (sandbox envelopes) so their answers follow it too.
    """

    def process_response(self, req, resp, resource, req_succeeded):
        from storage import i18n, tenancy

        media = resp.media if resp.stream is None and resp.text is None and resp.data is None else None
        if not isinstance(media, (dict, list)) or not _translatable(media):
            return
        locale = i18n.negotiate(req.get_header("Accept-Language")) or req.context.get("locale")
        if locale is None and req.context.get("organization_id"):
            locale = tenancy.locale_of(req.context.organization_id)
        locale = locale or i18n.DEFAULT
        resp.set_header("Content-Language", locale)
        if locale != i18n.DEFAULT:
            resp.media = i18n.localize(media, locale)


def _translatable(media, depth=0):
    if depth > 6:
        return False
    if isinstance(media, list):
        return any(_translatable(item, depth + 1) for item in media[:200] if isinstance(item, (dict, list)))
    if ("message_human" in media and ("code" in media or "message_key" in media)
            or "params" in media and "action" in media
            or "error_human" in media and "error_code" in media or "last_error_human" in media):
        return True
    return any(_translatable(value, depth + 1) for value in media.values() if isinstance(value, (dict, list)))
