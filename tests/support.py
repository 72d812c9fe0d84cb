"""Test helpers: waiting on conditions, real processes, a real SMTP server."""
import contextlib
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout=30.0, interval=0.05, message="condition"):
    """Poll `predicate` until it returns a truthy value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def reset_servers(db_url, redis_url):
    """Rebuild the schema of `db_url` from the migrations and empty the Redis db of `redis_url` (suite, benches)."""
    import redis

    from storage import db as db_module
    from storage import migrations

    database = db_module.init(db_url, max_connections=2)
    with database.connection_context():
        database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        migrations.apply(database)
    database.close_all()
    redis.Redis.from_url(redis_url).flushdb()


@contextlib.contextmanager
def audit_row_edited(db, row_id, column, value):
    """Edit one audit row behind the append-only trigger's back, and put it back on the way out.

    The suite's database must keep an intact trail: tests/storage/test_backup.py
    verifies the whole trail of the same database after a restore.
    """
    def put(new):
        with db.atomic():
            db.execute_sql("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update")
            db.execute_sql(f"UPDATE audit_events SET {column} = %s WHERE id = %s", (new, row_id))
            db.execute_sql("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update")

    (original,) = db.execute_sql(f"SELECT {column}::text FROM audit_events WHERE id = %s", (row_id,)).fetchone()
    put(value)
    try:
        yield
    finally:
        put(original)


def in_thread(fn):
    """Run `fn` on a thread with its own pooled connection; return (thread, box) with box['result'] or ['error']."""
    from storage.db import database

    box = {}

    def run():
        database.connect(reuse_if_open=True)
        try:
            box["pid"] = database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
            box["ready"] = True
            box["result"] = fn(box)
        except Exception as ex:  # noqa: BLE001 - handed to the test
            box["error"] = ex
        finally:
            if not database.is_closed():
                database.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def wait_on_a_lock(box, message):
    """Wait until the backend of an `in_thread` box waits for a lock (pg_stat_activity)."""
    from storage.db import database

    wait_until(lambda: box.get("ready") and database.execute_sql(
        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = %s", (box["pid"],)).fetchone()[0],
        message=message)


@contextlib.contextmanager
def run_row_held(execution_id):
    """Hold the run's row lock on a connection of its own for the block, as a cancel does before anything else."""
    from storage import runstate
    from storage.db import database

    locked, go_on = threading.Event(), threading.Event()

    def hold(box):
        with database.atomic():
            runstate.lock(execution_id)
            locked.set()
            go_on.wait(30)

    thread, box = in_thread(hold)
    assert locked.wait(30), box.get("error")
    try:
        yield
    finally:
        go_on.set()
        thread.join(30)
    assert "error" not in box, box["error"]


def http_ok(url, timeout=5):
    """True when `url` answers 200 (any connection error or timeout is False)."""
    import requests

    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reachable(host, port, timeout=0.3):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Process:
    """A real child process (dramatiq worker, gunicorn) with its log on disk."""

    def __init__(self, name, argv, log_dir, env=None):
        self.name, self.argv = name, argv
        self.log_path = Path(log_dir) / f"{name}-{time.monotonic_ns()}.log"
        self.env = {**os.environ, **(env or {})}
        self.proc = None
        self._log_from = 0

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def log(self):
        """What the process logged (since `mark_log()`, when that was called)."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_from)
            return log.read().decode(errors="replace")

    def mark_log(self):
        """Make `log()` start here: a process reused by the next test module shows it only its own lines."""
        self._log_from = self.log_path.stat().st_size if self.log_path.exists() else 0

    def wait_for_log(self, text, timeout=30.0):
        wait_until(lambda: text in self.log() or self.proc.poll() is not None, timeout, message=f"{self.name}: {text}")
        assert self.proc.poll() is None, f"{self.name} exited early:\n{self.log()[-3000:]}"

    def children(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def kill(self, sig=signal.SIGKILL):
        """Send `sig` to the whole process group (master and forked workers)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def terminate(self):
        """SIGTERM the main process only, as `docker stop` or systemd do."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout=20.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.terminate()
        self.reap(timeout)

    def reap(self, timeout=20.0):
        """Wait for a process already told to stop; SIGKILL it after `timeout`."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()


#: the last thing each `dramatiq` worker process logs; after it, it only exits
WORKER_SHUT_DOWN = "Worker has been shut down"


def start_worker(log_dir, *, processes=1, threads=8, env=None):
    worker = Process("worker", [sys.executable, "-m", "dramatiq", "actors", "--processes", str(processes),
                                "--threads", str(threads), "--worker-shutdown-timeout", "15000"],
                     log_dir, env=env).start()
    worker.processes = processes
    worker.wait_for_log("Worker process is ready", timeout=60)
    return worker


