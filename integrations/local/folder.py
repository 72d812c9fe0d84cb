"""Save the run's generated documents to a folder under the storage root."""
import os
from pathlib import Path

from integrations.base import Action, Result
from integrations.errors import InvalidConfig
from storage import documents


def resolve_folder(root, organization_id, folder):
    """Return the absolute folder for a tenant; refuse escapes from its root."""
    base = (Path(root) / str(organization_id)).resolve()
    relative = str(folder or "").strip().lstrip("/")
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise InvalidConfig("The folder must stay inside your storage area.",
                            f"folder {folder!r} escapes {base}", code="storage.invalid_folder")
    return target


def _is_s3(config):
    """s3:// folders go to the S3 integration, through the step's connection."""
    return str(config.get("folder") or "").strip().startswith("s3://")


class FolderStorage(Action):
    """Write the run's documents to a folder, or to S3 for `s3://bucket/prefix`."""

    key = "storage"
    name = "Save to storage"
    phase = "save"
    fields = {"folder": {"type": "string"}, "connection_id": {"type": "string"}}

    def check(self, config, ctx, node_id):
        if _is_s3(config):
            from integrations.s3 import check_folder

            return check_folder(config, ctx, node_id)
        target = self._target(config, ctx)
        existing = next(p for p in [target, *target.parents] if p.exists())
        if not os.access(existing, os.W_OK):
            raise InvalidConfig("The storage folder is not writable.", f"{existing} not writable",
                                code="storage.not_writable")
        return []

    def _target(self, config, ctx):
        return resolve_folder(ctx.settings.files_root, ctx.organization_id, str(config.get("folder") or ""))

    def run(self, ctx):
        if _is_s3(ctx.config):
            from integrations.s3 import upload_documents

            return Result(output=upload_documents(ctx, ctx.config["folder"]))
        target = self._target(ctx.config, ctx)
        target.mkdir(parents=True, exist_ok=True)
        saved = []
        for document in documents.for_execution(ctx.execution_id):
            path = target / f"{str(document.id)[:8]}-{document.name}"
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(bytes(document.content))
            tmp.replace(path)
            documents.mark_stored(document.id, storage="folder", path=str(path))
            saved.append({"document_id": str(document.id), "name": document.name, "path": str(path)})
        first = saved[0] if saved else {}
        return Result(output={"folder": str(target), "documents": saved, "path": first.get("path"),
                              "document_id": first.get("document_id"), "name": first.get("name")})
