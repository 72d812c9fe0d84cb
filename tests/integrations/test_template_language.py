"""The template language behaves like the data: rendered for real through local-docx and read back."""
import datetime
import io

import docx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from integrations.errors import TemplateProblem
from integrations.local.docx import render_docx, template_context
from integrations.templating import XML_INVALID
from tests import docx_kit

PARTY = 'Johnson & Johnson <Legal> "Brasil"'


def render(content, trigger, **options):
    return render_docx(content, template_context({"trigger": trigger}), **options)


# Any Unicode XML 1.0 can hold (no lone surrogates, no C0 controls but tab and newline), plus the
# specials that break XML and docxtpl when they are not escaped.
XML_TEXT = st.lists(st.one_of(
    st.characters(blacklist_categories=("Cs",)).filter(lambda c: not XML_INVALID.match(c) and c != "\r"),
    st.sampled_from(list("&<>\"'{}%_\n\t") + ["{{", "}}", "{%", "{_{", "%_}", "]]>", "\u202e", "\u05d0", "👩‍⚖️"])),
    max_size=40).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=XML_TEXT)
def test_any_value_comes_back_verbatim(value):
    content = docx_kit.template("Before [{{ value }}] after", "Top: {{ trigger.value }}")

    paragraphs = docx_kit.paragraphs(render(content, {"value": value}))

    assert paragraphs == [f"Before [{value}] after", f"Top: {value}"]


def test_xml_specials_and_newlines_are_text_not_markup():
    content = docx_kit.template("Party: {{ party }}", "Address: {{ address }}")

    out = render(content, {"party": PARTY, "address": "Rua A, 1\nSão Paulo\r\nBrasil"})

    assert docx_kit.paragraphs(out) == [f"Party: {PARTY}", "Address: Rua A, 1\nSão Paulo\nBrasil"]
    assert b"<Legal>" not in out  # never XML inside the document


def test_characters_xml_cannot_hold_are_dropped_not_a_crash():
    out = render(docx_kit.template("{{ v }}"), {"v": "a\x00b\x0bc\ud800d"})
    assert docx_kit.paragraphs(out) == ["abcd"]


@pytest.mark.parametrize("key", ["items", "keys", "values", "get", "update", "count", "pop", "copy"])
def test_mapping_keys_win_over_dict_methods(key):
    content = docx_kit.template(f"{{{{ deal.{key} }}}}|{{{{ trigger.deal.{key} }}}}|{{{{ trigger.{key} }}}}")

    out = render(content, {"deal": {key: f"data-{key}"}, key: f"top-{key}"})

    assert docx_kit.paragraphs(out) == [f"data-{key}|data-{key}|top-{key}"]


def test_table_rows_loop_over_line_items():
    rows = [["{%tr for item in items %}", "", ""],
            ["{{ item.description }}", "{{ item.qty }}", "{{ item.price|currency }}"],
            ["{%tr endfor %}", "", ""],
            ["Total", "", "{{ total|currency }}"]]
    content = docx_kit.template("Line items:", rows=rows)
    items = [{"description": "Setup & training", "qty": 1, "price": "1500"},
             {"description": "Licenses <annual>", "qty": 10, "price": 1234.56}]

    out = render(content, {"items": items, "total": "13845.60"})

    assert docx_kit.table_rows(out) == [["Setup & training", "1", "R$\xa01.500,00"],
                                        ["Licenses <annual>", "10", "R$\xa01.234,56"],
                                        ["Total", "", "R$\xa013.845,60"]]


def test_paragraph_loops_and_conditionals():
    content = docx_kit.template("{%p for clause in clauses %}", "{{ loop.index }}. {{ clause }}", "{%p endfor %}",
                                "{%p if discount is defined and discount %}", "Discount: {{ discount }}%",
                                "{%p else %}", "No discount.", "{%p endif %}")

    with_discount = render(content, {"clauses": ["Scope", "Payment"], "discount": 5})
    without = render(content, {"clauses": []})

    assert docx_kit.paragraphs(with_discount) == ["1. Scope", "2. Payment", "Discount: 5%"]
    assert docx_kit.paragraphs(without) == ["No discount."]


