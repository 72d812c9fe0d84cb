"""Render a .docx template with `{{tags}}` from the run context (docxtpl)."""
import functools
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2
from docxtpl import DocxTemplate

from integrations.base import Action, Result
from integrations.errors import IntegrationError, InvalidConfig, TemplateNotFound
from storage import documents
from storage.models import Template

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"


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
    doc = DocxTemplate(io.BytesIO(content))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        doc.render(context, jinja_env=env)
    except jinja2.UndefinedError as ex:
        raise InvalidConfig("The template uses a tag that has no value.", str(ex),
                            code="template.unmapped_tags") from ex
    except jinja2.TemplateError as ex:
        raise InvalidConfig("The template has a syntax error.", str(ex), code="template.invalid") from ex
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


def to_pdf(docx_bytes):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise IntegrationError("PDF conversion is not available on this server.",
                               "soffice (LibreOffice) not found on PATH", code="render.pdf_unavailable")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "document.docx"
        source.write_bytes(docx_bytes)
        subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", tmp, str(source)],
                       check=True, capture_output=True, timeout=120)
        return (Path(tmp) / "document.pdf").read_bytes()


class LocalDocx(Action):
    """Render a stored .docx template into this run's document."""

    key = "local-docx"
    name = "Render DOCX"
    phase = "render"
    fields = {"template_id": {"type": "string"}, "output_name": {"type": "string"}, "pdf": {"type": "boolean"}}

    def run(self, ctx):
        if not ctx.config.get("template_id"):
            raise InvalidConfig("Choose a template for this step.", "template_id missing")
        template = load_template(ctx.config["template_id"], ctx.organization_id)
        content = render_docx(bytes(template.content), template_context(ctx.run))
        content_type, suffix = DOCX, ".docx"
        if ctx.config.get("pdf"):
            content, content_type, suffix = to_pdf(content), PDF, ".pdf"
        name = safe_name(ctx.config.get("output_name") or ctx.label, suffix)
        document_id = documents.save_generated(
            organization_id=ctx.organization_id, execution_id=ctx.execution_id, node_id=ctx.node_id,
            name=name, content_type=content_type, content=content, is_preview=ctx.dry_run)
        return Result(output={"document_id": document_id, "name": name, "content_type": content_type,
                              "size": len(content), "template_version": template.version})

    def check(self, config, ctx, node_id):
        if not config.get("template_id"):
            raise InvalidConfig("Choose a template for this step.", "template_id missing", code="template.not_found")
        template = load_template(config["template_id"], ctx.organization_id)
        issues = []
        known = set(ctx.trigger) | {"trigger", "step"}
        from integrations.preflight_warnings import template_defaults

        # a field with a default is a warning (template.default_used), not a blocking issue
        content = bytes(template.content)
        unmapped = sorted(set(template_tags(content)) - known - template_defaults(content))
        if unmapped:
            from integrations.preflight import Issue

            issues.append(Issue("template.unmapped_tags", "template",
                                f"The template uses tags with no value: {', '.join(unmapped)}.",
                                f"undeclared template variables {unmapped}", node_id))
        if config.get("pdf") and not (shutil.which("soffice") or shutil.which("libreoffice")):
            raise IntegrationError("PDF conversion is not available on this server.", "soffice not on PATH",
                                   code="render.pdf_unavailable")
        return issues
