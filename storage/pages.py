"""Keyset pagination with opaque, stable cursors (ordered ids, never random).

`next_cursor` is null when `has_more` is false (seed F5); a client that
follows a growing list (a run's logs) polls with the cursor of its last
full page, or filters by time.
"""
import base64
import json

from storage.errors import StorageError


class BadCursor(StorageError):
    code = "invalid_cursor"
    message_human = "The cursor is not valid; start again without it."


def encode(last_id):
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode(cursor):
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(data["after"])
    except (ValueError, KeyError, TypeError) as ex:
        raise BadCursor(message_tech=f"cursor {cursor!r}: {ex}") from ex


def page(query, id_field, *, limit, cursor):
    """Return (rows, has_more, next_cursor) for rows ordered by `id_field` ascending."""
    after = decode(cursor)
    if after is not None:
        query = query.where(id_field > after)
    rows = list(query.order_by(id_field).limit(limit + 1))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, has_more, encode(rows[-1].id) if has_more else None
