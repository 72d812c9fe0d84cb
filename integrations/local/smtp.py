"""Deliver mail over one reused SMTP connection per worker thread and server URL.

Opening a connection costs a TCP handshake, the greeting, EHLO and, when
the URL asks for them, STARTTLS and AUTH: most of an email node's time on a
local server. `smtp_send()` keeps the connection it used in a thread-local
pool keyed by the whole `SMTP_URL` (host, port, options and credentials), so
the next message from the same thread to the same server skips all that.

A kept connection is not trusted forever: after `IDLE_S` without use or
`MAX_AGE_S` since it opened it is closed and a new one opened (servers drop
idle sessions, RFC 5321 suggests after 5 minutes; many do it sooner). A
connection the server dropped anyway shows up as a disconnect or a 421 reply
to MAIL FROM; then, and only when the message never reached DATA, it is sent
once more on a fresh connection.

NOTE: "never reached DATA" is `data_started`, set right before the DATA
command and after `before_data()` (the ledger's point of no return). A
failure after that is never retried here: the server may hold the message,
so the error says `outcome_unknown` and the ledger decides (review or
resend), exactly as with one connection per message.

Connections are closed when a worker thread stops (`close_thread()`, from
the `SmtpConnections` Dramatiq middleware) and at process exit (`close_all()`).
"""
import atexit
import os
import smtplib
import ssl
import threading
import time
import weakref
from urllib.parse import parse_qs, unquote, urlparse

from integrations.errors import Unavailable

#: seconds a kept connection may sit unused before it is replaced (below common server idle timeouts)
IDLE_S = 20.0
#: seconds after which a kept connection is replaced however busy it is
MAX_AGE_S = 300.0

_local = threading.local()
_registry_lock = threading.Lock()
_registry = weakref.WeakSet()  # NOTE: weak, so a pool dropped with its thread (or greenlet) frees its clients


class _Staged:
    """Call `before_data()` right before the DATA command: the message's point of no return."""

    before_data = None
    data_started = False
    opened_at = used_at = 0.0

    def data(self, msg):
        if self.before_data is not None:
            self.before_data()
        self.data_started = True
        return super().data(msg)


class _SMTP(_Staged, smtplib.SMTP):
    pass


class _SMTP_SSL(_Staged, smtplib.SMTP_SSL):
    pass


def _pool():
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def _open(url, port, timeout):
    options = {k: v[-1] for k, v in parse_qs(url.query).items()}
    if url.scheme == "smtps":
        client = _SMTP_SSL(url.hostname, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = _SMTP(url.hostname, port, timeout=timeout)
    with _registry_lock:
        _registry.add(client)
    try:
        if options.get("starttls") in ("1", "true"):
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
    except BaseException:
        _close(client)
        raise
    client.opened_at = client.used_at = time.monotonic()
    return client


def _fresh(client, now):
    return (client.sock is not None and now - client.used_at <= IDLE_S
            and now - client.opened_at <= MAX_AGE_S)


def answered_lately(smtp_url):
    """Whether this thread holds a fresh connection to `smtp_url` (the server answered within IDLE_S)."""
    client = _pool().get(smtp_url)
    return client is not None and _fresh(client, time.monotonic())


def _take(key):
    """Return (a kept connection for `key` or None); a stale one is closed."""
    client = _pool().pop(key, None)
    if client is None:
        return None
    if not _fresh(client, time.monotonic()):
        _close(client)
        return None
    return client


def _close(client, *, quit_timeout=None):
    if client is None:
        return
    with _registry_lock:
        _registry.discard(client)
    try:
        if client.sock is not None and quit_timeout is not None:
            client.sock.settimeout(quit_timeout)
            client.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        client.close()


def _dropped(ex):
    """Whether `ex` says the server had closed the connection (not that it refused the message)."""
    if isinstance(ex, smtplib.SMTPResponseException):
        return ex.smtp_code == 421
    return isinstance(ex, (smtplib.SMTPServerDisconnected, ConnectionError))


def _transact(client, message, before_data, timeout):
    client.before_data, client.data_started = before_data, False
    client.timeout = timeout
    if client.sock is not None:
        client.sock.settimeout(timeout)
    return client.send_message(message)


def smtp_send(smtp_url, message, *, timeout=30, before_data=None):
    """Deliver `message` through the server named by an smtp:// or smtps:// URL.

    `before_data()` is called right before DATA. A failure after that with no
    answer from the server (a dropped connection, a timeout) leaves the
    outcome unknown: the error raised says so (`outcome_unknown`).
    """
    url = urlparse(smtp_url)
    port = url.port or (465 if url.scheme == "smtps" else 25)
    client, kept = None, False
    try:
        client = _take(smtp_url)
        reused = client is not None
        if client is None:
            client = _open(url, port, timeout)
        try:
            refused = _transact(client, message, before_data, timeout)
        except (OSError, smtplib.SMTPException) as ex:
            if not (reused and not client.data_started and _dropped(ex)):
                raise
            _close(client)  # NOTE: the kept connection had died; the message never reached DATA.
            client = None
            client = _open(url, port, timeout)
            refused = _transact(client, message, before_data, timeout)
        client.used_at = time.monotonic()
        _pool()[smtp_url] = client
        kept = True
    except (OSError, smtplib.SMTPException) as ex:
        error = Unavailable("The email server could not be reached; the step will be retried.",
                            f"SMTP {url.hostname}:{port}: {ex!r}")
        error.outcome_unknown = (before_data is not None and bool(getattr(client, "data_started", False))
                                 and not isinstance(ex, smtplib.SMTPResponseException))
        raise error from ex
    finally:
        if not kept:
            _close(client)
    return refused


def close_thread():
    """Close this thread's kept connections (a worker thread is stopping)."""
    pool = _pool()
    while pool:
        _close(pool.popitem()[1], quit_timeout=2.0)


def close_all():
    """Close every kept connection of the process (the worker or the process is stopping)."""
    with _registry_lock:
        clients = list(_registry)
    for client in clients:
        _close(client, quit_timeout=2.0)


def _forget_after_fork():
    """A forked child must not QUIT its parent's sessions: drop them without a word."""
    global _local, _registry, _registry_lock
    _local, _registry, _registry_lock = threading.local(), weakref.WeakSet(), threading.Lock()


atexit.register(close_all)
os.register_at_fork(after_in_child=_forget_after_fork)
