"""Office templates with {{tags}} for the Microsoft tests."""
import io

import docx
from pptx import Presentation
from pptx.util import Inches

from cli import sample

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def contract_docx():
    return sample.contract_template()


def docx_text(content):
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


def proposal_pptx():
    """A .pptx whose tags are split across runs, in a table, a group and the notes."""
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "Proposal for {{ client_name }}"
    box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(1))
    paragraph = box.text_frame.paragraphs[0]
    for i, text in enumerate(["Contact: {{ con", "tact.name }} — total {", "{ amount }} {{ currency }}"]):
        run = paragraph.add_run()
        run.text = text
        run.font.bold = i == 1
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(6), Inches(1)).table
    table.cell(0, 0).text = "Deal"
    table.cell(0, 1).text = "{{ trigger.deal_id }}"
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1)).text_frame.text = "Scope: {{ scope }}"
    slide.notes_slide.notes_text_frame.text = "Call {{ contact.email }}"
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()
