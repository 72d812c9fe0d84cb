"""`docg health ROLE`: the container healthchecks of docker-compose.yml.

`web` asks `/health` on PORT (PostgreSQL, Redis and the broker answer);
`worker` needs the dramatiq main process and at least one of its worker
processes alive; `clock` needs the periodiq process. The process checks
read /proc, so they are meant for a container, where only that role runs.
"""
import os
from pathlib import Path

import requests


def _processes(word):
    """Pids (not ours) whose command line mentions `word`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        pid = int(cmdline.parent.name)
        try:
            text = cmdline.read_bytes()
        except OSError:
            continue
        if pid != os.getpid() and word.encode() in text and b"cli health" not in text.replace(b"\0", b" "):
            found.append(pid)
    return found


def check(role, *, port):
    """Return (healthy, what was seen)."""
    if role == "web":
        try:
            status = requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code
        except requests.RequestException as ex:
            return False, f"/health did not answer: {ex.__class__.__name__}"
        return status == 200, f"/health answered {status}"
    word = {"worker": "dramatiq", "clock": "periodiq"}[role]
    count, needed = len(_processes(word)), 2 if role == "worker" else 1
    return count >= needed, f"{count} {word} process(es) running, {needed} needed"
