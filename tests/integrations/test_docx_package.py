"""A cached render keeps the template's styles out of the render and puts them back byte for byte."""
import io
import zipfile

import docx
import pypdf
import pytest

from cli import sample
from integrations import template_checks
from integrations.local import docx_package, pdf
from integrations.local.docx import render_docx, template_context
from integrations.template_cache import Prepared
from tests import docx_kit


def prepared_of(content):
    return Prepared(content, template_checks.inspect(content))


def rendered(content, trigger, prepared=None):
    return render_docx(content, template_context({"trigger": trigger}), prepared=prepared)


def test_a_cached_render_is_the_same_document_with_the_templates_own_styles():
    # Given the sample contract (python-docx's template: ~790 KB of styles XML)
    content = sample.contract_template()
    prepared = prepared_of(content)

    # When it renders through its cache entry, twice, and without one
    first, second = rendered(content, sample.trigger_data(), prepared), rendered(content, sample.trigger_data(),
                                                                                  prepared)
    plain = rendered(content, sample.trigger_data())

    # Then the package is a sound zip whose styles are the template's bytes, and the text is the same
    original = zipfile.ZipFile(io.BytesIO(content))
    for package in (first, second):
        archive = zipfile.ZipFile(io.BytesIO(package))
        assert archive.testzip() is None
        assert set(archive.namelist()) == set(zipfile.ZipFile(io.BytesIO(plain)).namelist())
        for name in docx_package.PASSIVE:
            assert archive.read(name) == original.read(name)
    assert docx_kit.paragraphs(first) == docx_kit.paragraphs(plain) == docx_kit.paragraphs(second)
    styles = [s.name for s in docx.Document(io.BytesIO(first)).styles]
    assert styles == [s.name for s in docx.Document(io.BytesIO(content)).styles] and "Heading 1" in styles


def test_the_render_itself_never_sees_the_big_styles():
    package, kept = docx_package.light(sample.contract_template())
    archive = zipfile.ZipFile(io.BytesIO(package))
    assert set(kept) == set(docx_package.PASSIVE)
    assert all(archive.read(name) == docx_package.STAND_IN for name in docx_package.PASSIVE)


def test_a_template_with_small_styles_is_rendered_as_it_is():
    document = zipfile.ZipFile(io.BytesIO(docx_kit.template("x")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as writer:
        for info in document.infolist():
            writer.writestr(info, docx_package.STAND_IN if info.filename in docx_package.PASSIVE
                            else document.read(info.filename))
    small = out.getvalue()
    assert docx_package.light(small) == (small, {})
    assert docx_kit.paragraphs(rendered(small, {}, prepared_of(small))) == ["x"]


def test_a_cached_render_places_images_next_to_the_restored_styles():
    content = docx_kit.template("Logo: {{ template_image('logo') }}")
    images = {"logo": docx_kit.png()}
    package = render_docx(content, template_context({"trigger": {}}), images=images, prepared=prepared_of(content))
    assert zipfile.ZipFile(io.BytesIO(package)).testzip() is None
    assert len(docx_kit.images(package)) == 1


@pytest.mark.skipif(pdf.soffice() is None, reason="LibreOffice (soffice) is not installed: run `make office`")
def test_libreoffice_reads_a_cached_render():
    content = sample.contract_template()
    package = rendered(content, sample.trigger_data(), prepared_of(content))
    text = pypdf.PdfReader(io.BytesIO(pdf.to_pdf(package, timeout=120))).pages[0].extract_text()
    assert "Acme Corp" in text and "Services Agreement" in text
