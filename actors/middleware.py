"""Dramatiq middleware: a pooled database connection and the log correlation id."""
import dramatiq

import settings

from storage.db import database


class CorrelationId(dramatiq.Middleware):
    """Tag the log lines of a message with its run's correlation id."""

    def before_process_message(self, broker, message):
        first = message.args[0] if message.args else None
        settings.correlation_id.set(first.get("correlation_id") if isinstance(first, dict) else None)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        settings.correlation_id.set(None)

    after_skip_message = after_process_message


class DatabaseConnection(dramatiq.Middleware):
    """Open a pooled connection before each message and return it after."""

    def before_process_message(self, broker, message):
        database.connect(reuse_if_open=True)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if not database.is_closed():
            database.close()

    after_skip_message = after_process_message