def test_pt_br_and_en_formatting():
    content = docx_kit.template("{{ total|currency }} | {{ total|number(2) }} | {{ signed|date }} | "
                                "{{ total|words(to='currency') }}")
    trigger = {"total": "1234.56", "signed": "2026-12-01"}

    pt = docx_kit.paragraphs(render(content, trigger))
    en = docx_kit.paragraphs(render(content, trigger, locale="en_US"))

    assert pt == ["R$\xa01.234,56 | 1.234,56 | 1 de dezembro de 2026 | "
                  "mil, duzentos e trinta e quatro reais e cinquenta e seis centavos"]
    assert en == ["$1,234.56 | 1,234.56 | December 1, 2026 | "
                  "one thousand, two hundred and thirty-four dollars, fifty-six cents"]


def test_filters_take_an_explicit_locale_and_dates_as_values():
    content = docx_kit.template("{{ total|currency('USD', locale='en_US') }} {{ day|date(locale='en') }}")
    out = render(content, {"total": 99, "day": datetime.date(2026, 2, 3).isoformat()})
    assert docx_kit.paragraphs(out) == ["$99.00 February 3, 2026"]


def test_a_bad_number_is_a_clear_template_error():
    with pytest.raises(TemplateProblem) as error:
        render(docx_kit.template("{{ total|currency }}"), {"total": "12,500.00"})
    assert error.value.code == "template.render_error" and "'12,500.00' is not a number" in error.value.message_human


def test_an_image_from_a_data_uri_field_is_embedded():
    picture = docx_kit.png(3, 2)
    content = docx_kit.template("Logo: {{ logo|image(width_mm=20) }}", "Signature: {{ sig|image }}")

    out = render(content, {"logo": docx_kit.data_uri(picture), "sig": docx_kit.data_uri(picture)[22:]})

    assert docx_kit.images(out) == [picture]  # one part, used twice
    assert docx_kit.paragraphs(out) == ["Logo: ", "Signature: "]


@pytest.mark.parametrize("value", ["https://evil.example/logo.png", "data:image/png,notbase64", "aGVsbG8="])
def test_an_image_is_never_fetched_and_must_be_a_real_picture(value):
    with pytest.raises(TemplateProblem) as error:
        render(docx_kit.template("{{ logo|image }}"), {"logo": value})
    assert error.value.code == "template.render_error"


def test_an_image_stored_with_the_template_is_placed_by_name():
    logo, stamp = docx_kit.png(4, 2), docx_kit.gif()
    content = docx_kit.template("{{ template_image('logo', width_mm=40) }} {{ client_name }}",
                                "{% for s in signers %}{{ template_image(s.stamp, height_mm=10) }}{% endfor %}")

    out = render(content, {"client_name": "Acme", "signers": [{"stamp": "stamp"}, {"stamp": "logo"}]},
                 images={"logo": logo, "stamp": stamp})

    assert docx_kit.inline_pictures(out) == [logo, stamp, logo]
    assert docx_kit.paragraphs(out) == [" Acme", ""]
    document = docx.Document(io.BytesIO(out))
    assert round(document.inline_shapes[0].width.mm) == 40 and round(document.inline_shapes[1].height.mm) == 10


@pytest.mark.parametrize("tag", ["{{ template_image('seal') }}", "{{ template_image(name) }}",
                                 "{{ template_image(name|upper) }}"])
def test_an_image_not_stored_with_the_template_is_a_clear_template_error(tag):
    with pytest.raises(TemplateProblem) as error:
        render(docx_kit.template(tag), {"name": "seal"}, images={"logo": docx_kit.png()})
    assert error.value.code == "template.image_missing" and error.value.review
    assert "not stored with it" in error.value.message_human


def test_a_field_named_template_image_does_not_hide_the_function():
    logo = docx_kit.png()
    out = render(docx_kit.template("{{ template_image('logo') }}{{ trigger.template_image }}"),
                 {"template_image": "data"}, images={"logo": logo})
    assert docx_kit.inline_pictures(out) == [logo] and docx_kit.paragraphs(out) == ["data"]


def test_template_image_outside_a_stored_template_says_so():
    with pytest.raises(TemplateProblem) as error:
        render(docx_kit.template("{{ template_image('logo') }}"), {})
    assert error.value.code == "template.image_missing" and "not stored in DocG" in error.value.message_human


