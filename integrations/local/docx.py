"""Render a .docx template with `{{tags}}` from the run context (docxtpl)."""
import io
import re

from docxtpl import DocxTemplate

from integrations import template_cache, template_checks, templating
from integrations.base import Action, Result
from integrations.errors import InvalidConfig, TemplateError, TemplateInvalid, TemplateNotFound
from integrations.local import docx_package, pdf
from storage import documents, template_images
from storage.models import Template

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = pdf.PDF
FORMATS = {"docx": (DOCX, ".docx"), "pdf": (PDF, ".pdf")}


def safe_name(name, suffix):
    stem = re.sub(r"[^\w.\- ]+", "_", str(name)).strip(" ._") or "document"
    stem = stem[:120]
    return stem if stem.lower().endswith(suffix) else stem + suffix


def template_context(run):
    """Tags see trigger fields at top level, plus `trigger` and `step`.

    NOTE: a trigger field named `template_image` stays under `trigger.` only,
    so it cannot hide the function of that name.
    """
    trigger = run.get("trigger", {})
    top = {key: value for key, value in trigger.items() if key != "template_image"}
    return {**top, "trigger": trigger, "step": run.get("steps", {})}


def load_template(template_id, organization_id, *, content=True):
    """Return the organization's live template row; without `content`, only its small columns."""
    columns = () if content else (Template.id, Template.organization, Template.name, Template.version,
                                  Template.sha256, Template.size)
    template = (Template.select(*columns)
                .where((Template.id == template_id) & (Template.organization == organization_id)
                       & Template.deleted_at.is_null()).first())
    if template is None:
        raise TemplateNotFound(message_tech=f"template {template_id} not found")
    return template


def prepared_template(template_id, organization_id, settings=None):
    """Return (the template row, its cached Prepared entry); one SELECT either way.

    NOTE: with no entry for this template the row is read with its bytes;
    with one (of some version) only its small columns are read, and the
    bytes only if the version moved on, matching the version and hash just
    read: a version stored in between is read again from the top, so an
    entry never holds the bytes of a version other than its key's.
    """
    cache = template_cache.cache(settings)
    for _ in range(3):
        with_content = not cache.holds(str(organization_id), str(template_id))
        template = load_template(template_id, organization_id, content=with_content)

        def content():
            if with_content:
                return template.content
            row = (Template.select(Template.content)
                   .where((Template.id == template.id) & (Template.version == template.version)
                          & (Template.sha256 == template.sha256)).first())
            if row is None:
                raise _Replaced()
            return row.content

        try:
            return template, template_cache.prepare(template, settings, content=content)
        except _Replaced:
            continue
        except TemplateError as ex:
            raise ex.naming(template.name)
    raise TemplateNotFound(message_tech=f"template {template_id} kept changing while it was read")


class _Replaced(Exception):
    """The template got a new version between reading its row and its bytes."""


class SandboxedDocx(DocxTemplate):
    """docxtpl's template, rendering its core properties as plain text, not XML."""

    def render_properties(self, context, jinja_env=None):
        budget = templating.current()
        previous, budget.fmt = budget.fmt, "text"
        try:
            super().render_properties(context, jinja_env)
        finally:
            budget.fmt = previous


def render_docx(content, context, *, settings=None, locale=None, images=None, template_name="The template",
                prepared=None):
    """Return the rendered .docx bytes, rendered in the shared sandbox.

    Values are escaped for WordprocessingML, newlines become line breaks;
    unmapped tags are an error (`template.unmapped_tags`), not blanks.
    `images` ({name: bytes}) are what `template_image(name)` may place.
    `prepared` (template_cache) is the stored template's checked report,
    compiled tags and styles-free package, reused from earlier renders of
    the same version.
    """
    report = prepared.report if prepared is not None else template_checks.inspect(bytes(content))
    if report.kind != template_checks.DOCX:
        raise TemplateInvalid("The template is not a Word (.docx) file.", "package is not a .docx")
    jinja_env = prepared.jinja_env() if prepared is not None else templating.environment()
    package, kept = (prepared.derived("docx.light", docx_package.light, docx_package.weight)
                     if prepared is not None else (content, {}))
    doc = SandboxedDocx(io.BytesIO(package))
    try:
        doc.init_docx()
    except Exception as ex:  # noqa: BLE001 - python-docx raises zip/xml/key errors for a broken file
        raise TemplateInvalid("The template is not a valid Word (.docx) file.", f"{type(ex).__name__}: {ex}") from ex

    def render():
        doc.render(context, jinja_env=jinja_env)
        out = io.BytesIO()
        doc.save(out)
        return docx_package.restore(out.getvalue(), kept)

    return templating.guarded(render, limits=templating.Limits.of(settings), fmt="xml", doc=doc, locale=locale,
                              images=images, template_name=template_name)


