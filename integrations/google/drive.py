"""Google Drive v3: file metadata, copy, export, upload and listing.

Endpoints (https://developers.google.com/drive/api/reference/rest/v3/files):
`GET /drive/v3/about?fields=user` (the connection test), `GET files/{id}`,
`POST files/{id}/copy`, `GET files/{id}/export?mimeType=` (at most 10 MB),
`GET files?q=&pageToken=` (https://developers.google.com/drive/api/guides/search-files),
and uploads on `/upload/drive/v3/files` (https://developers.google.com/drive/api/guides/manage-uploads):
`uploadType=multipart` (metadata + media in one multipart/related body, up to
5 MB) and, above that, `uploadType=resumable` (the session URI comes back in
`Location`; the content is PUT there in one request), and
`POST files/{id}/permissions?sendNotificationEmail=` to share a file with a
user (https://developers.google.com/drive/api/reference/rest/v3/permissions/create).
Every call passes `supportsAllDrives=true` so shared drives work.

NOTE: Drive has no idempotency key. Callers wrap creating calls in
`ctx.once`, and tag what they create with `appProperties.docgKey` (the
ledger's key) so a person can find a copy made by an attempt that died.
"""
import dataclasses
import hashlib
import json
import uuid

from integrations.errors import IntegrationError
from integrations.google.client import GoogleApi, check, quoted

FOLDER = "application/vnd.google-apps.folder"
DOCUMENT = "application/vnd.google-apps.document"
PRESENTATION = "application/vnd.google-apps.presentation"
FORM = "application/vnd.google-apps.form"
FILE_FIELDS = "id,name,mimeType,parents,webViewLink,trashed"
MULTIPART_LIMIT = 5 * 1024 * 1024
MAX_OPTIONS = 1000
ALL_DRIVES = {"supportsAllDrives": "true"}


@dataclasses.dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    url: str = ""
    parents: tuple = ()

    @classmethod
    def of(cls, body):
        return cls(id=body["id"], name=body.get("name", ""), mime_type=body.get("mimeType", ""),
                   url=body.get("webViewLink") or f"https://drive.google.com/open?id={body['id']}",
                   parents=tuple(body.get("parents") or ()))

    def as_dict(self):
        return {"id": self.id, "name": self.name, "mime_type": self.mime_type, "url": self.url,
                "parents": list(self.parents)}


def tagged(idempotency_key):
    """appProperties naming the ledger key (key + value must fit 124 bytes)."""
    value = idempotency_key if len(idempotency_key) <= 117 else hashlib.sha256(idempotency_key.encode()).hexdigest()
    return {"docgKey": value}


def query_literal(text):
    """Quote `text` for a Drive query string ('...' with \\ and ' escaped)."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"


class Drive(GoogleApi):
    api = "drive"
    multipart_limit = MULTIPART_LIMIT

    def about(self):
        return self.get("about", "account check", params={"fields": "user"}).json().get("user") or {}

    def file(self, file_id, *, not_found="template.not_found", what="file"):
        body = self.get(f"files/{quoted(file_id)}", what, not_found=not_found,
                        params={**ALL_DRIVES, "fields": FILE_FIELDS}).json()
        if body.get("trashed"):
            raise IntegrationError(f"The {what} is in the Drive trash; restore it or pick another.",
                                   f"file {file_id} is trashed", code=not_found)
        return DriveFile.of(body)

    def copy(self, file_id, *, name, folder_id=None, app_properties=None):
        body = {"name": name}
        if folder_id:
            body["parents"] = [folder_id]
        if app_properties:
            body["appProperties"] = app_properties
        response = self.post(f"files/{quoted(file_id)}/copy", "copy the template", not_found="template.not_found",
                             params={**ALL_DRIVES, "fields": FILE_FIELDS}, json=body)
        return DriveFile.of(response.json())

    def export(self, file_id, mime_type):
        """Return the bytes of a Google document exported as `mime_type`."""
        return self.get(f"files/{quoted(file_id)}/export", "export the document", not_found="template.not_found",
                        params={"mimeType": mime_type}).content

    def upload(self, *, name, content, content_type, folder_id=None, app_properties=None):
        """Create a file with `content`: multipart up to 5 MB, resumable above."""
        metadata = {"name": name, "mimeType": content_type}
        if folder_id:
            metadata["parents"] = [folder_id]
        if app_properties:
            metadata["appProperties"] = app_properties
        if len(content) > self.multipart_limit:
            return self._upload_resumable(metadata, content, content_type)
        boundary = f"docg-{uuid.uuid4().hex}"
        body = b"".join([
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(metadata).encode(),
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode(),
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        ])
        response = self.post("files", "upload the document", api="upload", not_found="drive.folder_not_found",
                              params={"uploadType": "multipart", **ALL_DRIVES, "fields": FILE_FIELDS}, data=body,
                              headers={"Content-Type": f"multipart/related; boundary={boundary}"})
        return DriveFile.of(response.json())

    def _upload_resumable(self, metadata, content, content_type):
        start = self.post("files", "start the upload", api="upload", not_found="drive.folder_not_found",
                          params={"uploadType": "resumable", **ALL_DRIVES, "fields": FILE_FIELDS}, json=metadata,
                          headers={"X-Upload-Content-Type": content_type,
                                   "X-Upload-Content-Length": str(len(content))})
        session_uri = start.headers["Location"]
        response = check(self.session.put(session_uri, data=content, headers={"Content-Type": content_type}),
                         "upload the document", not_found="drive.folder_not_found")
        return DriveFile.of(response.json())

    def share(self, file_id, email, *, role, notify=True, message=None):
        """Give the user `email` the `role` (reader, commenter, writer) on a file; return the permission."""
        params = {**ALL_DRIVES, "sendNotificationEmail": "true" if notify else "false",
                  "fields": "id,type,role,emailAddress"}
        if notify and message:
            params["emailMessage"] = message
        body = self.post(f"files/{quoted(file_id)}/permissions", "share the file", not_found="drive.file_not_found",
                         params=params, json={"role": role, "type": "user", "emailAddress": email}).json()
        return {"email": body.get("emailAddress") or email, "permission_id": body["id"], "role": body.get("role", role)}

    def list_files(self, query, *, limit=MAX_OPTIONS):
        """Yield the files matching a Drive query, following nextPageToken."""
        params = {"q": query, "pageSize": 100, "orderBy": "name", "includeItemsFromAllDrives": "true",
                  **ALL_DRIVES, "fields": "nextPageToken,files(id,name,mimeType,webViewLink,parents)"}
        count = 0
        while True:
            body = self.get("files", "list files", params=params).json()
            for item in body.get("files") or []:
                yield DriveFile.of(item)
                count += 1
                if count >= limit:
                    return
            if not body.get("nextPageToken"):
                return
            params["pageToken"] = body["nextPageToken"]


def search_query(mime_types, search=None):
    kinds = " or ".join(f"mimeType = {query_literal(m)}" for m in mime_types)
    query = f"({kinds}) and trashed = false"
    if search:
        query += f" and name contains {query_literal(search)}"
    return query


def lister(*mime_types):
    """A dynamic data provider: the account's files of these types."""

    def options(handle, params):
        drive = Drive.for_connection(handle, f"dynamic-{uuid.uuid4()}")
        return [{"value": f.id, "label": f.name, "mime_type": f.mime_type, "url": f.url}
                for f in drive.list_files(search_query(mime_types, params.get("search")))]

    return options


folders = lister(FOLDER)
templates = lister(DOCUMENT, PRESENTATION)
