"""Show a PDF inside a page as images of its pages (pypdfium2).

NOTE: images rather than an <iframe> of the PDF: phone browsers do not
render PDFs inline, and a strict Content-Security-Policy (frame-ancestors,
object-src) keeps working with plain <img> from the same origin. PDFium is
not thread-safe, hence the lock. Only the first MAX_PAGES pages are shown.
"""
import io
import threading

import pypdfium2

PDF = "application/pdf"
MAX_PAGES = 10
WIDTH = 1000
_lock = threading.Lock()


class NoPreview(Exception):
    """The document is not a readable PDF, or has no such page."""


def total_pages(content_type, content):
    """The PDF's page count; 0 when it is not a PDF or cannot be read."""
    if content_type != PDF:
        return 0
    try:
        with _lock:
            pdf = pypdfium2.PdfDocument(bytes(content))
            try:
                return len(pdf)
            finally:
                pdf.close()
    except pypdfium2.PdfiumError:
        return 0


def render_page(content_type, content, number):
    """PNG bytes of page `number` (1-based), about WIDTH pixels wide."""
    if content_type != PDF or not 1 <= number <= MAX_PAGES:
        raise NoPreview(f"no page {number} to preview")
    try:
        with _lock:
            pdf = pypdfium2.PdfDocument(bytes(content))
            try:
                if number > len(pdf):
                    raise NoPreview(f"the PDF has {len(pdf)} pages")
                page = pdf[number - 1]
                width = page.get_width() or WIDTH
                image = page.render(scale=min(4.0, max(0.5, WIDTH / width))).to_pil()
                page.close()
            finally:
                pdf.close()
    except pypdfium2.PdfiumError as ex:
        raise NoPreview(str(ex)) from ex
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def describe(document_id, name, content_type, content, url):
    """The JSON of one document on a page: download link, and its page images when a PDF.

    `url` is the document's download URL; page images are at `{url}/pages/{n}`.
    """
    total = total_pages(content_type, content)
    pages = min(total, MAX_PAGES)
    return {"id": str(document_id), "name": name, "content_type": content_type,
            "size": len(content), "download_url": url,
            "preview": {"pages": [f"{url}/pages/{n}" for n in range(1, pages + 1)], "total_pages": total}
            if pages else None}
