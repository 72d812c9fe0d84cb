"""Word and PowerPoint render nodes: download from OneDrive, fill, upload, PDF.

Each run downloads the template (a drive item id in the connected account's
OneDrive, or in `drive_id` for a shared/SharePoint drive), fills its
`{{tags}}` locally (docxtpl for .docx, python-pptx for .pptx), uploads the
result next to the template or into `folder_item_id`, and, with `pdf`, asks
Graph to convert the uploaded file. The file stored in DocG's documents
table (and attached by later delivery nodes) is the PDF when asked, else the
filled .docx/.pptx.

NOTE: the upload runs under `ctx.once`, so a retried hop never uploads a
second copy; Graph's simple upload takes no idempotency key. Name clashes
default to `rename` ("Contract Acme 1.docx"): two runs that produce the same
name (two deals of one client, a run retried from the start) must never
overwrite a document that may already have been sent or signed. `replace`
(overwrite, same item id) and `fail` (409 → drive.name_conflict) can be
chosen per node.

NOTE: a dry run fills the template and stores a preview, but writes nothing
to OneDrive; with no upload there is no Graph conversion, so the preview is
the filled .docx/.pptx even when `pdf` is set.

Docs: see integrations/microsoft/graph.py.
"""
import dataclasses

from integrations.base import Action, Result
from integrations.errors import BadResponse, InvalidConfig, TemplateNotFound
from integrations.local.docx import PDF, render_docx, safe_name, template_context
from integrations.microsoft.graph import CONFLICT_BEHAVIORS, DriveItem, Graph, graph_for_check
from integrations.microsoft.pptx_fill import fill_pptx
from storage import documents

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
GRAPH = "https://graph.microsoft.com/v1.0"


def unresolved(value):
    return isinstance(value, str) and "{{" in value


