"""One local server that speaks the Google APIs DocG uses, with their state.

Paths are Google's own below the host (`/drive/v3`, `/upload/drive/v3`,
`/v1/documents`, `/v1/presentations`, `/v1/forms`, `/gmail/v1`, plus
`/token` for OAuth refresh), so a connection whose credentials carry
`base_url` (and `token_url`) reaches all of it. Files have ids, a type and
text: copying keeps the text, batchUpdate applies replaceAllText to it, and
export returns bytes made from it. Uploads parse the multipart/related body
(or the resumable session), Gmail decodes the raw MIME it sends or keeps as
a draft, and every request is recorded with its headers so a test can check
what went on the wire.
Errors use Google's bodies: Drive's `errors[].reason` form and the
`status` form of Docs, Slides, Forms and Gmail.
"""
import itertools
import json
import re
import uuid
from urllib.parse import parse_qs

from werkzeug import Response
from werkzeug.datastructures import Headers

from integrations.google import SCOPES
from tests.integrations.google.fake_gmail_forms import FormsRoutes, GmailRoutes
from tests.integrations.google.fake_wire import Seen, api_error, drive_error, not_found, reply

DOCUMENT = "application/vnd.google-apps.document"
PRESENTATION = "application/vnd.google-apps.presentation"
FOLDER = "application/vnd.google-apps.folder"
FORM = "application/vnd.google-apps.form"
ACCESS_TOKEN = "ya29.a0-test-access"
REFRESH_TOKEN = "1//0g-test-refresh"
NOW = "2024-05-02T13:15:00.000Z"


