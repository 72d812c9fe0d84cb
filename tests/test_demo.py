"""The README's demo command, run as a new user would: embedded servers, real processes."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from storage import embedded
from tests.support import ROOT

pytestmark = pytest.mark.e2e


def test_docg_demo_runs_a_contract_to_approval_signature_and_delivery():
    var = Path(tempfile.mkdtemp(prefix="docg-demo-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "STORAGE_ROOT",
                                                             "PUBLIC_BASE_URL", "SMTP_URL", "BROKER_NAMESPACE")}
    env["VAR_DIR"] = str(var)
    try:
        done = subprocess.run([sys.executable, "-m", "cli", "demo"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=240)
    finally:
        embedded.stop(var)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "Status: completed  progress 100%  signature signed" in out
    assert "approved through" in out and "signed in the sandbox" in out
    document = Path(out.split("Document:")[1].split("\n")[0].strip())
    assert document.exists() and document.read_bytes()[:2] == b"PK"
    mails = sorted((var / "demo" / "mail").glob("*.eml"))
    assert len(mails) == 2
    assert (var / "demo" / "webhooks.jsonl").read_text().count("\n") == 1
