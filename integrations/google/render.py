"""The google-docs and google-slides render nodes: copy, fill in, export.

A run copies the template (Drive files.copy, once), replaces every `{{tag}}`
the template uses with its value from the run (Docs or Slides batchUpdate
replaceAllText, once), exports the copy as PDF (or .docx / .pptx) and stores
the bytes as the run's document, so later nodes (email, storage, signatures)
attach it like a local-docx document. Tags see what local-docx tags see
(`template_context`): trigger fields at top level, `trigger.x` and
`step.<label>.x`. A tag with no value stops the run before anything is
copied (code template.unmapped_tags), as local-docx does.
"""
import json
import re
import uuid

from integrations import template_checks, templating
from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.errors import InvalidConfig, TemplateUnsafe
from integrations.google.documents import Docs, Slides, tags_in
from integrations.google.drive import DOCUMENT, FOLDER, PRESENTATION, Drive, tagged
from integrations.local.docx import PDF, safe_name, template_context
from integrations.preflight import Issue
from storage import documents

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
MISSING = object()
PATH = re.compile(r"[\w-]+(?:\.[\w-]+)*")


def tag_value(context, name):
    """Return the value a tag names in the template context, or MISSING."""
    value = context
    for part in name.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def as_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def replacements_for(text, context, *, settings=None):
    """Return {tag as written: replacement text}; refuse tags with no value.

    A tag that is a dotted path (`{{ contact.name }}`) is looked up in the
    data; any other tag (`{{ total|currency }}`) is an expression rendered
    as text in the shared sandbox (templating.py), like local-docx tags.
    """
    tags = tags_in(text)
    paths = {written: name for written, name in tags.items() if PATH.fullmatch(name)}
    values = {written: tag_value(context, name) for written, name in paths.items()}
    missing = sorted({paths[written] for written, value in values.items() if value is MISSING})
    if missing:
        raise InvalidConfig(f"The template uses tags with no value: {', '.join(missing)}.",
                            f"unmapped Google template tags {missing}", code="template.unmapped_tags")
    replacements = {written: as_text(value) for written, value in values.items()}
    expressions = {written: name for written, name in tags.items() if written not in paths}
    if expressions:
        env = templating.environment()
        replacements.update(templating.guarded(
            lambda: {written: env.from_string("{{ " + name + " }}").render(context)
                     for written, name in expressions.items()},
            limits=templating.Limits.of(settings), fmt="text", template_name="The Google template"))
    return replacements


def unknown_tags(text, ctx):
    """Tags preflight can already tell have no value (step outputs are not known yet)."""
    context = template_context({"trigger": ctx.trigger, "steps": {label: {} for label in ctx.earlier_labels}})
    unknown = set()
    for name in tags_in(text).values():
        for path in _paths_of(name):
            head, _, rest = path.partition(".")
            if head == "step":
                if rest.split(".", 1)[0] not in ctx.earlier_labels:
                    unknown.add(path)
            elif head == "trigger" or PATH.fullmatch(name):
                if tag_value(context, path) is MISSING:
                    unknown.add(path)
            elif head not in context:
                unknown.add(path)
    return sorted(unknown)


def _paths_of(name):
    """The data paths a tag reads: itself when a dotted path, else what its expression uses."""
    if PATH.fullmatch(name):
        return [name]
    tree = template_checks.parse("Google template", "{{ " + name + " }}")
    problem = template_checks.unsafe(tree)
    if problem:
        raise TemplateUnsafe(f"The Google template uses {problem}; templates may only read their data.",
                             f"static check: {problem}")
    fields, loops = template_checks.collect(tree)
    return fields + [loop["name"] for loop in loops]


def resolved(value):
    return bool(value) and "{{" not in str(value)


