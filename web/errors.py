"""Translate every error into the JSON shape of SPEC §7, in one place.

`{"error": {"code", "message_human", "message_tech"}}` with the right
status. Storage and integration errors map by class; Falcon's own errors
(404 route, 405 method, bad headers) are reshaped; anything unexpected is a
logged 500 with no internals leaked. When PostgreSQL or Redis cannot be
reached (down, or every pooled connection busy past the pool timeout) the
answer is a 503 with `Retry-After`, not a 500: the client should retry.
"""
import logging

import dramatiq.errors
import falcon
import peewee
import redis
from playhouse.pool import MaxConnectionsExceeded

from integrations.errors import IntegrationError, InvalidConfig, OutboundBlocked
from storage.errors import Conflict, InvalidTransition, NotFound, SecretNotSet, StorageError
from storage.pages import BadCursor

log = logging.getLogger("docg.web")


class ApiError(Exception):
    """An error the API answers on purpose."""

    status = falcon.HTTP_400
    code = "bad_request"
    message_human = "The request is not valid."

    def __init__(self, message_human=None, message_tech="", *, code=None, details=None, headers=None):
        super().__init__(message_tech or message_human or self.message_human)
        self.message_human = message_human or self.message_human
        self.message_tech = message_tech
        self.code = code or self.code
        self.details = details
        self.headers = headers or {}


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status, code, message_human = falcon.HTTP_401, "unauthorized", "Authentication is required."


class Forbidden(ApiError):
    status, code, message_human = falcon.HTTP_403, "forbidden", "You may not do that."


class NotFoundError(ApiError):
    status, code, message_human = falcon.HTTP_404, "not_found", "Not found."


class Gone(ApiError):
    status, code, message_human = falcon.HTTP_410, "gone", "This link is no longer valid."


class PayloadTooLarge(ApiError):
    status, code, message_human = falcon.HTTP_413, "payload_too_large", "The request body is too large."


class RequestTimeout(ApiError):
    status, code, message_human = falcon.HTTP_408, "request_timeout", "The request body arrived too slowly."


class Unprocessable(ApiError):
    status, code, message_human = falcon.HTTP_422, "invalid_fields", "Some fields are invalid."


class TooManyStreams(ApiError):
    """This web process already serves as many SSE streams as it admits."""

    status, code = falcon.HTTP_503, "too_many_streams"
    message_human = "Too many live streams are open on this server right now; try again shortly."

    def __init__(self, message_tech, *, retry_after):
        super().__init__(message_tech=message_tech, headers={"Retry-After": str(retry_after)})


#: PostgreSQL or Redis cannot be reached, or the connection pool stayed exhausted.
UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError, MaxConnectionsExceeded,
               redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
               dramatiq.errors.BrokerConnectionError)  # RabbitMQ (BROKER_URL=amqp://) unreachable
RETRY_AFTER_SECONDS = 5

STORAGE_STATUS = [
    (BadCursor, falcon.HTTP_400),
    (NotFound, falcon.HTTP_404),
    (InvalidTransition, falcon.HTTP_409),
    (Conflict, falcon.HTTP_409),
    (SecretNotSet, falcon.HTTP_422),
]


def _body(code, human, tech, details=None):
    error = {"code": code, "message_human": human, "message_tech": tech}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _answer(resp, status, body):
    resp.status = status
    resp.media = body
    resp.content_type = falcon.MEDIA_JSON


def handle_api_error(req, resp, ex, params):
    _answer(resp, ex.status, _body(ex.code, ex.message_human, ex.message_tech, ex.details))
    resp.set_headers(ex.headers)


def handle_storage_error(req, resp, ex, params):
    status = next((s for cls, s in STORAGE_STATUS if isinstance(ex, cls)), None)
    if status is None:
        log.exception("storage error on %s %s", req.method, req.path)
        status = falcon.HTTP_500
    _answer(resp, status, _body(ex.code, ex.message_human, ex.message_tech))


def handle_integration_error(req, resp, ex, params):
    if isinstance(ex, (InvalidConfig, OutboundBlocked)):
        status = falcon.HTTP_422
    else:
        status = falcon.HTTP_503 if ex.retryable else falcon.HTTP_502
    _answer(resp, status, _body(ex.code, ex.message_human, ex.message_tech))


def handle_http_error(req, resp, ex, params):
    code = (ex.title or "error").lower().replace(" ", "_")
    _answer(resp, ex.status, _body(code, ex.title or "Error", ex.description or ""))
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def handle_unavailable(req, resp, ex, params):
    log.warning("dependency unavailable on %s %s: %r", req.method, req.path, ex)
    _answer(resp, falcon.HTTP_503, _body("service_unavailable",
                                         "DocG cannot reach its database or queue right now. Retry in a few seconds.",
                                         type(ex).__name__))
    resp.set_header("Retry-After", str(RETRY_AFTER_SECONDS))


def handle_invalid_value(req, resp, ex, params):
    """PostgreSQL refused a value the edge checks let through (a safety net, logged)."""
    log.warning("database refused a value on %s %s: %r", req.method, req.path, ex)
    _answer(resp, falcon.HTTP_400, _body("invalid_value", "A value in the request cannot be stored.",
                                         str(ex).splitlines()[0] if str(ex) else type(ex).__name__))


def handle_unexpected(req, resp, ex, params):
    if isinstance(ex, falcon.HTTPError):
        return handle_http_error(req, resp, ex, params)
    log.exception("unexpected error on %s %s", req.method, req.path)
    _answer(resp, falcon.HTTP_500, _body("internal_error", "Something went wrong on our side.",
                                         f"{type(ex).__name__}"))


def install(app):
    """Register the handlers; later registrations win for more specific types."""
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(UNAVAILABLE, handle_unavailable)
    app.add_error_handler(peewee.DataError, handle_invalid_value)
    app.add_error_handler(StorageError, handle_storage_error)
    app.add_error_handler(IntegrationError, handle_integration_error)
    app.add_error_handler(ApiError, handle_api_error)
