"""Check a template when it arrives: a real OOXML file, tags that parse, no unsafe access.

`inspect(content)` opens a .docx or .pptx package, reads the template
source the renderer will see (docxtpl's patched XML of the body, headers
and footers; the `{{tags}}` of every slide), parses it in the shared
sandbox and returns what the template needs: `fields` (dotted paths such as
`client_name`, `contact.email`) and `loops` (`{"name": "items",
"item_fields": ["description", "price"]}`), so a frontend can build a
mapping form and preflight can check the trigger data against the same list.
`images` are the names given to `template_image('name')` as literals (each
must be a valid image name); `dynamic_images` is true when a name is computed
from the data, so a render needs every stored image and preflight cannot
check them.

Refused with a `template.*` error: bytes that are not a .docx/.pptx package
(`template.invalid`), a tag that does not parse (`template.invalid`, with
the tag, the message and where it is), and statically unsafe access
(`template.unsafe`: attributes starting with `_`, `|attr("_...")`,
`include`/`import`/`extends`). Dynamic tricks the scan cannot see are
stopped by the sandbox at render time.
"""
import dataclasses
import functools
import io
import re
import zipfile

import jinja2
from jinja2 import nodes

from integrations.errors import TemplateInvalid, TemplateProblem, TemplateUnsafe
from integrations.templating import environment

DOCX, PPTX = "docx", "pptx"
MAX_ENTRIES = 2000
MAX_UNPACKED_BYTES = 30 * 1024 * 1024
MAX_PART_BYTES = 10 * 1024 * 1024
TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
XML_TAG = re.compile(r"<[^>]+>")
PPTX_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
SPECIAL_NAMES = {"loop", "range", "self", "caller", "varargs", "kwargs", "template_image"}


@dataclasses.dataclass
class Report:
    kind: str
    fields: list
    loops: list
    images: list = dataclasses.field(default_factory=list)
    dynamic_images: bool = False

    def as_dict(self):
        return {"kind": self.kind, "fields": self.fields, "loops": self.loops, "image_names": self.images}

    def images_needed(self):
        """The stored images a render needs: a set of names, or None for all of them."""
        return None if self.dynamic_images else set(self.images)

    def roots(self):
        """Top-level names the data must hold (`trigger.x` counts as `x`; `step.*` is not data)."""
        names = set()
        for path in self.fields + [loop["name"] for loop in self.loops]:
            head, _, rest = path.partition(".")
            if head == "trigger" and rest:
                head = rest.split(".", 1)[0].split("[", 1)[0]
            elif head in ("trigger", "step"):
                continue
            names.add(head.split("[", 1)[0])
        return names