def stop_workers(workers, timeout=20.0):
    """SIGTERM `workers` at once; return when every worker process of theirs has shut down.

    NOTE: a `dramatiq` main process takes another second or two to exit
    after its workers did (its log watcher polls once a second). It no
    longer touches the broker or the database by then, so that wait runs
    in the background instead of in the next test.
    """
    live = [w for w in workers if w.proc is not None and w.proc.poll() is None]
    for worker in live:
        worker.terminate()
    for worker in live:
        try:
            wait_until(lambda w=worker: w.proc.poll() is not None
                       or w.log().count(WORKER_SHUT_DOWN) >= getattr(w, "processes", 1),
                       timeout, message=f"{worker.name} shut down")
        except AssertionError:
            pass  # reap() kills it
        threading.Thread(target=worker.reap, args=(timeout,), name="reap-worker", daemon=True).start()


def start_web(log_dir, port, env=None, wait=True):
    """Start gunicorn on `port`; with `wait=False` return at once (then `wait_for_web` before using it).

    NOTE: a web process takes 1-2 s to listen, as a worker takes to be
    ready; a test that needs both starts the web without waiting, then the
    worker, then waits for the web, so the two boots overlap.
    """
    web = Process("web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1",
                          "--bind", f"127.0.0.1:{port}", "web.wsgi:app"],
                  log_dir, env={**(env or {}), "PORT": str(port)}).start()
    web.port = port
    return wait_for_web(web) if wait else web


def wait_for_web(web):
    """Return `web` once it listens on its port; fail with its log if it exited instead."""
    wait_until(lambda: reachable("127.0.0.1", web.port) or web.proc.poll() is not None, 60, message="web port")
    assert web.proc.poll() is None, web.log()
    return web


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps what it receives."""

    def __init__(self, port):
        from aiosmtpd.controller import Controller

        self.port = port
        self._holds = {}
        self.held = []
        self._messages = []
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    def hold(self, address):
        """Stall any delivery to `address` at RCPT until the returned event is set."""
        event = threading.Event()
        self._holds[address] = event
        return event

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio

        hold = self._holds.get(address)
        if hold is not None and not hold.is_set():
            self.held.append(address)
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 60)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self._messages.append(parsed)
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def messages(self, to=None):
        with self._lock:
            found = list(self._messages)
        return [m for m in found if to is None or to in str(m["To"])]

    def wait_for(self, to, count=1, timeout=30.0):
        return wait_until(lambda: len(self.messages(to)) >= count and self.messages(to), timeout,
                          message=f"{count} email(s) to {to}")


class SseClient:
    """Read a real text/event-stream response frame by frame."""

    def __init__(self, url, headers=None, timeout=30):
        import requests

        self.response = requests.get(url, headers=headers or {}, stream=True, timeout=timeout)
        self.lines = self.response.iter_lines(decode_unicode=True)
        self.comments = []
        self.retry = None

    def next_event(self):
        """Return (id, event, data) of the next event, or None when the stream ends."""
        import json

        frame = {}
        for line in self.lines:
            if line == "":
                if "event" in frame:
                    return frame.get("id"), frame["event"], json.loads(frame["data"])
                frame = {}
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "retry":
                self.retry = int(value)
            else:
                frame[field] = value
        return None

    def next_comment(self):
        """Return the next comment line (heartbeats), skipping nothing else."""
        for line in self.lines:
            if line.startswith(":"):
                return line
            if line and not line.startswith(("id:", "event:", "data:", "retry:")):
                continue
        return None

    def events_until(self, predicate):
        seen = []
        while (event := self.next_event()) is not None:
            seen.append(event)
            if predicate(event):
                break
        return seen

    def close(self):
        self.response.close()


def queue_drained(broker, queue_name="pipeline"):
    """True when no message of `queue_name` is queued or in flight (acked = gone), on either broker."""
    return queue_messages(broker, queue_name) == 0


def queue_messages(broker, queue_name="pipeline", *, ready_only=False):
    """Messages of `queue_name` queued (and, unless `ready_only`, delivered but not acked)."""
    if hasattr(broker, "client"):
        if ready_only:
            return broker.client.llen(f"{broker.namespace}:{queue_name}")
        return broker.client.hlen(f"{broker.namespace}:{queue_name}.msgs")
    from urllib.parse import unquote, urlparse

    vhost = unquote(urlparse(os.environ["BROKER_URL"]).path.lstrip("/")) or "/"
    column = "messages_ready" if ready_only else "messages"
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", column, "--no-table-headers"],
                         capture_output=True, text=True, timeout=30).stdout
    counts = dict(line.split()[:2] for line in out.splitlines() if len(line.split()) >= 2)
    return int(counts.get(queue_name, 0))
