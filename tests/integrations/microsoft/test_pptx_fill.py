"""Filling {{tags}} in real .pptx files with python-pptx."""
import io

import pytest
from pptx import Presentation
from pptx.util import Inches

from cli import sample
from integrations.errors import InvalidConfig
from integrations.local.docx import template_context
from integrations.microsoft.pptx_fill import fill_pptx
from tests.integrations.microsoft.office_files import proposal_pptx

CONTEXT = template_context({"trigger": sample.trigger_data()})


def shapes_by_kind(content):
    slide = Presentation(io.BytesIO(content)).slides[0]
    found = {"notes": slide.notes_slide.notes_text_frame.text}
    for shape in slide.shapes:
        if shape.has_text_frame:
            found.setdefault("text", []).append(shape.text_frame)
        if getattr(shape, "has_table", False):
            found["table"] = shape.table
        if hasattr(shape, "shapes"):
            found["group"] = shape.shapes[0].text_frame.text
    return found


def test_tags_are_filled_in_text_tables_groups_and_notes_even_when_split_across_runs():
    filled = shapes_by_kind(fill_pptx(proposal_pptx(), CONTEXT))

    title, box = filled["text"]
    assert title.text == "Proposal for Acme Corp"
    runs = box.paragraphs[0].runs
    assert [run.text for run in runs] == ["Contact: Ana Souza", " — total 12,500.00", " USD"]
    assert [run.font.bold for run in runs] == [False, True, False]  # the value takes its first run's format
    assert filled["table"].cell(0, 1).text == "D-1042" and filled["table"].cell(0, 0).text == "Deal"
    assert filled["group"] == "Scope: document automation rollout"
    assert filled["notes"] == "Call ana@acme.example"


def test_tags_take_jinja_filters_and_leave_other_text_alone():
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    frame = slide.shapes.add_textbox(0, 0, Inches(4), Inches(1)).text_frame
    frame.text = "{{ client_name | upper }} / {{ payment_days + 1 }} days / {not a tag} / {{trigger.deal_id}}"
    buffer = io.BytesIO()
    presentation.save(buffer)

    filled = shapes_by_kind(fill_pptx(buffer.getvalue(), CONTEXT))

    assert filled["text"][0].text == "ACME CORP / 31 days / {not a tag} / D-1042"


def test_a_tag_without_a_value_is_an_error_not_a_blank():
    context = {**CONTEXT, "contact": {"email": "ana@acme.example"}}  # no contact.name

    with pytest.raises(InvalidConfig) as error:
        fill_pptx(proposal_pptx(), context)

    assert error.value.code == "template.unmapped_tags" and "contact.name" in error.value.message_tech


def test_a_file_that_is_not_a_pptx_is_refused_clearly():
    with pytest.raises(InvalidConfig) as error:
        fill_pptx(b"PK\x03\x04 not really a zip", CONTEXT)

    assert error.value.code == "template.invalid"
