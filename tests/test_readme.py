"""The README's quick start, run as written from a fresh clone against `docg up`.

Convention (stated in the README): the ```sh blocks under "## Quick start"
are the tested ones; the block starting with `# terminal 1` runs in the
background (it ends in `docg up`); the others run after it, in order, in one
`bash -e` shell. The clone is `git clone` of this checkout's HEAD.

NOTE: `make setup` would download and install every dependency (minutes);
the clone gets a venv that reuses this checkout's installed dependencies
through a .pth file, and its own copies of the console scripts, and
`.venv/.installed` so that its `make setup` has nothing left to do. Every
`docg`, `gunicorn`, `dramatiq` and `periodiq` then runs the clone's code.
"""
import os
import re
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from storage import embedded
from tests.support import ROOT, Process, free_port, http_ok, wait_until

pytestmark = pytest.mark.e2e

SCRIPTS = ("docg", "gunicorn", "dramatiq", "periodiq")


def quick_start_blocks(text):
    section = text.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def clone_with_venv(tmp):
    clone = tmp / "docg"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    [site] = (venv / "lib").glob("python3*/site-packages")
    (site / "docg-clone.pth").write_text(f"{clone}\n{sysconfig.get_paths()['purelib']}\n")
    for name in SCRIPTS:
        body = (Path(sys.executable).parent / name).read_text().split("\n", 1)[1]
        script = venv / "bin" / name
        script.write_text(f"#!{venv / 'bin' / 'python'}\n{body}")
        script.chmod(0o755)
    (venv / ".installed").touch()
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import cli, web; print(cli.__file__, web.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp).stdout.split()
    assert where and all(path.startswith(str(clone)) for path in where), where
    return clone


def shell_environment(port):
    """A new user's shell: no DocG variable but PORT (a free one), no venv on PATH.

    NOTE: no DATABASE_URL / REDIS_URL, as in the README: the clone's `docg up`
    starts the embedded servers under the clone's ./var (a temp dir), which
    `docg down` stops at the end. Fewer processes than the defaults, to spare
    a shared machine.
    """
    keep = ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "PATH": path, "PORT": str(port),
            "WEB_CONCURRENCY": "1", "WORKER_PROCESSES": "1", "WORKER_THREADS": "2"}


def test_the_readme_quick_start_works_as_written_from_a_fresh_clone(tmp_path):
    # Given a fresh clone, and the README's quick-start blocks
    clone = clone_with_venv(tmp_path)
    blocks = quick_start_blocks((clone / "README.md").read_text())
    [server] = [b for b in blocks if b.startswith("# terminal 1")]
    steps = [b for b in blocks if b is not server]
    assert len(steps) >= 2 and "docg up" in server
    port = free_port()
    env = shell_environment(port)
    up = Process("readme-terminal-1", ["bash", "-e", "-c", server], tmp_path)
    up.env = env
    up.proc = None
    # When terminal 1 runs, and then the other blocks in a second shell
    _start_in(up, clone)
    try:
        wait_until(lambda: http_ok(f"http://localhost:{port}/health") or up.proc.poll() is not None, 180,
                   interval=0.3, message="docg up from the README")
        assert up.proc.poll() is None, up.log()[-4000:]
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", "\n".join(steps)], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=300)
        # Then every command succeeded and the run completed, its emails caught
        report = f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-3000:]}\ndocg up:\n{up.log()[-3000:]}"
        assert done.returncode == 0, report
        assert re.search(r"^run [0-9a-f-]{36}: completed$", done.stdout, re.M), report
        assert "Initech approved" in done.stdout and "New deal: Initech" in done.stdout, report
        # And the Makefile offers the commands without an activated venv
        made = subprocess.run(["make", "-s", "org", "NAME=Globex"], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=120)
        assert made.returncode == 0 and made.stdout.startswith(f"export DOCG_URL=http://localhost:{port} "), made
        made = subprocess.run(["make", "-s", "mail"], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0 and "Initech approved" in made.stdout, made
    finally:
        up.proc.send_signal(signal.SIGTERM) if up.proc.poll() is None else None
        try:
            up.proc.wait(40)
        except subprocess.TimeoutExpired:
            up.kill()
        for pid in re.findall(r"started with pid (\d+)", up.log()):
            try:
                os.killpg(int(pid), signal.SIGKILL)  # NOTE: only if a child outlived the supervisor.
            except (ProcessLookupError, PermissionError):
                pass
        down = subprocess.run([str(clone / ".venv" / "bin" / "docg"), "down"], cwd=clone, env=env,
                              capture_output=True, text=True, timeout=60)
        embedded.stop(clone / "var")
    assert down.returncode == 0 and "stopped" in down.stdout, down


def _start_in(process, cwd):
    process._log = open(process.log_path, "wb")
    process.proc = subprocess.Popen(process.argv, cwd=cwd, env=process.env, stdout=process._log,
                                    stderr=subprocess.STDOUT, start_new_session=True)


def test_the_readme_links_work_in_a_clone_and_it_says_what_a_new_user_needs():
    text = (ROOT / "README.md").read_text()
    tracked = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split())
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if not t.startswith(("http", "#"))}
    assert targets and all(t in tracked for t in targets), targets - tracked
    assert "docs/contract.md" in targets
    for line in ("source .venv/bin/activate", "docg demo --keep", "What it leaves running", "docg down",
                 "make org NAME=Acme", "/ops/mail", "DOCG_PROFILE=dev docker compose up"):
        assert line in text, line
