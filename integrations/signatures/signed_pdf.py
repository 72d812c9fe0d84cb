"""Build a signed PDF: the original's pages plus a signature page (sandbox provider).

The page lists every signer (name, e-mail, what they did and when) and the
SHA-256 of the original bytes, so the copy can be tied to what was sent. A
.docx original is converted with LibreOffice first when it is installed;
without it the signed PDF is the signature page alone (it still names the
original by its hash).
"""
import hashlib
import io

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def signature_page(*, title, original_sha256, signers, envelope_id):
    """Return one PDF page (bytes) describing who signed what, and when."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setTitle(f"Signatures - {title}")
    width, height = A4
    y = height - 25 * mm

    def line(text, *, size=10, bold=False, gap=6):
        nonlocal y
        page.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        page.drawString(20 * mm, y, text[:110])
        y -= gap * mm

    line("Signature page", size=16, bold=True, gap=10)
    line(f"Document: {title}")
    line(f"Envelope: {envelope_id}")
    line(f"SHA-256 of the original: {original_sha256}", size=8, gap=10)
    for signer in signers:
        line(f"{signer.get('name') or signer['email']} <{signer['email']}>", bold=True)
        line(f"{signer.get('status', 'signed')} at {signer.get('at') or 'unknown time'}", gap=9)
    line("Signed through the DocG signature sandbox (no legal validity).", size=8)
    page.showPage()
    page.save()
    return out.getvalue()


def signed_pdf(*, original, content_type, title, signers, envelope_id, to_pdf=None):
    """Return the original as PDF followed by its signature page."""
    digest = hashlib.sha256(original).hexdigest()
    writer = PdfWriter()
    base = original if content_type == PDF else None
    if base is None and content_type == DOCX and to_pdf is not None:
        base = to_pdf(original)
    if base is not None:
        for sheet in PdfReader(io.BytesIO(base)).pages:
            writer.add_page(sheet)
    page = signature_page(title=title, original_sha256=digest, signers=signers, envelope_id=envelope_id)
    writer.add_page(PdfReader(io.BytesIO(page)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
