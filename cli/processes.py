"""`docg up`: migrate, then run and supervise the Procfile's web, worker and clock.

NOTE: honcho stops every process when one exits, and dramatiq exits when
one of its worker children dies; so a single crashed worker child took the
web and the clock down with it. `Supervisor` keeps the others running and
restarts the one that exited, with an exponential backoff, saying why.
"""
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import settings as settings_module

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("web", "worker", "clock")


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


def why(returncode):
    """Say in words how a process ended."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    if returncode == 1:
        return "exited with code 1 (for the worker: one of its child processes died; see the lines above)"
    return f"exited with code {returncode}"


class Child:
    """One Procfile role: its command, its current process and its restarts."""

    def __init__(self, name, command):
        self.name, self.command = name, command
        self.proc = None
        self.started_at = 0.0
        self.restart_at = None
        self.delay = 0.0
        self.restarts = 0


class Supervisor:
    """Run commands in their own process groups; restart any that exits.

    The delay before a restart doubles from `backoff_min` up to `backoff_max`
    and falls back to `backoff_min` once a process stayed up `stable_after`
    seconds. SIGINT/SIGTERM stop everything (SIGTERM, then SIGKILL).
    """

    def __init__(self, commands, *, env, cwd, out=None, backoff_min=1.0, backoff_max=30.0, stable_after=60.0):
        self.children = [Child(name, command) for name, command in commands.items()]
        self.env, self.cwd = env, cwd
        self.out = out or sys.stdout
        self.backoff_min, self.backoff_max, self.stable_after = backoff_min, backoff_max, stable_after
        self.stopping = threading.Event()
        self._print_lock = threading.Lock()
        self.width = max(len(c.name) for c in self.children)

    def say(self, name, text):
        with self._print_lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            self.out.flush()

    def start(self, child):
        child.proc = subprocess.Popen(["/bin/sh", "-c", child.command], cwd=self.cwd, env=self.env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        child.started_at, child.restart_at = time.monotonic(), None
        self.say("system", f"{child.name} started with pid {child.proc.pid}")
        threading.Thread(target=self._relay, args=(child, child.proc), daemon=True).start()

    def _relay(self, child, proc):
        for line in iter(proc.stdout.readline, b""):
            self.say(child.name, line.decode(errors="replace").rstrip("\n"))
        proc.stdout.close()

    def check(self, now=None):
        """Notice exits and start the restarts that are due; one pass."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stopping.is_set():
                    child.restarts += 1
                    self.start(child)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            if now - child.started_at >= self.stable_after:
                child.delay = 0.0
            child.delay = min(self.backoff_max, max(self.backoff_min, child.delay * 2))
            child.restart_at = now + child.delay
            self.say("system", f"{child.name} {why(code)}; the other processes keep running; "
                               f"restarting {child.name} in {child.delay:g}s")

    def run(self, poll=0.2):
        """Serve until SIGINT or SIGTERM (main thread only)."""
        previous = {sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self.serve(poll)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def serve(self, poll=0.2):
        """Start every process and supervise them until `stopping` is set; then stop them."""
        try:
            for child in self.children:
                self.start(child)
            while not self.stopping.wait(poll):
                self.check()
        finally:
            self.stop()
        return 0

    def stop(self, timeout=20.0):
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        self.say("system", "stopping " + ", ".join(c.name for c in self.children if c.proc in running))
        for proc in running:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def start_mail_catcher(config, env):
    """With SMTP_URL unset, catch every email under VAR_DIR/mail; return the server or None."""
    if env.get("SMTP_URL"):
        return None
    from integrations.local import maildrop

    folder = maildrop.folder_of(config.var_dir)
    controller, url = maildrop.catch(folder)
    env["SMTP_URL"] = url
    print(f"Mail catcher on {url}: SMTP_URL is unset, so every email is kept in {folder} "
          f"(see /ops/mail or `docg mail`)", flush=True)
    return controller


def up(config, *, port=None):
    env = environment(config, port=port)
    commands = procfile_commands()
    from cli import cmd_migrate

    cmd_migrate(None)
    catcher = start_mail_catcher(config, env)
    base = f"http://localhost:{env['PORT']}"
    print(f"DocG on {base}  (dashboard: {base}/ops/dramatiq, mail: {base}/ops/mail, "
          f"admin token {env['ADMIN_TOKEN']})", flush=True)
    try:
        return Supervisor({name: commands[name] for name in ROLES}, env=env, cwd=str(ROOT)).run()
    finally:
        if catcher is not None:
            catcher.stop()
