"""Render a .docx without parsing, re-serializing and recompressing the styles it never changes.

A Word file's `word/styles.xml` and `word/stylesWithEffects.xml` are most of
its XML (about 790 KB of the 800 KB in python-docx's default template, ~75%
of a render's time). A render never changes them: docxtpl rewrites the
body, headers, footers, footnotes and core properties, and adds image parts.
So `light(content)` swaps them for a one-element stand-in once per template
version (template_cache keeps it), the render works on that, and `restore()` puts the original
entries back into the rendered package, copying their compressed bytes as
they are (no inflate, no deflate).

NOTE: the zip is assembled here, from entries copied raw out of two zips
(the render's and the template's), because zipfile can only write by
compressing. Names, CRCs, sizes, times and attributes are copied from each
entry's own header; no ZIP64 (a template's package is far below 4 GB).
"""
import io
import struct
import zipfile

#: parts a render never touches, kept out of the render when larger than PASSIVE_MIN_BYTES
PASSIVE = ("word/styles.xml", "word/stylesWithEffects.xml")
PASSIVE_MIN_BYTES = 16 * 1024
STAND_IN = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>')

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")


def light(content):
    """Return (the package with its passive parts stood in for, {name: their raw entries}).

    A package with no passive part large enough, or one zipfile cannot
    rewrite, is returned as it is, with no entries to restore.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        passive = {i.filename for i in archive.infolist()
                   if i.filename in PASSIVE and i.file_size >= PASSIVE_MIN_BYTES}
        if not passive:
            return content, {}
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as writer:
            for info in archive.infolist():
                writer.writestr(info, STAND_IN if info.filename in passive else archive.read(info.filename))
        kept = {name: entry for name, entry in _entries(content).items() if name in passive}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, KeyError):
        return content, {}
    return out.getvalue(), kept


def weight(light_value):
    """Bytes a `light()` result holds beyond the template's own (for the cache's bound)."""
    package, kept = light_value
    return len(package) + sum(len(raw) for _, raw in kept.values()) if kept else 0


def _entries(data):
    """{name: (ZipInfo, compressed bytes)} of a zip, in its order, read past each local header."""
    entries = {}
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        header = _LOCAL.unpack_from(data, info.header_offset)
        start = info.header_offset + _LOCAL.size + header[10] + header[11]
        entries[info.filename] = (info, data[start:start + info.compress_size])
    return entries


def restore(rendered, kept):
    """Return the rendered package with the `kept` entries (from `light`) put back, byte for byte."""
    if not kept:
        return rendered
    made = _entries(rendered)
    out, central = io.BytesIO(), []
    for name in made:
        info, raw = kept.get(name) or made[name]
        encoded = name.encode("utf-8")
        flags = (info.flag_bits & ~0x08) | (0 if encoded.isascii() else 0x800)
        year, month, day, hour, minute, second = info.date_time
        dostime, dosdate = (hour << 11) | (minute << 5) | (second // 2), ((year - 1980) << 9) | (month << 5) | day
        offset = out.tell()
        out.write(_LOCAL.pack(b"PK\x03\x04", 20, 0, flags, info.compress_type, dostime, dosdate, info.CRC,
                              len(raw), info.file_size, len(encoded), 0) + encoded + raw)
        central.append(_CENTRAL.pack(b"PK\x01\x02", 20, 3, 20, 0, flags, info.compress_type, dostime, dosdate,
                                     info.CRC, len(raw), info.file_size, len(encoded), 0, 0, 0, 0,
                                     info.external_attr, offset) + encoded)
    start = out.tell()
    out.write(b"".join(central))
    out.write(_END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()
