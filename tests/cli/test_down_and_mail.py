"""`docg down` and `docg mail`, run as commands."""
import email.message
import os
import subprocess
import sys
from urllib.parse import quote

import pytest

from storage import embedded, embedded_redis
from tests.support import ROOT


def _docg(*args, env):
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def _env(var):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "VAR_DIR": str(var)}


def _suite_on_embedded_servers():
    """True when this suite's PostgreSQL or Redis is the embedded one of ROOT/var/test (tests/conftest.py)."""
    folder = ROOT / "var" / "test"
    redis_url = "unix://" + quote(str(embedded.redis_socket_path(folder)))
    pg_url = embedded.postgres_url(folder / "pg")
    return os.environ["REDIS_URL"].startswith(redis_url) or (
        pg_url is not None and os.environ["DATABASE_URL"].partition("?")[2] == pg_url.partition("?")[2])


def test_docg_down_also_stops_the_test_suites_embedded_servers(tmp_path):
    if _suite_on_embedded_servers():
        pytest.skip("this suite runs on the embedded servers in var/test, which `docg down` stops too: "
                    "this test runs only when the suite uses external PostgreSQL and Redis")
    # Given embedded Redis servers for VAR_DIR and for the test suite's VAR_DIR/test
    var = tmp_path / "v"
    sockets = [embedded.redis_socket_path(folder) for folder in (var, var / "test")]
    for folder in (var, var / "test"):
        folder.mkdir(parents=True, exist_ok=True)
        embedded.ensure_redis(folder)
    try:
        assert all(embedded_redis.ping(sock) == "PONG" for sock in sockets)
        # When docg down runs
        done = _docg("down", env=_env(var))
        # Then both are stopped
        assert done.returncode == 0, done.stderr
        assert [embedded_redis.ping(sock) for sock in sockets] == [None, None]
    finally:
        embedded.stop(var)
        embedded.stop(var / "test")


def test_docg_mail_lists_prints_and_links_the_caught_messages(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    message = email.message.EmailMessage()
    message["To"], message["Subject"] = "ana@acme.example", "Approve the contract"
    message["X-DocG-Approval-Link"] = "http://localhost:8123/approvals/tok"
    message.set_content("Please approve.")
    (folder / "20261201T000000-abcd.eml").write_bytes(message.as_bytes())
    env = _env(tmp_path)
    listed = _docg("mail", env=env)
    assert listed.returncode == 0 and "ana@acme.example" in listed.stdout and "Approve the contract" in listed.stdout
    assert _docg("mail", "--approval-links", env=env).stdout == "http://localhost:8123/approvals/tok\n"
    assert "Please approve." in _docg("mail", "20261201T000000-abcd.eml", env=env).stdout
    assert _docg("mail", "../../etc/passwd", env=env).returncode == 1
    assert "no email caught yet" in _docg("mail", env=_env(tmp_path / "empty")).stdout