def test_template_image_reads_only_what_the_renderer_gave_it():
    # a template cannot reach the stored images, the budget or the database through the function
    for tag in ("{{ template_image.__globals__ }}", "{{ template_image.__wrapped__('logo') }}",
                "{{ template_image|attr('__closure__') }}"):
        with pytest.raises(TemplateProblem) as error:
            render(docx_kit.template(tag), {}, images={"logo": docx_kit.png()})
        assert error.value.code in ("template.unsafe", "template.render_error"), tag


def test_the_template_report_names_the_images_it_places():
    from integrations import template_checks

    literal = template_checks.inspect(docx_kit.template("{{ template_image('logo') }}{{ template_image('sig') }}"))
    computed = template_checks.inspect(docx_kit.template("{{ template_image(who ~ '-sig') }}"))

    assert literal.images == ["logo", "sig"] and literal.images_needed() == {"logo", "sig"}
    assert "template_image" not in literal.fields
    assert computed.dynamic_images and computed.images_needed() is None and computed.fields == ["who"]


def test_the_readme_example_template_renders_its_example_data():
    from cli.example_template import PATH, example_contract, example_trigger

    committed = PATH.read_bytes()
    assert docx_kit.paragraphs(committed) == docx_kit.paragraphs(example_contract()), \
        "run: python -m cli.example_template"

    out = render(committed, example_trigger())

    text = docx_kit.text(out)
    assert 'Contratante: Johnson & Johnson <Legal> "Brasil", representada por Ana Souza' in text
    assert "Rua Augusta, 1500\nSão Paulo - SP" in text
    assert "Total: R$\xa013.845,60 (treze mil, oitocentos e quarenta e cinco reais e sessenta centavos)." in text
    assert "Cláusula 2: Pagamento em 30 dias" in text and "1 de dezembro de 2026" in text
    assert docx_kit.table_rows(out)[1:] == [["Implantação", "1", "R$\xa01.500,00"],
                                           ["Licenças anuais", "10", "R$\xa01.234,56"]]
    assert len(docx_kit.images(out)) == 1


def pptx_template(text):
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1)).text_frame.text = text
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def pptx_text(content):
    from pptx import Presentation

    return [shape.text_frame.text for shape in Presentation(io.BytesIO(content)).slides[0].shapes]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=XML_TEXT.map(lambda v: v.replace("\n", " ").replace("\t", " ")))
def test_pptx_values_come_back_verbatim_and_mapping_keys_win(value):
    from integrations.microsoft.pptx_fill import fill_pptx

    content = pptx_template("{{ party }} | {{ deal.items }} | {{ deal.count }}")

    out = fill_pptx(content, template_context({"trigger": {"party": value, "deal": {"items": 3, "count": "c"}}}))

    assert pptx_text(out) == [f"{value} | 3 | c"]


def test_pptx_tags_render_in_the_same_sandbox():
    from integrations.microsoft.pptx_fill import fill_pptx

    with pytest.raises(TemplateProblem) as error:
        fill_pptx(pptx_template("{{ party|attr(k) }}"), {"party": "x", "k": "__class__"})
    assert error.value.code == "template.unsafe"
    out = fill_pptx(pptx_template("{{ total|currency }} {{ day|date }}"), {"total": 1234.5, "day": "2026-12-01"})
    assert pptx_text(out) == ["R$\xa01.234,50 1 de dezembro de 2026"]


def test_google_tags_are_paths_or_sandboxed_expressions():
    from integrations.google.render import replacements_for

    text = "{{ party }} {{deal.items}} {{ total|currency }} {{ day|date('short') }} {{ party|upper }}"
    context = template_context({"trigger": {"party": PARTY, "deal": {"items": 2}, "total": "10.5",
                                            "day": "2026-12-01"}})

    replacements = replacements_for(text, context)

    assert replacements == {"{{ party }}": PARTY, "{{deal.items}}": "2", "{{ total|currency }}": "R$\xa010,50",
                            "{{ day|date('short') }}": "01/12/2026", "{{ party|upper }}": PARTY.upper()}
    with pytest.raises(TemplateProblem) as error:
        replacements_for("{{ party|attr(k) }}", {"party": "x", "k": "__class__"})
    assert error.value.code == "template.unsafe"