def package_kind(content):
    """Return "docx" or "pptx" for a real OOXML package; raise TemplateInvalid otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as ex:
        raise TemplateInvalid("The file is not a Word (.docx) or PowerPoint (.pptx) document.",
                              f"not a zip package: {ex}") from ex
    if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise TemplateInvalid("The document is too large once unpacked.",
                              f"{len(entries)} entries, {sum(e.file_size for e in entries)} bytes unpacked")
    big = next((e for e in entries if e.filename.endswith(".xml") and e.file_size > MAX_PART_BYTES), None)
    if big is not None:
        raise TemplateInvalid("The document is too large once unpacked.", f"{big.filename}: {big.file_size} bytes")
    names = {e.filename for e in entries}
    if "[Content_Types].xml" not in names:
        raise TemplateInvalid("The file is not a Word (.docx) or PowerPoint (.pptx) document.",
                              "zip without [Content_Types].xml")
    if "word/document.xml" in names:
        return DOCX
    if "ppt/presentation.xml" in names:
        return PPTX
    raise TemplateInvalid("The file is an Office package but neither a .docx nor a .pptx.",
                          "no word/document.xml or ppt/presentation.xml")


def docx_sources(content):
    """Yield (part name, patched XML) as docxtpl renders them."""
    from docx.oxml import parse_xml
    from docxtpl import DocxTemplate

    try:
        template = DocxTemplate(io.BytesIO(content))
        template.init_docx()
        document = template.docx
    except Exception as ex:  # noqa: BLE001 - python-docx raises zip/xml/key errors for a broken file
        raise TemplateInvalid("The Word document cannot be opened.", f"{type(ex).__name__}: {ex}") from ex
    yield "document body", _lines(template.patch_xml(template.xml_to_string(document._element.body)))
    for rel in document.part.rels.values():
        if rel.reltype in (template.HEADER_URI, template.FOOTER_URI) and not rel.is_external:
            kind = "header" if rel.reltype == template.HEADER_URI else "footer"
            try:
                xml = template.xml_to_string(parse_xml(rel.target_part.blob))
            except Exception as ex:  # noqa: BLE001
                raise TemplateInvalid(f"The document's {kind} cannot be read.", repr(ex)) from ex
            yield kind, _lines(template.patch_xml(xml))


def _lines(xml):
    """One paragraph per line, as docxtpl renders it (so error lines name a paragraph)."""
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


def pptx_sources(content):
    """Yield ("slide N", "{{tag}}{{tag}}…") for every slide's tags, as the PowerPoint fill reads them."""
    from pptx import Presentation

    from integrations.microsoft.pptx_fill import slide_paragraphs

    try:
        presentation = Presentation(io.BytesIO(content))
    except Exception as ex:  # noqa: BLE001
        raise TemplateInvalid("The PowerPoint document cannot be opened.", f"{type(ex).__name__}: {ex}") from ex
    for number, slide in enumerate(presentation.slides, 1):
        tags = ["{{" + m.group(1) + "}}" for p in slide_paragraphs(slide)
                for m in PPTX_TAG.finditer("".join(r.text for r in p.runs))]
        yield f"slide {number}", "\n".join(tags)


def _where(part, source, lineno):
    lines = source.splitlines()
    line = lines[lineno - 1] if 0 < (lineno or 0) <= len(lines) else ""
    text = XML_TAG.sub("", line)
    tag = next(iter(TAG.findall(text)), None) or (text[text.find("{"):][:80] if "{" in text else None)
    return {"part": part, "text": text.strip()[:200]}, tag


def parse(part, source):
    """Parse one source in the sandbox; raise TemplateInvalid naming the tag and where it is."""
    try:
        tree = environment().parse(source)
        environment().compile(tree)  # unknown filters and tests are found when compiling
        return tree
    except jinja2.TemplateSyntaxError as ex:
        where, tag = _where(part, source, ex.lineno)
        error = TemplateInvalid(f"A tag in the {part} does not parse: {ex.message}"
                                + (f" (in {tag})." if tag else "."), f"TemplateSyntaxError: {ex.message}")
        error.details = {"tag": tag, "message": ex.message, "where": where}
        raise error from None


