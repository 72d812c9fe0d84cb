"""Dramatiq middleware: a pooled database connection, the log correlation id, envelope versions,
the kept SMTP connections."""
import logging
import threading

import dramatiq
import peewee
from dramatiq.middleware import TimeLimit

import settings
from actors import envelope

from storage.db import database

_log = logging.getLogger("docg.worker")


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
        if database.is_closed():
            return
        if exception is not None:
            # NOTE: a hop releases its step claim (a session advisory lock) on every path it knows of; a
            # message that ended in an exception may have left through one it does not (a time limit
            # landing between two statements), and a pooled connection must never go back holding one.
            try:
                database.execute_sql("SELECT pg_advisory_unlock_all()")
            except peewee.DatabaseError:
                pass
        database.close()

    after_skip_message = after_process_message


class SmtpConnections(dramatiq.Middleware):
    """Close the SMTP connections a worker thread kept (integrations/local/smtp.py) when it stops."""

    def before_worker_thread_shutdown(self, broker, thread):
        from integrations.local import smtp

        smtp.close_thread()

    def after_worker_shutdown(self, broker, worker):
        from integrations.local import smtp

        smtp.close_all()


class EnvelopeVersion(dramatiq.Middleware):
    """Stamp messages with the envelope version; leave unknown ones for others.

    A message without a version comes from a release before versions
    (version 1). A worker that does not support a message's version (a newer
    release sent it during a rolling deploy) puts a copy back on the queue
    after a growing delay and skips the original, so a compatible worker
    picks it up; it never runs or crashes on it. After MAX_DEFERRALS (about
    25 minutes) with no compatible worker, the message is dead-lettered: the
    run's state is in PostgreSQL, so the reaper re-drives it with a message
    this release understands.
    """

    MAX_DELAY_MS = 60_000
    MAX_DEFERRALS = 30

    def before_enqueue(self, broker, message, delay):
        message.options.setdefault("envelope_version", envelope.ENVELOPE_VERSION)

    def before_process_message(self, broker, message):
        version = message.options.get("envelope_version", 1)
        if version in envelope.SUPPORTED_VERSIONS:
            return
        if message.options.get("deferrals", 0) >= self.MAX_DEFERRALS:
            _log.error("message %s of %s has envelope version %r and no worker took it: dead-lettered",
                       message.message_id, message.actor_name, version)
            message.fail()
            raise dramatiq.middleware.SkipMessage(f"envelope version {version!r}: no compatible worker")
        deferrals = message.options.get("deferrals", 0) + 1
        delay = min(self.MAX_DELAY_MS, 500 * 2 ** min(deferrals, 10))
        broker.enqueue(message.copy(options={"deferrals": deferrals}), delay=delay)
        from telemetry import metrics

        metrics.instruments().deferred.inc()
        _log.warning("message %s of %s has envelope version %r (this worker supports %s): left for a compatible "
                     "worker, again in %sms", message.message_id, message.actor_name, version,
                     sorted(envelope.SUPPORTED_VERSIONS), delay)
        raise dramatiq.middleware.SkipMessage(f"envelope version {version!r} not supported")


def rearm_time_limit(broker, actor):
    """Give the current thread's message a fresh `actor` time limit, for the next node run in it.

    TimeLimit arms one deadline per thread when a message starts; a node
    chained in the same message (actors/pipeline.py) gets its own, as if
    it had a message of its own. `manager.add_timeout` is what TimeLimit
    itself calls in before_process_message.
    """
    for middleware in broker.middleware:
        if isinstance(middleware, TimeLimit):
            limit = actor.options.get("time_limit", middleware.time_limit)
            middleware.manager.add_timeout(threading.get_ident(), limit)