def stored_images(template, report=None):
    """The images stored with `template` that its tags may place ({name: bytes}; no query when none)."""
    report = report or template_checks.inspect(bytes(template.content))
    return template_images.contents(template.id, report.images_needed())


def template_tags(content):
    """Return the top-level data names the template needs (a frozenset)."""
    return frozenset(template_checks.inspect(bytes(content)).roots())


def output_formats(config):
    """The formats a render keeps: `formats` (docx, pdf) or, without it, pdf when `pdf` is true."""
    formats = config.get("formats")
    if formats is None:
        return ["pdf"] if config.get("pdf") else ["docx"]
    if isinstance(formats, str):
        formats = [formats]
    if not isinstance(formats, list) or not formats or any(f not in FORMATS for f in formats):
        raise InvalidConfig("formats must list docx and/or pdf.", f"formats={formats!r:.100}",
                            code="render.invalid_formats")
    return [f for f in FORMATS if f in formats]


class LocalDocx(Action):
    """Render a stored .docx template into this run's document."""

    key = "local-docx"
    name = "Render DOCX"
    phase = "render"
    fields = {"template_id": {"type": "string"}, "output_name": {"type": "string"}, "pdf": {"type": "boolean"},
              "formats": {"type": "array", "items": {"enum": list(FORMATS)}},
              "locale": {"type": "string", "description": "locale of the filters, e.g. pt_BR or en_US"}}
    references = {"template_id": "template", "connection_id": "connection"}

    def run(self, ctx):
        if not ctx.config.get("template_id"):
            raise InvalidConfig("Choose a template for this step.", "template_id missing", code="template.not_found")
        formats = output_formats(ctx.config)
        template, prepared = prepared_template(ctx.config["template_id"], ctx.organization_id, ctx.settings)
        try:
            rendered = render_docx(prepared.content, template_context(ctx.run), settings=ctx.settings,
                                   locale=ctx.config.get("locale"), images=stored_images(template, prepared.report),
                                   template_name=f"The template “{template.name}”", prepared=prepared)
        except TemplateError as ex:
            raise ex.naming(template.name)
        made = []
        for fmt in formats:
            content_type, suffix = FORMATS[fmt]
            content = rendered if fmt == "docx" else pdf.to_pdf(
                rendered, timeout=ctx.settings.pdf_timeout_seconds, concurrency=ctx.settings.pdf_conversions_per_process)
            name = safe_name(ctx.config.get("output_name") or ctx.label, suffix)
            document_id = documents.save_generated(
                organization_id=ctx.organization_id, execution_id=ctx.execution_id, node_id=ctx.node_id,
                name=name, content_type=content_type, content=content, is_preview=ctx.dry_run)
            made.append({"document_id": document_id, "name": name, "content_type": content_type,
                         "size": len(content)})
        main = made[-1]
        return Result(output={**main, "documents": made, "template_version": template.version})

    def check(self, config, ctx, node_id):
        if not config.get("template_id"):
            raise InvalidConfig("Choose a template for this step.", "template_id missing", code="template.not_found")
        template, prepared = prepared_template(config["template_id"], ctx.organization_id, ctx.settings)
        from integrations.preflight import Issue
        from integrations.preflight_warnings import defaulted_roots

        issues = []
        report = prepared.report
        # a field with a default is a warning (template.default_used), not a blocking issue
        unmapped = sorted(set(template_checks.missing(report, ctx.trigger)) - defaulted_roots(report, prepared.content))
        absent = template_checks.missing_images(report, template_images.names(template.id) if report.images else ())
        if absent:
            issues.append(Issue("template.image_missing", "template",
                                f"The template “{template.name}” places images that are not stored with it: "
                                f"{', '.join(absent)}; upload them with PUT /api/v1/templates/{template.id}/images/"
                                f"{absent[0]}.", f"template_image() names not stored: {absent}", node_id))
        if unmapped:
            issues.append(Issue("template.unmapped_tags", "template",
                                f"The template “{template.name}” uses tags with no value: {', '.join(unmapped)}.",
                                f"undeclared template variables {unmapped}", node_id))
        if "pdf" in output_formats(config) and pdf.soffice() is None:
            raise pdf.PdfUnavailable(message_tech="soffice (LibreOffice) not found on PATH; run `make office`")
        return issues