def unsafe(tree):
    """Return a description of the first statically unsafe construct, or None."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Include, nodes.Import,
                               nodes.FromImport, nodes.Extends)):
        if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            return f"{type(node).__name__.lower()} of another template"
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            return f"attribute {node.attr!r}"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            return f"item {node.arg.value!r}"
        if isinstance(node, nodes.Filter) and node.name == "attr" and node.args \
                and isinstance(node.args[0], nodes.Const) and str(node.args[0].value).startswith("_"):
            return f"|attr({node.args[0].value!r})"
    return None


def image_names(part, tree):
    """Return (literal names given to template_image(), whether any name is computed)."""
    from storage.template_images import NAME

    found, dynamic = [], False
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == "template_image"):
            continue
        first = call.args[0] if call.args else next((k.value for k in call.kwargs if k.key == "name"), None)
        if not isinstance(first, nodes.Const):
            dynamic = True
            continue
        if not isinstance(first.value, str) or not NAME.fullmatch(first.value):
            raise TemplateInvalid(f"The image name {str(first.value)[:70]!r} in the {part} is not valid: use 1 to 64 "
                                  "lowercase letters, digits, '-' or '_'.",
                                  f"template_image({str(first.value)[:70]!r}) in {part}")
        if first.value not in found:
            found.append(first.value)
    return found, dynamic


def _path(node, scope):
    """Dotted path of Name/Getattr/Getitem chains, with loop variables as `name[]`."""
    parts = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            base = scope.get(node.name, node.name)
            return ".".join([base, *reversed(parts)]) if base is not None else None
        else:
            return None


def collect(tree):
    """Return (fields, loops) the template reads from its data."""
    fields, loops = {}, {}

    def visit(node, scope):
        if isinstance(node, nodes.For):
            visit(node.iter, scope)
            source = _path(node.iter, scope)
            inner = dict(scope)
            targets = [node.target] if isinstance(node.target, nodes.Name) else list(node.target.find_all(nodes.Name))
            for target in targets:
                inner[target.name] = f"{source}[]" if source and isinstance(node.target, nodes.Name) else None
            if source:
                loops.setdefault(source, set())
                fields.pop(source, None)
            for child in (*node.body, *node.else_, *([node.test] if node.test else [])):
                visit(child, inner)
            return
        if isinstance(node, (nodes.Macro, nodes.CallBlock)):
            if isinstance(node, nodes.Macro):
                scope[node.name] = None
            else:
                visit(node.call, scope)
            inner = {**scope, **{arg.name: None for arg in node.args}, "caller": None}
            for child in node.body:
                visit(child, inner)
            return
        if isinstance(node, (nodes.Assign, nodes.AssignBlock, nodes.With)):
            targets = node.targets if isinstance(node, nodes.With) else [node.target]
            for target in targets:
                for name in target.find_all(nodes.Name) if not isinstance(target, nodes.Name) else [target]:
                    scope[name.name] = None
        if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Name)) and (path := _path(node, scope)):
            head = path.split(".", 1)[0]
            if head not in SPECIAL_NAMES:
                loop_source, _, item_field = path.partition("[].")
                if item_field and loop_source in loops:
                    loops[loop_source].add(item_field)
                elif not path.endswith("[]") and path not in loops:
                    fields[path] = True
            return
        for child in node.iter_child_nodes():
            visit(child, scope)

    visit(tree, {})
    # a path that is the prefix of another is implied by it (`contact` by `contact.name`)
    paths = sorted(fields)
    kept = [p for p in paths if not any(o.startswith(p + ".") for o in paths)]
    return kept, [{"name": name, "item_fields": sorted(items)} for name, items in sorted(loops.items())]


@functools.lru_cache(maxsize=64)
def inspect(content):
    """Validate a template's bytes; return its Report (kept per content for the process)."""
    kind = package_kind(content)
    sources = docx_sources(content) if kind == DOCX else pptx_sources(content)
    fields, loops, images, dynamic = [], [], [], False
    for part, source in _readable(sources, kind):
        tree = parse(part, source)
        problem = unsafe(tree)
        if problem:
            raise TemplateUnsafe(f"The template uses {problem} in the {part}; templates may only read their data.",
                                 f"static check: {problem} in {part}")
        more_fields, more_loops = collect(tree)
        fields.extend(f for f in more_fields if f not in fields)
        loops.extend(loop for loop in more_loops if loop not in loops)
        more_images, more_dynamic = image_names(part, tree)
        images.extend(name for name in more_images if name not in images)
        dynamic = dynamic or more_dynamic
    return Report(kind, fields, loops, images, dynamic)


def _readable(sources, kind):
    """Yield the sources; a package python-docx/python-pptx cannot walk is template.invalid, not a crash."""
    try:
        yield from sources
    except TemplateProblem:
        raise
    except Exception as ex:  # noqa: BLE001 - broken relationships, parts or XML inside the package
        raise TemplateInvalid(f"The .{kind} file cannot be read.", f"{type(ex).__name__}: {str(ex)[:200]}") from ex


def missing_images(report, stored):
    """Names given to template_image() as literals that are not among the `stored` names."""
    return [name for name in report.images if name not in stored]


def missing(report, trigger):
    """Top-level names the template needs that the trigger data lacks."""
    return sorted(report.roots() - set(trigger or {}))
