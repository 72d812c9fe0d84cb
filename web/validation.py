"""Read requests safely: body size limit, JSON syntax (400), schema and headers (422)."""
import json

import jsonschema

from storage import starts
from web.errors import BadRequest, PayloadTooLarge, Unprocessable

MAX_BODY = 1024 * 1024
MAX_DEPTH = 64


def read_body(req, limit=MAX_BODY):
    """Return the raw body, refusing more than `limit` bytes (413)."""
    if req.content_length is not None and req.content_length > limit:
        raise PayloadTooLarge(f"The body must be at most {limit // 1024} KiB.", f"content-length {req.content_length}")
    data = req.bounded_stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The body must be at most {limit // 1024} KiB.", "body exceeds limit")
    return data


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
