"""Fill `{{tags}}` in a PowerPoint (.pptx) file locally with python-pptx.

A tag is a Jinja2 expression evaluated against the run context, as in the
Word node (docxtpl): `{{ client_name }}`, `{{ contact.name }}`,
`{{ trigger.deal_id }}`, `{{ amount | upper }}`. A tag with no value is an
error (`template.unmapped_tags`), never a blank.

Where tags are found: every paragraph of every text frame of every shape on
every slide, shapes inside groups (any depth), every cell of every table,
and the slide's speaker notes.

Tags split across runs: PowerPoint cuts a paragraph's text into runs when
formatting, spell-check or editing history changes, so `{{ client_name }}`
may be stored as `{{ client_`, `name }}`. Each paragraph's runs are read as
one string; a tag's value goes into the run where the tag starts (so it
takes that run's formatting), and the rest of the tag's text is cut from
the runs it spanned, leaving their other text and formatting as they were.

Not handled: a tag split across paragraphs, shapes or cells (no single run
can hold its value), `{% %}` blocks (loops, conditions), text inside charts,
SmartArt, slide masters and layouts (shared by every slide), and text fields
such as slide numbers. A newline in a value stays a newline character in
its run (PowerPoint shows it as a space), since a run cannot hold a break.

Docs: https://python-pptx.readthedocs.io/en/latest/user/text.html (text frame,
paragraph, run) and https://python-pptx.readthedocs.io/en/latest/api/shapes.html.
"""
import io
import re

from pptx import Presentation

from integrations import templating
from integrations.errors import InvalidConfig, TemplateInvalid

TAG = re.compile(r"\{\{(.*?)\}\}", re.S)


def fill_pptx(content, context, *, settings=None, locale=None):
    """Return the .pptx bytes with every `{{tag}}` replaced by its value.

    Each tag is an expression of the shared sandbox (templating.py), rendered
    as plain text: python-pptx escapes it for PresentationML itself.
    """
    try:
        presentation = Presentation(io.BytesIO(content))
    except Exception as ex:  # noqa: BLE001 - python-pptx raises zip/xml/key errors for a bad file
        raise InvalidConfig("The template is not a valid PowerPoint (.pptx) file.", f"{type(ex).__name__}: {ex}",
                            code="template.invalid") from ex

    def fill():
        render = _renderer(context)
        for slide in presentation.slides:
            for paragraph in slide_paragraphs(slide):
                fill_paragraph(paragraph, render)
        out = io.BytesIO()
        presentation.save(out)
        return out.getvalue()

    return templating.guarded(fill, limits=templating.Limits.of(settings), fmt="text", locale=locale,
                              template_name="The presentation")


def slide_paragraphs(slide):
    """Yield every paragraph of a slide's text frames, tables, groups and notes."""
    frames = list(_text_frames(slide.shapes))
    if slide.has_notes_slide:
        frames.extend(_text_frames(slide.notes_slide.shapes))
    for frame in frames:
        yield from frame.paragraphs


def _renderer(context):
    env = templating.environment()
    compiled = {}

    def render(expression):
        if expression not in compiled:
            if "{%" in expression or "%}" in expression:
                raise TemplateInvalid("A PowerPoint tag cannot hold a {% block %}.", f"{{{{{expression[:80]}}}}}")
            compiled[expression] = env.from_string("{{" + expression + "}}")
        try:
            return compiled[expression].render(context)
        except Exception as ex:  # noqa: BLE001 - classified with the tag that failed
            raise templating.classify(ex, "The presentation", where="{{" + expression.strip()[:120] + "}}") from ex

    return render


def _text_frames(shapes):
    for shape in shapes:
        if hasattr(shape, "shapes"):  # a group shape
            yield from _text_frames(shape.shapes)
        if shape.has_text_frame:
            yield shape.text_frame
        if getattr(shape, "has_table", False):
            for row in shape.table.rows:
                for cell in row.cells:
                    yield cell.text_frame


def fill_paragraph(paragraph, render):
    """Replace the tags of one paragraph, even when a tag spans several runs."""
    runs = list(paragraph.runs)
    texts = [run.text for run in runs]
    joined = "".join(texts)
    if "{{" not in joined:
        return
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text)
    ends = [start + len(text) for start, text in zip(starts, texts)]

    def run_at(position):
        """The run holding the character at `position` of the joined text."""
        return next(i for i, (start, end) in enumerate(zip(starts, ends)) if start <= position < end)

    # NOTE: right to left, so the offsets of earlier tags stay valid: a later tag only changes text at or after
    # its own start, and an earlier tag only touches text before that.
    for match in reversed(list(TAG.finditer(joined))):
        value = render(match.group(1))
        first, last = run_at(match.start()), run_at(match.end() - 1)
        head, tail = match.start() - starts[first], match.end() - starts[last]
        if first == last:
            texts[first] = texts[first][:head] + value + texts[first][tail:]
            continue
        texts[first] = texts[first][:head] + value
        for middle in range(first + 1, last):
            texts[middle] = ""
        texts[last] = texts[last][tail:]
    for run, text in zip(runs, texts):
        if run.text != text:
            run.text = text
