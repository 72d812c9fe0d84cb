"""The google-drive save node: upload the run's documents to a Drive folder.

Each generated document is uploaded once (`ctx.once` per document, Drive
multipart upload, resumable above 5 MB) with `appProperties.docgKey` set to
the ledger key, then marked stored with its Drive id and link. Without a
`folder_id` the files go to the root of My Drive (Drive's `root` alias).
"""
import uuid

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.google.drive import Drive, tagged
from integrations.google.render import check_folder, resolved
from storage import documents


class GoogleDriveSave(Action):
    """Upload every document generated so far in this run to Google Drive."""

    key = "google-drive"
    scopes = ("https://www.googleapis.com/auth/drive",)
    name = "Save to Google Drive"
    phase = "save"
    description = "Upload the run's generated documents to a Google Drive folder."
    fields = {"connection_id": {"type": "string"}, "folder_id": {"type": "string", "dynamic": "folders"}}
    outputs = ("files", "folder_id", "document_id", "name", "url")
    endpoints = ("GET https://www.googleapis.com/drive/v3/files/{fileId}",
                 "POST https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart",
                 "POST https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable")

    def check(self, config, ctx, node_id):
        handle = handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings)
        folder_id = config.get("folder_id") or "root"
        if resolved(folder_id):
            correlation_id = getattr(ctx, "correlation_id", None) or f"preflight-{uuid.uuid4()}"
            check_folder(Drive.for_connection(handle, correlation_id), folder_id)
        return []

    def run(self, ctx):
        folder_id = ctx.config.get("folder_id") or "root"
        drive = Drive.for_connection(ctx.connection(), ctx.correlation_id)
        files = []
        for document in documents.for_execution(ctx.execution_id):
            def upload(key, document=document):
                return drive.upload(name=document.name, content=bytes(document.content),
                                    content_type=document.content_type, folder_id=folder_id,
                                    app_properties=tagged(key)).as_dict()

            uploaded = ctx.once(f"drive_upload:{document.id}", upload)
            documents.mark_stored(document.id, storage="google-drive", url=uploaded["url"],
                                  external_id=uploaded["id"])
            files.append({"id": uploaded["id"], "name": uploaded["name"], "url": uploaded["url"],
                          "document_id": str(document.id)})
        first = files[0] if files else {}
        return Result(output={"files": files, "folder_id": folder_id, "document_id": first.get("document_id"),
                              "name": first.get("name"), "url": first.get("url")})
