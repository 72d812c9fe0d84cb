"""Build small .docx/.pptx templates in tests and read rendered documents back."""
import base64
import io
import zlib

import docx


def template(*paragraphs, rows=None):
    """A .docx with one paragraph per string and, with `rows`, a table (a list of rows of cell texts)."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if rows:
        table = document.add_table(rows=len(rows), cols=len(rows[0]))
        for row, cells in zip(table.rows, rows):
            for cell, text in zip(row.cells, cells):
                cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def paragraphs(content):
    return [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]


def text(content):
    return "\n".join(paragraphs(content))


def table_rows(content):
    return [[cell.text for cell in row.cells] for row in docx.Document(io.BytesIO(content)).tables[0].rows]


def images(content):
    """The image parts of a .docx (their bytes)."""
    package = docx.Document(io.BytesIO(content)).part.package
    return [part.blob for part in package.parts if str(part.partname).startswith("/word/media/")]


def png(width=2, height=2):
    """A real, valid PNG of `width` x `height` red pixels."""
    def chunk(kind, data):
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def data_uri(content, kind="png"):
    return f"data:image/{kind};base64," + base64.b64encode(content).decode()


def gif():
    """A real, valid 1 x 1 GIF89a."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def inline_pictures(content):
    """The image bytes of every inline picture in the body, in document order."""
    document = docx.Document(io.BytesIO(content))
    found = []
    for shape in document.inline_shapes:
        blip = shape._inline.graphic.graphicData.pic.blipFill.blip
        found.append(document.part.related_parts[blip.embed].blob)
    return found
