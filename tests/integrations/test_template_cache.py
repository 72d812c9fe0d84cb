"""The per-process cache of checked, compiled template versions: versions, tenants, bounds."""
import pytest

from integrations import template_cache
from integrations.errors import TemplateNotFound, TemplateUnmappedTags
from integrations.local.docx import prepared_template, render_docx, template_context
from storage import templates
from tests import docx_kit

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(autouse=True)
def empty_cache():
    template_cache.cache().clear()
    yield
    template_cache.cache().clear()


def rendered_text(template_id, organization_id, trigger):
    template, prepared = prepared_template(template_id, organization_id)
    return docx_kit.paragraphs(render_docx(prepared.content, template_context({"trigger": trigger}),
                                           prepared=prepared))


def test_renders_of_one_version_share_one_entry(db, org):
    stored = templates.create(org.id, name="a.docx", content_type=DOCX, content=docx_kit.template("Hi {{ name }}"))

    first = prepared_template(stored.id, org.id)[1]
    assert rendered_text(stored.id, org.id, {"name": "Ana"}) == ["Hi Ana"]
    assert rendered_text(stored.id, org.id, {"name": "Bia"}) == ["Hi Bia"]

    assert prepared_template(stored.id, org.id)[1] is first
    assert first.report.fields == ["name"] and first.size > len(first.content)  # compiled sources counted


def test_a_new_version_is_never_served_from_the_old_entry(db, org):
    # Given a template rendered (and cached) at version 1
    stored = templates.create(org.id, name="a.docx", content_type=DOCX, content=docx_kit.template("Old {{ name }}"))
    assert rendered_text(stored.id, org.id, {"name": "Ana"}) == ["Old Ana"]
    old_key = template_cache.key_of(prepared_template(stored.id, org.id)[0])

    # When version 2 is stored
    updated = templates.replace_content(stored, content_type=DOCX, content=docx_kit.template("New {{ who }}"),
                                        actor=("user", None))

    # Then the next render reads version 2, with its own checks, and the old entry is gone
    template, prepared = prepared_template(stored.id, org.id)
    assert template.version == updated.version == 2 and prepared.report.fields == ["who"]
    assert rendered_text(stored.id, org.id, {"who": "Bia"}) == ["New Bia"]
    assert old_key not in template_cache.cache()


def test_one_organizations_entry_is_never_another_organizations(db, org, other_org):
    # Given two organizations that uploaded the very same bytes
    content = docx_kit.template("Dear {{ name }}")
    mine = templates.create(org.id, name="a.docx", content_type=DOCX, content=content)
    theirs = templates.create(other_org.id, name="a.docx", content_type=DOCX, content=content)

    # When both render
    _, my_entry = prepared_template(mine.id, org.id)
    _, their_entry = prepared_template(theirs.id, other_org.id)

    # Then each has its own entry, and neither reaches the other's template through the cache
    assert my_entry is not their_entry
    assert template_cache.key_of(prepared_template(mine.id, org.id)[0])[0] == org.id
    with pytest.raises(TemplateNotFound):
        prepared_template(mine.id, other_org.id)


def test_a_cached_render_still_names_the_failing_line(db, org):
    stored = templates.create(org.id, name="a.docx", content_type=DOCX,
                              content=docx_kit.template("Fine", "Total: {{ missing_total }}"))
    for _ in range(2):  # the second render compiles nothing: the locator must still see the source
        template, prepared = prepared_template(stored.id, org.id)
        with pytest.raises(TemplateUnmappedTags) as raised:
            render_docx(prepared.content, template_context({"trigger": {}}), prepared=prepared)
        assert "Total: {{ missing_total }}" in raised.value.message_tech


def fake(size):
    return lambda: (b"x" * size, None)


def test_the_cache_is_bounded_in_bytes_and_forgets_the_least_recent():
    cache = template_cache.TemplateCache(max_bytes=250)
    cache.get(("org", "a", 1, "h"), fake(100))
    cache.get(("org", "b", 1, "h"), fake(100))
    cache.get(("org", "a", 1, "h"), fake(100))  # a is now the most recent
    cache.get(("org", "c", 1, "h"), fake(100))

    assert ("org", "a", 1, "h") in cache and ("org", "c", 1, "h") in cache
    assert ("org", "b", 1, "h") not in cache and cache.used == 200
    cache.get(("org", "big", 1, "h"), fake(300))  # larger than the whole cache: served, not kept
    assert ("org", "big", 1, "h") not in cache and cache.used == 200


def test_a_zero_size_turns_the_cache_off():
    cache = template_cache.TemplateCache(max_bytes=0)
    first = cache.get(("org", "a", 1, "h"), fake(10))
    assert cache.get(("org", "a", 1, "h"), fake(10)) is not first and cache.used == 0
