"""Named crash points for fault-injection tests (off unless DOCG_FAULT is set).

With the setting `DOCG_FAULT=after_commit` the process exits at once, like
`kill -9` (no cleanup, no ack, no relay), the first time it reaches
`point("after_commit")`. Production leaves it empty: a point is one
comparison.
"""
import os

_armed = ""


def configure(name):
    global _armed
    _armed = name or ""


def point(name):
    """Exit the process without cleanup if this process was armed to die at `name`."""
    if _armed and _armed == name:
        os._exit(137)
