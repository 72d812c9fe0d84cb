"""Convert a .docx/.pptx to PDF with LibreOffice headless, bounded per process.

Each conversion runs `soffice --headless --convert-to pdf` in a temporary
directory with its own user profile (`-env:UserInstallation=file:///...`),
so conversions never share or lock a profile, under a time limit after which
the whole process group is killed. A process-wide semaphore bounds how many
run at once (`PDF_CONVERSIONS_PER_PROCESS`): a burst of PDF steps waits for a
slot instead of forking dozens of soffice processes.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from integrations.errors import IntegrationError, Unavailable

PDF = "application/pdf"
_slots_lock = threading.Lock()
_slots = {}


class PdfUnavailable(IntegrationError):
    code = "render.pdf_unavailable"
    message_human = "PDF conversion is not available on this server (LibreOffice is not installed)."


class PdfFailed(IntegrationError):
    """LibreOffice crashed, timed out or wrote no PDF; a later attempt may work."""

    code = "render.pdf_failed"
    message_human = "The document could not be converted to PDF."
    retryable = True


def soffice():
    """The LibreOffice binary on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def _semaphore(size):
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(max(1, size))
        return _slots[size]


def to_pdf(content, *, suffix=".docx", timeout=60.0, concurrency=2):
    """Return the PDF bytes of an OOXML document; raise PdfUnavailable or PdfFailed."""
    binary = soffice()
    if binary is None:
        raise PdfUnavailable(message_tech="soffice (LibreOffice) not found on PATH; run `make office`")
    slot = _semaphore(concurrency)
    if not slot.acquire(timeout=timeout):
        raise Unavailable("The PDF converter is busy; the step will be retried.",
                          f"no free conversion slot of {concurrency} within {timeout}s", code="render.pdf_busy")
    try:
        return _convert(binary, content, suffix, timeout)
    finally:
        slot.release()


def _convert(binary, content, suffix, timeout):
    with tempfile.TemporaryDirectory(prefix="docg-pdf-") as tmp:
        work = Path(tmp)
        source = work / f"document{suffix}"
        source.write_bytes(content)
        profile = (work / "profile").as_uri()
        command = [binary, f"-env:UserInstallation={profile}", "--headless", "--invisible", "--nologo",
                   "--norestore", "--nolockcheck", "--nodefault", "--convert-to", "pdf", "--outdir", str(work),
                   str(source)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                                   start_new_session=True, env={**os.environ, "HOME": tmp})
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as ex:
            _kill_group(process)
            raise PdfFailed("The PDF conversion took too long.", f"soffice killed after {timeout}s") from ex
        finally:
            _kill_group(process)
        result = work / "document.pdf"
        if process.returncode != 0 or not result.exists() or result.stat().st_size == 0:
            detail = (err or out or b"").decode(errors="replace")[-500:]
            raise PdfFailed(message_tech=f"soffice exit {process.returncode}: {detail}")
        return result.read_bytes()


def _kill_group(process):
    """Kill soffice and the oosplash/soffice.bin children it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=5)
