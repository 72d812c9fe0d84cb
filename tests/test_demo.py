"""The README's demo command, run as a new user would: embedded servers, real processes."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from storage import embedded
from tests.support import ROOT, free_port

pytestmark = pytest.mark.e2e


def test_docg_demo_runs_a_contract_to_approval_signature_and_delivery():
    var = Path(tempfile.mkdtemp(prefix="docg-demo-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STORAGE_ROOT",
                                                             "PUBLIC_BASE_URL", "SMTP_URL", "BROKER_NAMESPACE")}
    port = free_port()
    env.update({"VAR_DIR": str(var), "PORT": str(port)})
    try:
        done = subprocess.run([sys.executable, "-m", "cli", "demo"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=240)
    finally:
        embedded.stop(var)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Status: completed  progress 100%  signature signed" in out
    assert "approved through" in out and "signed in the sandbox" in out
    # It honours PORT and says where its servers are, and that --keep leaves them running
    assert f"web        http://127.0.0.1:{port}" in out and f"http://127.0.0.1:{port}/ops/dramatiq" in out
    assert "docg demo --keep" in out
    # The "→ approved / signed" lines come in order with the events they answer
    lines = out.splitlines()
    at = {key: next(i for i, line in enumerate(lines) if key in line)
          for key in ("approval.requested", "approved through", "approval.decided", "signature.requested",
                      "signed in the sandbox", "signature.completed")}
    assert at["approval.requested"] < at["approved through"] < at["approval.decided"]
    assert at["signature.requested"] < at["signed in the sandbox"] < at["signature.completed"], out
    document = Path(out.split("Document:")[1].split("\n")[0].strip())
    assert document.exists() and document.read_bytes()[:2] == b"PK"
    mails = [path.read_text(errors="replace") for path in sorted((var / "demo" / "mail").glob("*.eml"))]
    # the approval request and the contract; the sandbox's signing invitation too, unless the demo signed first
    invitations = [m for m in mails if "\nX-DocG-Signing-Link:" in m]
    assert len(invitations) <= 1 and len(mails) - len(invitations) == 2
    assert any("\nSubject: Approval requested: " in m for m in mails)
    assert (var / "demo" / "webhooks.jsonl").read_text().count("\n") == 1