class OfficeRender(Action):
    """Fill an Office template stored in OneDrive; keep the result there and in DocG."""

    phase = "render"
    suffix = ""
    content_type = ""
    kind = ""
    outputs = ("document_id", "name", "content_type", "size", "item_id", "item_name", "drive_id", "url")
    endpoints = (f"GET {GRAPH}/me/drive/items/{{item-id}}",
                 f"GET {GRAPH}/me/drive/items/{{item-id}}/content",
                 f"PUT {GRAPH}/me/drive/items/{{parent-id}}:/{{filename}}:/content",
                 f"GET {GRAPH}/me/drive/items/{{item-id}}/content?format=pdf")

    @property
    def fields(self):
        return {
            "connection_id": {"type": "string", "description": "A Microsoft connection."},
            "template_item_id": {"type": "string",
                                 "description": f"OneDrive drive item id of the {self.suffix} template."},
            "drive_id": {"type": "string", "description": "Drive holding the template and folder, when it is not "
                                                          "the account's own OneDrive (shared or SharePoint)."},
            "output_name": {"type": "string", "description": "Name of the generated file (variables allowed)."},
            "folder_item_id": {"type": "string",
                               "description": "Destination folder's drive item id; default: the template's folder."},
            "pdf": {"type": "boolean", "description": "Convert to PDF with Microsoft Graph and keep the PDF."},
            "conflict_behavior": {"enum": list(CONFLICT_BEHAVIORS), "default": "rename",
                                  "description": "When the name exists in the folder: rename, replace or fail."},
        }

    def fill(self, content, context, *, settings=None, locale=None):
        raise NotImplementedError

    def check(self, config, ctx, node_id):
        template_id, folder_id, drive_id = (config.get(k) for k in ("template_item_id", "folder_item_id", "drive_id"))
        if not template_id:
            raise InvalidConfig(f"Choose a {self.kind} template in OneDrive.", "template_item_id missing",
                                code="template.not_found")
        if config.get("conflict_behavior", "rename") not in CONFLICT_BEHAVIORS:
            raise InvalidConfig("Choose what to do when the file name exists: rename, replace or fail.",
                                f"conflict_behavior {config.get('conflict_behavior')!r}")
        graph = graph_for_check(config, ctx)
        if unresolved(drive_id):
            return []
        checked = False
        if not unresolved(template_id):
            self._template(graph, template_id, drive_id)
            checked = True
        if folder_id and not unresolved(folder_id):
            folder = graph.item(folder_id, drive_id, kind="folder")
            if not folder.is_folder:
                raise BadResponse("The destination is a file, not a folder; choose a OneDrive folder.",
                                  f"item {folder_id} has no folder facet", code="drive.folder_not_found")
            checked = True
        if not checked:
            graph.me()
        return []

    def _template(self, graph, template_id, drive_id):
        item = graph.item(template_id, drive_id, kind="template")
        if item.is_folder or not item.name.lower().endswith(self.suffix):
            raise TemplateNotFound(f"The chosen OneDrive item {item.name!r} is not a {self.kind} ({self.suffix}) file.",
                                   f"item {template_id}: folder={item.is_folder} name={item.name!r}")
        return item

    def run(self, ctx):
        config = ctx.config
        if not config.get("template_item_id"):
            raise InvalidConfig(f"Choose a {self.kind} template in OneDrive.", "template_item_id missing",
                                code="template.not_found")
        drive_id = config.get("drive_id") or None
        graph = Graph(ctx.http())
        template = self._template(graph, config["template_item_id"], drive_id)
        filled = self.fill(graph.download(template.id, drive_id, kind="template"), template_context(ctx.run),
                           settings=ctx.settings, locale=config.get("locale"))
        name = safe_name(config.get("output_name") or ctx.label, self.suffix)
        if ctx.dry_run:
            return Result(output=self._store(ctx, name, self.content_type, filled, None))

        folder_id = config.get("folder_item_id") or template.parent_id or "root"
        conflict = config.get("conflict_behavior") or "rename"

        def upload(_idempotency_key):
            return dataclasses.asdict(graph.upload(folder_id, name, filled, content_type=self.content_type,
                                                   drive_id=drive_id, conflict=conflict))

        uploaded = DriveItem(**ctx.once("onedrive_upload", upload))
        if not config.get("pdf"):
            return Result(output=self._store(ctx, name, self.content_type, filled, uploaded))
        pdf = graph.download(uploaded.id, drive_id, format="pdf", kind="document")
        if not pdf.startswith(b"%PDF"):
            raise BadResponse("Microsoft did not return a PDF for the generated file.",
                              f"item {uploaded.id} ?format=pdf began with {pdf[:16]!r}")
        return Result(output=self._store(ctx, safe_name(name.rsplit(".", 1)[0], ".pdf"), PDF, pdf, uploaded))

    def _store(self, ctx, name, content_type, content, uploaded):
        document_id = documents.save_generated(
            organization_id=ctx.organization_id, execution_id=ctx.execution_id, node_id=ctx.node_id,
            name=name, content_type=content_type, content=content, is_preview=ctx.dry_run)
        if uploaded is not None and content_type == self.content_type:
            documents.mark_stored(document_id, storage="onedrive", url=uploaded.web_url, external_id=uploaded.id)
        return {"document_id": document_id, "name": name, "content_type": content_type, "size": len(content),
                "item_id": uploaded and uploaded.id, "item_name": uploaded and uploaded.name,
                "drive_id": uploaded and uploaded.drive_id, "url": uploaded and uploaded.web_url}


class MicrosoftWord(OfficeRender):
    """Fill a Word template from OneDrive with docxtpl."""

    key = "microsoft-word"
    scopes = ("Files.ReadWrite",)
    name = "Microsoft Word document"
    description = "Fill a .docx template stored in OneDrive, save it there, optionally as PDF."
    suffix, content_type, kind = ".docx", DOCX, "Word"

    def fill(self, content, context, *, settings=None, locale=None):
        return render_docx(content, context, settings=settings, locale=locale)


class MicrosoftPowerPoint(OfficeRender):
    """Fill a PowerPoint template from OneDrive with python-pptx."""

    key = "microsoft-powerpoint"
    scopes = ("Files.ReadWrite",)
    name = "Microsoft PowerPoint presentation"
    description = "Fill a .pptx template stored in OneDrive, save it there, optionally as PDF."
    suffix, content_type, kind = ".pptx", PPTX, "PowerPoint"

    def fill(self, content, context, *, settings=None, locale=None):
        return fill_pptx(content, context, settings=settings, locale=locale)
