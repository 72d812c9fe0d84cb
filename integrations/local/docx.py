"""Render a .docx template with `{{tags}}` from the run context (docxtpl)."""
import functools
import io
import re

import jinja2
from docxtpl import DocxTemplate

from integrations.base import Action, Result
from integrations.errors import (InvalidConfig, TemplateError, TemplateInvalid, TemplateNotFound,
                                 TemplateRenderError, TemplateUnmappedTags)
from integrations.local import pdf
from integrations.local.tag_errors import failing_tag
from storage import documents
from storage.models import Template

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = pdf.PDF
FORMATS = {"docx": (DOCX, ".docx"), "pdf": (PDF, ".pdf")}


def safe_name(name, suffix):
    stem = re.sub(r"[^\w.\- ]+", "_", str(name)).strip(" ._") or "document"
    stem = stem[:120]
    return stem if stem.lower().endswith(suffix) else stem + suffix


def template_context(run):
    """Tags see trigger fields at top level, plus `trigger` and `step`."""
    trigger = run.get("trigger", {})
    return {**trigger, "trigger": trigger, "step": run.get("steps", {})}


def load_template(template_id, organization_id):
    template = Template.get_or_none((Template.id == template_id)
                                    & (Template.organization == organization_id)
                                    & Template.deleted_at.is_null())
    if template is None:
        raise TemplateNotFound(message_tech=f"template {template_id} not found")
    return template


def render_docx(content, context):
    """Return the rendered .docx bytes; unmapped tags are an error, not blanks."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    doc = None
    try:
        doc = DocxTemplate(io.BytesIO(content))
        doc.render(context, jinja_env=env)
    except jinja2.UndefinedError as ex:
        raise TemplateUnmappedTags(f"The template uses a tag that has no value ({ex}).", str(ex)) from ex
    except jinja2.TemplateError as ex:
        raise TemplateInvalid(f"The template has a syntax error: {ex}.", str(ex)) from ex
    except Exception as ex:  # noqa: BLE001 - a bad file or a type error inside the template: never retried
        tag = failing_tag(doc, context, env, type(ex)) if doc is not None else None
        where = f"The tag {tag} failed" if tag else "The template failed while it was filled in"
        raise TemplateRenderError(f"{where} ({type(ex).__name__}: {ex}).",
                                  f"{type(ex).__name__}: {ex}" + (f" in {tag}" if tag else "")) from ex
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@functools.lru_cache(maxsize=32)
def template_tags(content):
    """Return the undeclared variables the template uses (a frozenset).

    NOTE: kept per content for the process: every run's preflight checks the
    same few templates, and parsing a .docx costs more than the rest of the
    preflight. A new template version is new content, so a new entry.
    """
    return frozenset(DocxTemplate(io.BytesIO(content)).get_undeclared_template_variables(jinja2.Environment()))


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
              "formats": {"type": "array", "items": {"enum": list(FORMATS)}}}
    references = {"template_id": "template", "connection_id": "connection"}

    def run(self, ctx):
        if not ctx.config.get("template_id"):
            raise InvalidConfig("Choose a template for this step.", "template_id missing", code="template.not_found")
        formats = output_formats(ctx.config)
        template = load_template(ctx.config["template_id"], ctx.organization_id)
        try:
            rendered = render_docx(bytes(template.content), template_context(ctx.run))
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
        template = load_template(config["template_id"], ctx.organization_id)
        issues = []
        known = set(ctx.trigger) | {"trigger", "step"}
        try:
            tags = template_tags(bytes(template.content))
        except Exception as ex:  # noqa: BLE001 - not a .docx, or tags that do not parse
            raise TemplateInvalid(f"The template “{template.name}” cannot be read: {ex}.",
                                  f"{type(ex).__name__}: {ex}") from ex
        unmapped = sorted(set(tags) - known)
        if unmapped:
            from integrations.preflight import Issue

            issues.append(Issue("template.unmapped_tags", "template",
                                f"The template “{template.name}” uses tags with no value: {', '.join(unmapped)}.",
                                f"undeclared template variables {unmapped}", node_id))
        if "pdf" in output_formats(config) and pdf.soffice() is None:
            raise pdf.PdfUnavailable(message_tech="soffice (LibreOffice) not found on PATH; run `make office`")
        return issues
