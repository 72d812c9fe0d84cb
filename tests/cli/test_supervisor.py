"""The supervisor of `docg up`: restart what exits, with a backoff, and keep the rest running."""
import io
import re
import threading

from cli.processes import Supervisor
from tests.support import wait_until


def test_a_crashing_process_is_restarted_with_a_doubling_backoff_and_the_others_keep_running(tmp_path):
    # Given one process that always exits at once and one that runs
    out = io.StringIO()
    supervisor = Supervisor({"crashy": "echo boom; exit 3", "steady": "exec sleep 60"}, env={"PATH": "/usr/bin:/bin"},
                            cwd=str(tmp_path), out=out, backoff_min=0.05, backoff_max=0.2, stable_after=60)
    runner = threading.Thread(target=supervisor.serve, args=(0.01,), daemon=True)
    runner.start()
    # When it has crashed a few times
    wait_until(lambda: supervisor.children[0].restarts >= 4, 20, message="four restarts")
    steady = supervisor.children[1].proc
    supervisor.stopping.set()
    runner.join(30)
    # Then each exit was explained, the delay doubled up to the cap, and the steady one never restarted
    text = out.getvalue()
    delays = [float(d) for d in re.findall(r"crashy exited with code 3; .*?restarting crashy in ([\d.]+)s", text)]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.2], text
    assert "crashy | boom" in text
    assert supervisor.children[1].restarts == 0 and steady.returncode is not None  # stopped at the end only
    assert "stopping" in text