class GoogleRender(Action):
    """Copy a Google template, replace its tags, export it as the run's document."""

    phase = "render"
    merge = Docs
    google_type = DOCUMENT
    kind = "Google Docs document"
    office = (DOCX, ".docx")
    outputs = ("document_id", "google_file_id", "name", "url", "content_type", "size", "replaced")

    def run(self, ctx):
        config = ctx.config
        if not config.get("template_id"):
            raise InvalidConfig("Choose a template for this step.", "template_id missing", code="template.not_found")
        handle = ctx.connection()
        drive = Drive.for_connection(handle, ctx.correlation_id)
        merge = self.merge.for_connection(handle, ctx.correlation_id)
        template = self.template(drive, config["template_id"])
        replacements = replacements_for(merge.text(template.id), template_context(ctx.run), settings=ctx.settings)
        name = str(config.get("output_name") or template.name)
        folder_id = config.get("folder_id") or None

        copy = ctx.once("google_copy", lambda key: drive.copy(
            template.id, name=name, folder_id=folder_id, app_properties=tagged(key)).as_dict())
        replaced = ctx.once("google_replace", lambda key: {
            "occurrences": merge.replace_all(copy["id"], replacements).occurrences})
        content_type, suffix = (PDF, ".pdf") if config.get("pdf") else self.office
        content = drive.export(copy["id"], content_type)
        document_name = safe_name(name, suffix)
        document_id = documents.save_generated(
            organization_id=ctx.organization_id, execution_id=ctx.execution_id, node_id=ctx.node_id,
            name=document_name, content_type=content_type, content=content, is_preview=ctx.dry_run)
        return Result(output={"document_id": document_id, "google_file_id": copy["id"], "name": document_name,
                              "url": copy["url"], "content_type": content_type, "size": len(content),
                              "replaced": replaced["occurrences"]})

    def template(self, drive, template_id):
        template = drive.file(template_id, not_found="template.not_found", what="template")
        if template.mime_type != self.google_type:
            raise InvalidConfig(f"The template must be a {self.kind}; {template.name!r} is {template.mime_type}.",
                                f"template {template_id} mimeType {template.mime_type}", code="template.not_found")
        return template

    def check(self, config, ctx, node_id):
        handle = handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings)
        template_id, folder_id = config.get("template_id"), config.get("folder_id")
        if not template_id:
            raise InvalidConfig("Choose a template for this step.", "template_id missing", code="template.not_found")
        correlation_id = getattr(ctx, "correlation_id", None) or f"preflight-{uuid.uuid4()}"
        drive = Drive.for_connection(handle, correlation_id)
        if resolved(folder_id):
            check_folder(drive, folder_id)
        if not resolved(template_id):
            return []
        template = self.template(drive, template_id)
        unknown = unknown_tags(self.merge.for_connection(handle, correlation_id).text(template.id), ctx)
        if not unknown:
            return []
        return [Issue("template.unmapped_tags", "template",
                      f"The template uses tags with no value: {', '.join(unknown)}.",
                      f"Google template {template.id} tags without value {unknown}", node_id)]


def check_folder(drive, folder_id):
    folder = drive.file(folder_id, not_found="drive.folder_not_found", what="folder")
    if folder.mime_type != FOLDER:
        raise InvalidConfig(f"{folder.name!r} is not a Drive folder; choose a folder.",
                            f"file {folder_id} mimeType {folder.mime_type}", code="drive.folder_not_found")
    return folder


FIELDS = {"connection_id": {"type": "string"}, "template_id": {"type": "string", "dynamic": "templates"},
          "output_name": {"type": "string"}, "folder_id": {"type": "string", "dynamic": "folders"},
          "pdf": {"type": "boolean"}}


class GoogleDocs(GoogleRender):
    key = "google-docs"
    scopes = ("https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/documents")
    name = "Google Docs"
    description = "Copy a Google Docs template, fill in its {{tags}} and export it (PDF or .docx)."
    fields = FIELDS
    endpoints = ("GET https://www.googleapis.com/drive/v3/files/{fileId}",
                 "GET https://docs.googleapis.com/v1/documents/{documentId}",
                 "POST https://www.googleapis.com/drive/v3/files/{fileId}/copy",
                 "POST https://docs.googleapis.com/v1/documents/{documentId}:batchUpdate",
                 "GET https://www.googleapis.com/drive/v3/files/{fileId}/export")


class GoogleSlides(GoogleRender):
    key = "google-slides"
    scopes = ("https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/presentations")
    name = "Google Slides"
    description = "Copy a Google Slides template, fill in its {{tags}} and export it (PDF or .pptx)."
    merge = Slides
    google_type = PRESENTATION
    kind = "Google Slides presentation"
    office = (PPTX, ".pptx")
    fields = FIELDS
    endpoints = ("GET https://www.googleapis.com/drive/v3/files/{fileId}",
                 "GET https://slides.googleapis.com/v1/presentations/{presentationId}",
                 "POST https://www.googleapis.com/drive/v3/files/{fileId}/copy",
                 "POST https://slides.googleapis.com/v1/presentations/{presentationId}:batchUpdate",
                 "GET https://www.googleapis.com/drive/v3/files/{fileId}/export")
