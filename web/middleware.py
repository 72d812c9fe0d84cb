"""Falcon middleware: a pooled DB connection per request, request ids."""
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
