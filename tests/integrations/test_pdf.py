"""PDF conversion: own profile per run, a time limit, a bound on conversions per process."""
import io
import os
import stat
import threading
import time

import pypdf
import pytest

from cli import sample
from integrations.local import pdf

FAKE_SOFFICE = """#!/bin/sh
# A stand-in for soffice: records its arguments and how many run at once, then writes a PDF.
log="{log}"
echo "$@" >> "$log.args"
echo start >> "$log.events"
for last; do :; done
outdir=""; prev=""
for arg in "$@"; do [ "$prev" = "--outdir" ] && outdir="$arg"; prev="$arg"; done
sleep {sleep}
printf '%%PDF-1.4 fake' > "$outdir/document.pdf"
echo end >> "$log.events"
"""


@pytest.fixture
def fake_soffice(tmp_path, monkeypatch):
    """Put a fake `soffice` first on PATH; returns a function that writes it with a given delay."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "soffice"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def install(sleep):
        script = bin_dir / "soffice"
        script.write_text(FAKE_SOFFICE.format(log=log, sleep=sleep))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return log
    return install


def most_at_once(events):
    running = peak = 0
    for line in events:
        running += 1 if line == "start" else -1
        peak = max(peak, running)
    return peak


def test_each_conversion_has_its_own_profile_and_conversions_per_process_are_bounded(fake_soffice):
    log = fake_soffice(0.3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(pdf.to_pdf(b"docx", timeout=20, concurrency=2)))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [b"%PDF-1.4 fake"] * 5
    assert most_at_once(log.with_name("soffice.events").read_text().split()) == 2
    profiles = [next(a for a in line.split() if a.startswith("-env:UserInstallation=file:///"))
                for line in log.with_name("soffice.args").read_text().splitlines()]
    assert len(set(profiles)) == 5


def test_a_conversion_past_its_time_limit_is_killed_and_retryable(fake_soffice):
    fake_soffice(30)
    started = time.monotonic()
    with pytest.raises(pdf.PdfFailed) as error:
        pdf.to_pdf(b"docx", timeout=1, concurrency=1)
    assert time.monotonic() - started < 10
    assert error.value.retryable and "killed after 1" in error.value.message_tech


def test_no_soffice_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pdf.PdfUnavailable) as error:
        pdf.to_pdf(b"docx")
    assert error.value.code == "render.pdf_unavailable" and not error.value.retryable


@pytest.mark.skipif(pdf.soffice() is None, reason="LibreOffice (soffice) is not installed: run `make office`")
def test_libreoffice_converts_a_rendered_contract():
    content = pdf.to_pdf(sample.contract_template(), timeout=120)
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert "Services Agreement" in text