class FakeGoogle(FormsRoutes, GmailRoutes):
    """Drive, Docs, Slides, Forms, Gmail and the token endpoint, in memory."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.tokens = {ACCESS_TOKEN}
        self.refresh_tokens = {REFRESH_TOKEN}
        self.files, self.forms, self.sent, self.drafts, self.requests = {}, {}, [], {}, []
        self.denied, self.failures, self.sessions = set(), {}, {}
        self.ids = (f"{n:04d}" for n in itertools.count(1))
        self.add("root", "My Drive", FOLDER, parents=[])
        httpserver.expect_request(re.compile("^/")).respond_with_handler(self.handle)

    @property
    def base_url(self):
        return self.server.url_for("/").rstrip("/")

    @property
    def token_url(self):
        return f"{self.base_url}/token"

    def credentials(self, **extra):
        return {"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "base_url": self.base_url,
                "token_url": self.token_url, **extra}

    # -- state a test sets up ---------------------------------------------------------------------------------
    def add(self, file_id, name, mime_type, *, text=(), parents=("root",), content=b""):
        self.files[file_id] = {"id": file_id, "name": name, "mimeType": mime_type, "parents": list(parents),
                               "text": list(text), "content": content, "appProperties": {}, "trashed": False,
                               "permissions": []}
        return self.files[file_id]

    def add_form(self, form_id, title, questions, responses):
        """`questions`: [(question_id, title)] or (title, [(question_id, row)]) for a grid."""
        items = []
        for n, (key, value) in enumerate(questions):
            if isinstance(value, list):
                items.append({"itemId": f"i{n}", "title": key, "questionGroupItem": {
                    "questions": [{"questionId": qid, "rowQuestion": {"title": row}} for qid, row in value],
                    "grid": {"columns": {"type": "RADIO", "options": [{"value": "Yes"}, {"value": "No"}]}}}})
            else:
                items.append({"itemId": f"i{n}", "title": value, "questionItem": {
                    "question": {"questionId": key, "required": True, "textQuestion": {}}}})
        self.forms[form_id] = {"form": {"formId": form_id, "info": {"title": title, "documentTitle": title},
                                        "items": items, "revisionId": "00000042",
                                        "responderUri": f"https://docs.google.com/forms/d/e/{form_id}/viewform"},
                               "responses": {}}
        for response_id, answers in responses.items():
            self.forms[form_id]["responses"][response_id] = {
                "formId": form_id, "responseId": response_id, "createTime": NOW, "lastSubmittedTime": NOW,
                "respondentEmail": "ana@acme.example",
                "answers": {qid: {"questionId": qid, "textAnswers": {
                    "answers": [{"value": v} for v in (values if isinstance(values, list) else [values])]}}
                    for qid, values in answers.items()}}

    def fail(self, method, path, response, times=1):
        """Answer the next `times` requests to (method, path) with `response`."""
        self.failures[(method, path)] = [response] * times

    # -- what a test inspects ---------------------------------------------------------------------------------
    def calls(self):
        return [(seen.method, seen.path) for seen in self.requests]

    def seen(self, method, pattern):
        return [s for s in self.requests if s.method == method and re.fullmatch(pattern, s.path)]

    def text_of(self, file_id):
        return "\n".join(self.files[file_id]["text"])

    # -- the server -------------------------------------------------------------------------------------------
    ROUTES = [
        ("POST", r"/token", "token"),
        ("GET", r"/drive/v3/about", "about"),
        ("GET", r"/drive/v3/files", "list_files"),
        ("GET", r"/drive/v3/files/([^/]+)", "get_file"),
        ("POST", r"/drive/v3/files/([^/]+)/copy", "copy"),
        ("GET", r"/drive/v3/files/([^/]+)/export", "export"),
        ("POST", r"/drive/v3/files/([^/]+)/permissions", "share"),
        ("POST", r"/upload/drive/v3/files", "upload"),
        ("PUT", r"/upload/drive/v3/files", "upload_session"),
        ("GET", r"/v1/documents/([^/:]+)", "get_document"),
        ("POST", r"/v1/documents/([^/:]+):batchUpdate", "batch_update"),
        ("GET", r"/v1/presentations/([^/:]+)", "get_presentation"),
        ("POST", r"/v1/presentations/([^/:]+):batchUpdate", "batch_update"),
        ("GET", r"/v1/forms/([^/]+)", "get_form"),
        ("GET", r"/v1/forms/([^/]+)/responses/([^/]+)", "get_response"),
        ("POST", r"/gmail/v1/users/me/messages/send", "send"),
        ("POST", r"/gmail/v1/users/me/drafts", "create_draft"),
    ]

    def handle(self, request):
        seen = Seen(request.method, request.path, {k: v for k, v in request.args.items()},
                    Headers(request.headers), request.get_data())
        self.requests.append(seen)
        queued = self.failures.get((seen.method, seen.path))
        if queued:
            return queued.pop(0)
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, seen.path)
            if match and method == seen.method:
                if name != "token" and not self.authorized(seen):
                    return api_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. "
                                     "Expected OAuth 2 access token, login cookie or other valid authentication "
                                     "credential.")
                return getattr(self, name)(seen, *match.groups())
        return api_error(404, "NOT_FOUND", f"The requested URL {seen.path} was not found on this server.")

    def authorized(self, seen):
        scheme, _, token = seen.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.tokens

    def token(self, seen):
        form = {k: v[-1] for k, v in parse_qs(seen.body.decode()).items()}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            return reply({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, 400)
        token = f"ya29.a0-refreshed-{uuid.uuid4().hex[:8]}"
        self.tokens.add(token)
        return reply({"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": " ".join(SCOPES)})

    def about(self, seen):
        return reply({"user": {"kind": "drive#user", "displayName": "Ana Souza", "me": True,
                               "permissionId": "07727371185384458915", "emailAddress": "ana@acme.example"}})

    def resource(self, file):
        return {"kind": "drive#file", "id": file["id"], "name": file["name"], "mimeType": file["mimeType"],
                "parents": file["parents"], "trashed": file["trashed"],
                "webViewLink": f"https://docs.google.com/open?id={file['id']}"}

    def visible(self, file_id):
        if file_id in self.denied:
            return None, drive_error(403, "insufficientFilePermissions",
                                     "The user does not have sufficient permissions for this file.")
        if file_id not in self.files:
            return None, not_found(file_id)
        return self.files[file_id], None

    def get_file(self, seen, file_id):
        file, problem = self.visible(file_id)
        return problem or reply(self.resource(file))

    def list_files(self, seen):
        query = seen.args.get("q", "")
        kinds = set(re.findall(r"mimeType\s*=\s*'([^']*)'", query))
        contains = re.search(r"name contains '((?:[^'\\]|\\.)*)'", query)
        needle = re.sub(r"\\(.)", r"\1", contains.group(1)) if contains else None
        found = sorted((f for f in self.files.values() if f["id"] != "root" and (not kinds or f["mimeType"] in kinds)
                        and not ("trashed = false" in query and f["trashed"])
                        and (needle is None or needle.lower() in f["name"].lower())), key=lambda f: f["name"])
        size, start = int(seen.args.get("pageSize", 100)), int(seen.args.get("pageToken") or 0)
        body = {"kind": "drive#fileList", "incompleteSearch": False,
                "files": [self.resource(f) for f in found[start:start + size]]}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return reply(body)

    def new_file(self, metadata, mime_type, **state):
        file_id = f"1{next(self.ids)}{uuid.uuid4().hex[:12]}"
        for parent in metadata.get("parents") or []:
            if self.files.get(parent, {}).get("mimeType") != FOLDER:
                return None, not_found(parent)
        file = self.add(file_id, metadata.get("name") or "Untitled", mime_type,
                        parents=metadata.get("parents") or ["root"], **state)
        file["appProperties"] = dict(metadata.get("appProperties") or {})
        return file, None

    def copy(self, seen, file_id):
        source, problem = self.visible(file_id)
        if problem:
            return problem
        if seen.args.get("supportsAllDrives") != "true":
            return not_found(file_id)  # what Drive answers for a shared-drive file without it
        metadata = seen.json()
        metadata.setdefault("parents", source["parents"])
        metadata.setdefault("name", f"Copy of {source['name']}")
        file, problem = self.new_file(metadata, source["mimeType"], text=source["text"])
        return problem or reply(self.resource(file))

    def export(self, seen, file_id):
        file, problem = self.visible(file_id)
        if problem:
            return problem
        if file["mimeType"] not in (DOCUMENT, PRESENTATION):
            return drive_error(403, "fileNotExportable", "Export only supports Docs Editors files.")
        kind = seen.args.get("mimeType")
        text = self.text_of(file_id).encode()
        if kind == "application/pdf":
            content = b"%PDF-1.4\n% " + file["name"].encode() + b"\n" + text + b"\n%%EOF\n"
        elif kind and kind.startswith("application/vnd.openxmlformats-officedocument."):
            content = b"PK\x03\x04" + text
        else:
            return drive_error(400, "badRequest", "The requested conversion is not supported.", "convertTo")
        return Response(content, content_type=kind)

    def upload(self, seen):
        kind = seen.args.get("uploadType")
        if kind == "resumable":
            upload_id = uuid.uuid4().hex
            self.sessions[upload_id] = (seen.json(), seen.headers.get("X-Upload-Content-Type"))
            location = f"{self.base_url}/upload/drive/v3/files?uploadType=resumable&upload_id={upload_id}"
            return Response("", status=200, headers={"Location": location})
        if kind != "multipart":
            return drive_error(400, "badRequest", "Invalid upload type.", "uploadType")
        match = re.fullmatch(r"multipart/related;\s*boundary=(\S+)", seen.headers.get("Content-Type", ""))
        if not match:
            return drive_error(400, "badContent", "Media type 'multipart/form-data' is not supported.")
        parts = seen.body.split(b"--" + match.group(1).encode())
        if len(parts) != 4 or not parts[3].startswith(b"--"):
            return drive_error(400, "badRequest", "Malformed multipart body.")
        (meta_headers, metadata), (media_headers, content) = (self.part(p) for p in parts[1:3])
        if not meta_headers.get("content-type", "").startswith("application/json"):
            return drive_error(400, "badRequest", "Malformed multipart body.")
        metadata = json.loads(metadata)
        file, problem = self.new_file(metadata, metadata.get("mimeType") or media_headers.get("content-type"),
                                      content=content)
        return problem or reply(self.resource(file))

    @staticmethod
    def part(raw):
        head, _, body = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if line)
        return {k.lower(): v for k, v in headers.items()}, body.removesuffix(b"\r\n")

    def upload_session(self, seen):
        metadata, kind = self.sessions.pop(seen.args.get("upload_id"), (None, None))
        if metadata is None:
            return api_error(404, "NOT_FOUND", "Upload session not found.")
        file, problem = self.new_file(metadata, metadata.get("mimeType") or kind, content=seen.body)
        return problem or reply(self.resource(file))

    def share(self, seen, file_id):
        file, problem = self.visible(file_id)
        if problem:
            return problem
        if seen.args.get("supportsAllDrives") != "true":
            return not_found(file_id)
        body = seen.json()
        if body.get("role") not in ("reader", "commenter", "writer", "fileOrganizer", "organizer", "owner"):
            return drive_error(400, "invalid", "The provided value for the role is invalid.", "permission.role")
        if body.get("type") in ("user", "group") and not body.get("emailAddress"):
            return drive_error(400, "required", "The permission emailAddress field is required.",
                               "permission.emailAddress")
        permission = {"kind": "drive#permission", "id": str(int(uuid.uuid5(uuid.NAMESPACE_DNS, body["emailAddress"]))
                                                            % 10 ** 20),
                      "type": body["type"], "role": body["role"], "emailAddress": body["emailAddress"]}
        file["permissions"].append({**permission, "notified": seen.args.get("sendNotificationEmail") != "false",
                                    "message": seen.args.get("emailMessage")})
        return reply(permission)

    def google_file(self, file_id, mime_type):
        if file_id in self.denied:
            return None, api_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        file = self.files.get(file_id)
        if file is None or file["mimeType"] != mime_type:
            return None, api_error(404, "NOT_FOUND", "Requested entity was not found.")
        return file, None

    @staticmethod
    def runs(text):
        """Split a paragraph in two runs, as a style change in the middle would."""
        middle = len(text) // 2
        chunks = [chunk for chunk in (text[:middle], text[middle:]) if chunk]
        return [{"textRun": {"content": chunk, "textStyle": {}}} for chunk in chunks]

    def get_document(self, seen, file_id):
        file, problem = self.google_file(file_id, DOCUMENT)
        if problem:
            return problem
        body = {"content": [{"sectionBreak": {"sectionStyle": {}}}]
                + [{"paragraph": {"elements": self.runs(line + "\n")}} for line in file["text"]]}
        document = {"documentId": file_id, "title": file["name"], "revisionId": "ALm37BV"}
        if seen.args.get("includeTabsContent") == "true":
            document["tabs"] = [{"tabProperties": {"tabId": "t.0", "title": "Tab 1", "index": 0},
                                 "documentTab": {"body": body}}]
        else:
            document["body"] = body
        return reply(document)

    def get_presentation(self, seen, file_id):
        file, problem = self.google_file(file_id, PRESENTATION)
        if problem:
            return problem
        slides = [{"objectId": f"p{n}", "pageElements": [{"objectId": f"p{n}_i0", "shape": {
            "shapeType": "TEXT_BOX", "text": {"textElements": [{"endIndex": 1, "paragraphMarker": {}}]
                                              + self.runs(text + "\n")}}}]}
                  for n, text in enumerate(file["text"])]
        return reply({"presentationId": file_id, "title": file["name"], "slides": slides, "revisionId": "r1"})

    def batch_update(self, seen, file_id):
        kind = DOCUMENT if seen.path.startswith("/v1/documents/") else PRESENTATION
        file, problem = self.google_file(file_id, kind)
        if problem:
            return problem
        replies = []
        for request in seen.json().get("requests") or []:
            replace = request.get("replaceAllText")
            needle = ((replace or {}).get("containsText") or {}).get("text")
            if not needle or "replaceText" not in replace:
                return api_error(400, "INVALID_ARGUMENT", "Invalid requests[0]: containsText.text must be set.")
            flags = 0 if replace["containsText"].get("matchCase") else re.IGNORECASE
            pattern, changed = re.compile(re.escape(needle), flags), 0
            for n, text in enumerate(file["text"]):
                file["text"][n], count = pattern.subn(lambda _: replace["replaceText"], text)
                changed += count
            replies.append({"replaceAllText": {"occurrencesChanged": changed} if changed else {}})
        key = "documentId" if kind == DOCUMENT else "presentationId"
        return reply({key: file_id, "replies": replies, "writeControl": {"requiredRevisionId": "ALm37BW"}})
