"""Human-readable execution logs (seed F5): ok/warn/error per domain.

Every row carries a language-neutral `message_key` and its
`message_params` besides `message_human`, the English text rendered when
it is written: readers get it in their language (storage/i18n, `log_text`),
and the English answer stays the stored text.
"""
import dataclasses

from storage.i18n.logs import LOGS
from storage.models import ExecutionLog

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


def entry(execution, level, domain, message, details_tech=None, step_id=None):
    """Return the INSERT of one log line, for `write` or to run inside another statement.

    `message` is a `text(...)`; a plain string is stored as it is, with no
    key (it is then served in English only).
    """
    if isinstance(message, Text):
        human, key, params = message.english, message.key, message.params or None
    else:
        human, key, params = message, None, None
    return ExecutionLog.insert(
        execution=execution.id, organization_id=execution.organization_id, level=level,
        domain=domain, message_human=human, message_key=key, message_params=params,
        details_tech=details_tech, step_id=step_id, correlation_id=execution.correlation_id)


def write(execution, level, domain, message, details_tech=None, step_id=None):
    entry(execution, level, domain, message, details_tech, step_id).execute()


#: the columns `insert_from`'s SELECT yields, in this order
COLUMNS = ("execution_id", "organization_id", "level", "domain", "message_human", "message_key", "message_params",
           "details_tech", "step_id", "correlation_id", "timestamp")


def insert_from(select_sql):
    """Return the SQL INSERT of the log lines `select_sql` yields (COLUMNS), for a fixed hot statement.

    The SELECT renders `message_human` itself, the English text of
    `message_key` (storage/i18n/logs.py) with `message_params`, as `entry` does.
    """
    return f"INSERT INTO execution_logs ({', '.join(COLUMNS)}){select_sql}"
