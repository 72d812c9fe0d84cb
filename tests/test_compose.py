"""docker-compose.yml runs what the Procfile runs, restarts, checks health, refuses placeholder secrets."""
import os
import re
import shlex
import subprocess
import sys

import yaml

from tests.support import ROOT

LONG_RUNNING = ("postgres", "redis", "web", "worker", "clock", "mailhog")
ROLES = ("web", "worker", "clock")


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def interpolate(value, environ=None):
    """Resolve compose's ${NAME:-default} with `environ` (unset by default)."""
    environ = environ or {}
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: environ.get(m.group(1)) or m.group(2), str(value))


def procfile():
    """{role: (env assignments, argv)} with shell defaults resolved."""
    roles = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        words = shlex.split(interpolate(command))
        assignments = {}
        while words and re.match(r"^\w+=", words[0]):
            key, _, value = words.pop(0).partition("=")
            assignments[key] = value
        roles[name.strip()] = (assignments, words)
    return roles


def test_every_long_running_service_restarts_and_the_roles_check_their_health():
    services = compose()
    assert {name: services[name].get("restart") for name in LONG_RUNNING} == dict.fromkeys(LONG_RUNNING,
                                                                                          "unless-stopped")
    assert services["release"]["restart"] == "no"
    for name in ("postgres", "redis", *ROLES):
        assert services[name]["healthcheck"]["test"], name
    for role in ROLES:
        assert services[role]["healthcheck"]["test"] == ["CMD", "docg", "health", role]


def test_the_roles_run_the_procfile_commands_with_its_environment():
    services, roles = compose(), procfile()
    assert services["release"]["command"] == roles["release"][1]
    for role in ROLES:
        assignments, argv = roles[role]
        assert services[role]["command"] == argv, role
        environment = services[role]["environment"]
        for key, value in assignments.items():
            assert str(environment.get(key)) == value, f"{role}: {key}"
    assert services["clock"]["environment"]["TZ"] == "UTC"


def _release(environ):
    app = {key: interpolate(value, environ) for key, value in compose()["release"]["environment"].items()}
    env = {k: v for k, v in os.environ.items() if k not in app}
    return subprocess.run([sys.executable, "-m", "cli", "migrate"], cwd=ROOT, env={**env, **app, **environ},
                          capture_output=True, text=True, timeout=60)


def test_the_release_refuses_change_me_secrets_outside_the_dev_profile():
    refused = _release({})
    assert refused.returncode == 2 and "change-me" in refused.stderr and "DOCG_PROFILE" in refused.stderr
    real = {"SECRET_KEY": "s3cr3t-for-the-test", "ADMIN_TOKEN": "admin-for-the-test",
            "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    assert _release(real).returncode == 0
    assert _release({"DOCG_PROFILE": "dev", "DATABASE_URL": os.environ["DATABASE_URL"],
                     "REDIS_URL": os.environ["REDIS_URL"]}).returncode == 0
