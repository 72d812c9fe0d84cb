"""A RabbitMQ vhost per test suite, so parallel suites never share queues."""
import os
import shutil
import subprocess
from urllib.parse import quote

from tests.support import reachable

HOST, PORT = os.environ.get("DOCG_TEST_RABBITMQ_HOST", "127.0.0.1"), 5672


class Unavailable(RuntimeError):
    """RabbitMQ cannot be used here (not running, or no rabbitmqctl)."""


def _ctl(*args):
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise Unavailable(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()[-300:]}")


def fresh_vhost(name):
    """Delete and re-create vhost `name` (guest may use it); return its amqp:// URL."""
    if not reachable(HOST, PORT):
        raise Unavailable(f"nothing listens on {HOST}:{PORT}")
    if shutil.which("rabbitmqctl") is None:
        raise Unavailable("rabbitmqctl is not installed (needed to create the suite's vhost)")
    subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)
    _ctl("add_vhost", name)
    _ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{HOST}:{PORT}/{quote(name, safe='')}"
