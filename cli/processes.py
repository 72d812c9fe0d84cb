"""`docg up`: migrate, then run the Procfile's web, worker and clock with honcho."""
import os
import secrets
import sys
from pathlib import Path

from honcho.manager import Manager

import settings as settings_module

ROOT = Path(__file__).resolve().parent.parent


def procfile_commands():
    """Return {name: command} from the Procfile, so `up` runs what Heroku runs."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not line.lstrip().startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


def environment(config, *, port=None):
    settings_module.export_embedded(config)
    env = dict(os.environ)
    env.setdefault("ADMIN_TOKEN", secrets.token_urlsafe(16))
    env["PORT"] = str(port or config.port)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def up(config, *, port=None):
    env = environment(config, port=port)
    commands = procfile_commands()
    manager = Manager()
    from cli import cmd_migrate

    cmd_migrate(None)
    print(f"DocG on http://localhost:{env['PORT']}  (dashboard: /ops/dramatiq, admin token {env['ADMIN_TOKEN']})")
    for name in ("web", "worker", "clock"):
        manager.add_process(name, commands[name], env=env, cwd=str(ROOT))
    manager.loop()
    return manager.returncode
