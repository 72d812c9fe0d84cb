"""Read requests safely: body size and time limits, JSON syntax (400), schema and headers (422)."""
import contextlib
import json
import re
import socket

import jsonschema

from storage import starts
from web.errors import BadRequest, PayloadTooLarge, RequestTimeout, Unprocessable

MAX_BODY = 1024 * 1024
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_body(req, limit=MAX_BODY, timeout=None):
    """Return the raw body, refusing more than `limit` bytes (413) or a body that stalls (408).

    A chunked body (no Content-Length) is read too, up to the same limit.
    `timeout` (BODY_READ_TIMEOUT_SECONDS by default) bounds the whole read
    when served by gunicorn, so a client that stops sending is cut off.
    """
    too_large = PayloadTooLarge(f"The body must be at most {limit // 1024} KiB.", "body exceeds limit",
                                headers={"Connection": "close"})
    if req.content_length is not None and req.content_length > limit:
        too_large.message_tech = f"content-length {req.content_length}"
        raise too_large
    chunked = req.content_length is None and "chunked" in (req.get_header("Transfer-Encoding") or "").lower()
    stream = req.stream if chunked and req.env.get("wsgi.input_terminated") else req.bounded_stream
    with body_deadline(req, BODY_READ_TIMEOUT if timeout is None else timeout):
        data = _read_up_to(stream, limit + 1)
    if len(data) > limit:
        raise too_large
    return data


def _read_up_to(stream, size):
    parts, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 64 * 1024))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


#: set from BODY_READ_TIMEOUT_SECONDS by create_app
BODY_READ_TIMEOUT = 15.0


@contextlib.contextmanager
def body_deadline(req, seconds):
    """Turn a body read that outlives `seconds` into a 408 (gevent timer, else a socket timeout)."""
    sock = req.env.get("gunicorn.socket")
    if sock is None or not seconds:
        yield
        return
    timer, previous = _gevent_timeout(seconds), sock.gettimeout()
    try:
        if timer is None:
            sock.settimeout(seconds)
        else:
            timer.start()
        yield
    except (OSError, _Stalled) as ex:
        _stop_reading(sock)
        raise RequestTimeout(f"The request body did not arrive within {seconds:g} seconds.",
                             f"body read: {type(ex).__name__}", headers={"Connection": "close"}) from ex
    finally:
        if timer is not None:
            timer.close()
        else:
            sock.settimeout(previous)


def _stop_reading(sock):
    """End the connection after the answer: gunicorn ignores `Connection: close` from the app and
    would wait for the rest of the body; with the read side shut it sees the end and closes."""
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class _Stalled(Exception):
    """Raised by the gevent timer inside a stalled body read."""


def _gevent_timeout(seconds):
    try:
        from gevent import Timeout, monkey
    except ImportError:
        return None
    return Timeout(seconds, _Stalled) if monkey.is_module_patched("socket") else None


def read_json(req, schema=None, *, required=True):
    """Parse the JSON body and validate it against `schema`."""
    raw = read_body(req)
    if not raw.strip():
        if required:
            raise BadRequest("The request needs a JSON body.", "empty body", code="malformed_json")
        data = {}
    else:
        data = parse_json(raw)
    if schema is not None:
        validate(data, schema)
    return data


def parse_json(raw):
    """Decode a JSON body that PostgreSQL can store: 400 if malformed or nested
    deeper than MAX_DEPTH, 422 if a string holds NUL (jsonb and text refuse it)."""
    try:
        data = json.loads(raw)
    except RecursionError as ex:
        raise BadRequest("The body is nested too deeply.", "JSON recursion limit", code="malformed_json") from ex
    except (ValueError, UnicodeDecodeError) as ex:
        raise BadRequest("The body is not valid JSON.", str(ex), code="malformed_json") from ex
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"The body is nested more than {MAX_DEPTH} levels deep.", f"depth > {MAX_DEPTH}",
                             code="malformed_json")
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            raise Unprocessable("Text may not contain the NUL character (\\u0000).", "NUL in a JSON string",
                                code="invalid_text")
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise Unprocessable("Text may not contain a lone UTF-16 surrogate (\\ud800-\\udfff).",
                                "lone surrogate in a JSON string", code="invalid_text")
    return data


def validate(data, schema):
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        details = [{"field": "/".join(str(p) for p in e.path) or "(body)", "problem": e.message} for e in errors[:20]]
        first = details[0]
        raise Unprocessable(f"Invalid field {first['field']}: {first['problem']}",
                            "; ".join(f"{d['field']}: {d['problem']}" for d in details), details=details)


def idempotency_key(req, *headers):
    """The request's `Idempotency-Key` (or the first of `headers`), checked; None if absent."""
    key = next((req.get_header(h) for h in ("Idempotency-Key", *headers) if req.get_header(h)), None)
    if key is not None and not 1 <= len(key) <= starts.MAX_KEY_LENGTH:
        raise Unprocessable(f"Idempotency-Key must be 1 to {starts.MAX_KEY_LENGTH} characters.",
                            f"idempotency key of {len(key)} characters", code="idempotency.invalid_key")
    return key
