"""Redact secrets at any depth before a snapshot is stored or shown."""
import re

SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|credential|authorization|private[_-]?key"
    r"|client[_-]?secret|refresh|cookie|signature",
    re.IGNORECASE,
)
REDACTED = "[REDACTED]"


def redact(value):
    """Return a copy of `value` with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and SECRET_KEY.search(key) and value[key] not in (None, "")
                else redact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value
