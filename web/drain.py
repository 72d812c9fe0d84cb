"""Graceful shutdown of a web worker: SSE clients are told to reconnect elsewhere.

gunicorn stops accepting on SIGTERM and waits `graceful_timeout` for open
requests, but an SSE stream never ends by itself. `begin()` (called from
the worker's SIGTERM handler, see gunicorn.conf.py) wakes every open stream,
which writes a `retry:` hint and a `stream.reconnect` event and ends; the
client reconnects with its Last-Event-ID to another web process and loses
nothing.
"""
import threading

RECONNECT_MS = 1000
#: the value an SSE subscription's queue receives when the process drains
WAKE = (None, None)

_draining = threading.Event()
_wakers = set()
_lock = threading.Lock()


def draining():
    return _draining.is_set()


def register(waker):
    """Call `waker()` when the process starts draining (at once if it already is)."""
    with _lock:
        _wakers.add(waker)
    if _draining.is_set():
        waker()


def unregister(waker):
    with _lock:
        _wakers.discard(waker)


def begin():
    """Start draining: wake every registered stream (idempotent)."""
    _draining.set()
    with _lock:
        wakers = list(_wakers)
    for waker in wakers:
        waker()


def reconnect_frame():
    return (f"retry: {RECONNECT_MS}\nevent: stream.reconnect\n"
            f'data: {{"reason": "server_shutdown", "retry_ms": {RECONNECT_MS}}}\n\n').encode()
