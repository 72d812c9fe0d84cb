"""Human-readable execution logs (seed F5): ok/warn/error per domain.

Every row carries a language-neutral `message_key` and its
`message_params` besides `message_human`, the English text rendered when
it is written: readers get it in their language (storage/i18n, `log_text`),
and the English answer stays the stored text.
"""
import dataclasses
import json

from storage.db import database
from storage.i18n.logs import LOGS
from storage.models import utcnow

LEVELS = ("ok", "warn", "error")
DOMAINS = ("preflight", "step", "delivery", "signature", "approval")


@dataclasses.dataclass(frozen=True)
class Text:
    """A log message: its catalogue key and params (storage/i18n/logs.py)."""

    key: str
    params: dict

    @property
    def english(self):
        return LOGS[self.key]["en"].format(**self.params)


def text(key, **params):
    """The message `key` of the log catalogue with its params; an unknown key fails here, not on read."""
    if key not in LOGS:
        raise KeyError(f"no log text {key!r} in storage/i18n/logs.py")
    return Text(key, params)


def failure(key, error, **params):
    """The message `key` whose `{error}` is `error`'s human text, translated on read by its code."""
    return text(key, error=error.message_human, error_code=error.code, **params)


def write(execution, level, domain, message, details_tech=None, step_id=None):
    """Append one log line (one fixed INSERT, in the caller's transaction if there is one).

    `message` is a `text(...)`; a plain string is stored as it is, with no
    key (it is then served in English only).
    """
    if isinstance(message, Text):
        human, key, params = message.english, message.key, message.params or None
    else:
        human, key, params = message, None, None
    database.execute_sql(_INSERT, (
        str(execution.id), str(execution.organization_id), level, domain, human, key,
        None if params is None else json.dumps(params, default=str), details_tech,
        None if step_id is None else str(step_id),
        None if execution.correlation_id is None else str(execution.correlation_id), utcnow()))


#: the columns `insert_from`'s SELECT yields, in this order
COLUMNS = ("execution_id", "organization_id", "level", "domain", "message_human", "message_key", "message_params",
           "details_tech", "step_id", "correlation_id", "timestamp")


def insert_from(select_sql):
    """Return the SQL INSERT of the log lines `select_sql` yields (COLUMNS), for a fixed hot statement.

    The SELECT renders `message_human` itself, the English text of
    `message_key` (storage/i18n/logs.py) with `message_params`, as `write` does.
    """
    return f"INSERT INTO execution_logs ({', '.join(COLUMNS)}){select_sql}"


_INSERT = insert_from(" VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)")
