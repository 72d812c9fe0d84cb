"""A local server speaking the parts of Microsoft Graph DocG uses, and its token endpoint.

State: one OneDrive per drive id (the account's own is reached as /me/drive),
items with content, folders, items the account may not touch, sent mail,
drafts (POST /me/messages), sharing links (createLink, one per item, type
and scope, as Graph reuses them) and issued tokens. Like Graph, a download answers 302 Found with a
pre-authenticated URL on another host (a second local server) that must be
fetched without the Authorization header; `?format=pdf` converts (into a
small fake PDF that names the exact bytes it was made from). Errors use
Graph's body, `{"error": {"code", "message", "innerError"}}`; the token
endpoint answers like login.microsoftonline.com (`invalid_grant` with an
AADSTS description). Every request is recorded with its headers.
"""
import base64
import dataclasses
import hashlib
import itertools
import json
import re
import uuid
from urllib.parse import parse_qs, urlencode

from werkzeug import Response
from werkzeug.datastructures import Headers

NOW = "2026-05-02T10:15:00Z"
ME = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity", "id": "87d349ed-44d7-43e1-9a83",
      "displayName": "Ana Souza", "userPrincipalName": "ana@acme.onmicrosoft.com", "mail": "ana@acme.example"}
CONVERTIBLE = ("csv", "doc", "docx", "odp", "ods", "odt", "pot", "potm", "potx", "pps", "ppsx", "ppsxm", "ppt", "pptm",
               "pptx", "rtf", "xls", "xlsx")


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: Headers
    body: bytes


@dataclasses.dataclass
class Item:
    id: str
    drive: str
    name: str
    parent: str | None
    content: bytes | None = None  # None for a folder
    mime: str | None = None

    @property
    def is_folder(self):
        return self.content is None


def reply(payload, status=200, headers=None):
    return Response("" if payload is None else json.dumps(payload), status=status, headers=headers,
                    content_type="application/json")


def graph_error(status, code, message, headers=None):
    inner = {"date": NOW, "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
    return reply({"error": {"code": code, "message": message, "innerError": inner}}, status, headers)


def pdf_for(name, content):
    """The fake conversion: a tiny PDF that names its source and the source's sha256."""
    return (b"%PDF-1.7\n%fake Graph conversion of " + name.encode() + b" sha256="
            + hashlib.sha256(content).hexdigest().encode() + b"\n%%EOF\n")


class FakeGraph:
    prefix = "/v1.0"
    token_path = "/common/oauth2/v2.0/token"
    me_drive = "b!me-drive"

    def __init__(self, httpserver, files_server, *, access_token="graph-access-1", refresh_token="graph-refresh-1"):
        self.server, self.files_server = httpserver, files_server
        self.first_tokens = {"access_token": access_token, "refresh_token": refresh_token}
        self.access_tokens, self.refresh_tokens = {access_token}, {refresh_token}
        self.requests, self.downloads, self.token_requests, self.mail = [], [], [], []
        self.items, self.denied, self.failures, self.blobs = {}, set(), [], {}
        self.links_expired, self.anonymous_links_disabled = False, False
        self.drafts, self.links = {}, {}
        self.ids = itertools.count(1)
        self.root = self.add_folder("root", drive=self.me_drive, parent=None, id_="root")
        httpserver.expect_request(re.compile("^" + re.escape(self.prefix) + "/")).respond_with_handler(self._graph)
        httpserver.expect_request(self.token_path, method="POST").respond_with_handler(self._token)
        files_server.expect_request(re.compile("^/download/")).respond_with_handler(self._download)

    # -- test set-up and inspection ---------------------------------------------------------------

    @property
    def base_url(self):
        return self.server.url_for(self.prefix)

    @property
    def token_url(self):
        return self.server.url_for(self.token_path)

    def credentials(self, **overrides):
        """Connection credentials pointing at this server, with the first tokens it issued."""
        return {**self.first_tokens, "expires_at": "2999-01-01T00:00:00+00:00",
                "scope": "Files.ReadWrite Mail.Send Mail.ReadWrite User.Read", "base_url": self.base_url,
                "token_url": self.token_url, **overrides}

    def add_folder(self, name, *, parent="root", drive=None, id_=None):
        item = Item(id_ or self._new_id(), drive or self.me_drive, name, parent)
        self.items[item.id] = item
        return item

    def add_file(self, name, content, *, parent="root", drive=None, mime="application/octet-stream"):
        item = Item(self._new_id(), drive or self.me_drive, name, parent, content, mime)
        self.items[item.id] = item
        return item

    def fail_next(self, method, path_pattern, status, code, message, headers=None):
        """Answer the next request matching `path_pattern` (path?query) with a Graph error instead."""
        self.failures.append((method, re.compile(path_pattern), status, code, message, headers))

    def revoke(self):
        """The user removed the app's consent: every token stops working."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def calls(self):
        return [(seen.method, seen.path) for seen in self.requests]

    def children(self, folder_id):
        return {item.name: item for item in self.items.values() if item.parent == folder_id}

    def _new_id(self):
        return f"01BYE5RZ{next(self.ids):06d}ITEMID"

    # -- Microsoft Graph ---------------------------------------------------------------------------

    def _graph(self, request):
        seen = Seen(request.method, request.path[len(self.prefix):], {k: v for k, v in request.args.items()},
                    Headers(request.headers), request.get_data())
        self.requests.append(seen)
        authorization = seen.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or authorization[7:] not in self.access_tokens:
            return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.",
                               {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'})
        target = seen.path + ("?" + urlencode(seen.query) if seen.query else "")
        for failure in self.failures:
            method, pattern, status, code, message, headers = failure
            if method == seen.method and pattern.search(target):
                self.failures.remove(failure)
                return graph_error(status, code, message, headers)
        if seen.path == "/me" and seen.method == "GET":
            return reply(ME)
        if seen.path == "/me/sendMail" and seen.method == "POST":
            return self.send_mail(seen)
        if seen.path == "/me/messages" and seen.method == "POST":
            return self.create_draft(seen)
        match = re.fullmatch(r"/(?:me/drive|drives/(?P<drive>[^/]+))/items/(?P<rest>.+)", seen.path)
        if match is None:
            return graph_error(400, "BadRequest", f"Resource not found for the segment '{seen.path.split('/')[1]}'.")
        drive, rest = match.group("drive") or self.me_drive, match.group("rest")
        upload = re.fullmatch(r"(?P<parent>[^/:]+):/(?P<name>[^/]+):/content", rest)
        if upload and seen.method == "PUT":
            return self.upload(seen, drive, upload.group("parent"), upload.group("name"))
        item_id, _, tail = rest.partition("/")
        item = self.items.get(item_id)
        if item is None or item.drive != drive:
            return graph_error(404, "itemNotFound", "The resource could not be found.")
        if item.id in self.denied:
            return graph_error(403, "accessDenied", "Access denied")
        if tail == "" and seen.method == "GET":
            return reply(self.item_json(item))
        if tail == "content" and seen.method == "GET":
            return self.content(seen, item)
        if tail == "createLink" and seen.method == "POST":
            return self.create_link(seen, item)
        return graph_error(405, "notSupported", "The requested operation is not supported.")

    def item_json(self, item):
        body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#drives('x')/items/$entity",
                "id": item.id, "name": item.name, "eTag": f'"{{{item.id}}},1"', "createdDateTime": NOW,
                "lastModifiedDateTime": NOW, "size": len(item.content or b""),
                "webUrl": f"https://acme-my.sharepoint.com/personal/ana/Documents/{item.name}"}
        if item.parent:
            body["parentReference"] = {"driveType": "business", "driveId": item.drive, "id": item.parent}
        if item.is_folder:
            body["folder"] = {"childCount": len(self.children(item.id))}
        else:
            body["file"] = {"mimeType": item.mime,
                            "hashes": {"quickXorHash": base64.b64encode(hashlib.sha1(item.content).digest()).decode()}}
            body["@microsoft.graph.downloadUrl"] = self._blob(item.content)
        return body

    def content(self, seen, item):
        if item.is_folder:
            return graph_error(400, "invalidRequest", "Cannot download a folder.")
        fmt = seen.query.get("format")
        if fmt is None:
            return Response(status=302, headers={"Location": self._blob(item.content)})
        extension = item.name.rsplit(".", 1)[-1].lower()
        if fmt != "pdf" or extension not in CONVERTIBLE:
            return graph_error(406, "notSupported", f"Conversion from {extension} to {fmt} is not supported.")
        return Response(status=302, headers={"Location": self._blob(pdf_for(item.name, item.content))})

    def upload(self, seen, drive, parent_id, name):
        parent = self.items.get(parent_id)
        if parent is None or parent.drive != drive or not parent.is_folder:
            return graph_error(404, "itemNotFound", "The resource could not be found.")
        if parent.id in self.denied:
            return graph_error(403, "accessDenied", "Access denied")
        if not seen.body:
            return graph_error(400, "invalidRequest", "The request body is empty.")
        behavior = seen.query.get("@microsoft.graph.conflictBehavior", "replace")
        existing = {n.lower(): item for n, item in self.children(parent.id).items()}
        mime = seen.headers.get("Content-Type", "application/octet-stream")
        if name.lower() in existing:
            if behavior == "fail":
                return graph_error(409, "nameAlreadyExists", "The specified item name already exists.")
            if behavior == "replace":
                item = existing[name.lower()]
                item.content, item.mime = seen.body, mime
                return reply(self.item_json(item), 200)
            stem, dot, extension = name.rpartition(".")
            name = next(candidate for n in itertools.count(1)
                        if (candidate := f"{stem} {n}{dot}{extension}").lower() not in existing)
        item = self.add_file(name, seen.body, parent=parent.id, drive=drive, mime=mime)
        return reply(self.item_json(item), 201)

    def send_mail(self, seen):
        body, message, problem = self.read_message(seen, inside="message")
        if problem:
            return problem
        self.mail.append({"message": message, "saveToSentItems": body.get("saveToSentItems", True),
                          "headers": seen.headers})
        return Response(status=202)

    def create_draft(self, seen):
        """POST /me/messages: the message saved in Drafts, answered 201 with its id and webLink."""
        _, message, problem = self.read_message(seen)
        if problem:
            return problem
        draft_id = f"AAMkAGI2TG93AAA{uuid.uuid4().hex[:12]}="
        web_link = f"https://outlook.office365.com/owa/?ItemID={draft_id}&exvsurl=1&viewmodel=ReadMessageItem"
        self.drafts[draft_id] = {**message, "headers": seen.headers}
        return reply({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('ana')/messages/$entity",
                      "id": draft_id, "createdDateTime": NOW, "isDraft": True, "webLink": web_link,
                      "subject": message.get("subject"), "internetMessageId": message.get("internetMessageId"),
                      "hasAttachments": bool(message["attachments"])}, 201)

    def read_message(self, seen, inside=None):
        """(JSON body, message with decoded attachments, None) or (None, None, Graph's 400)."""
        if seen.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return None, None, graph_error(400, "ErrorMimeContentInvalidBase64String",
                                           "Invalid base64 string for MIME content.")
        try:
            body = json.loads(seen.body)
            message = body[inside] if inside else body
            recipients = [r["emailAddress"]["address"] for r in message.get("toRecipients") or []]
            recipients += [r["emailAddress"]["address"] for r in message.get("ccRecipients") or []]
            body_type = message["body"]["contentType"].lower()
        except (ValueError, KeyError, TypeError) as ex:
            return None, None, graph_error(400, "RequestBodyRead", f"Cannot read the request body: {ex!r}")
        if body_type not in ("text", "html"):
            return None, None, graph_error(400, "RequestBodyRead", f"Requested value '{body_type}' was not found.")
        if not message.get("toRecipients") or any("@" not in address for address in recipients):
            return None, None, graph_error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.")
        for header in message.get("internetMessageHeaders") or []:
            if not header["name"].lower().startswith("x-"):
                return None, None, graph_error(400, "InvalidInternetMessageHeader",
                                               f"The internet message header name '{header['name']}' should start "
                                               "with 'x-' or 'X-'.")
        attachments = []
        for attachment in message.get("attachments") or []:
            if attachment.get("@odata.type") != "#microsoft.graph.fileAttachment" or not attachment.get("name"):
                return None, None, graph_error(400, "ErrorInvalidRequest", "The attachment type or name is missing.")
            try:
                content = base64.b64decode(attachment.get("contentBytes", ""), validate=True)
            except ValueError:
                return None, None, graph_error(400, "RequestBodyRead", "contentBytes is not valid base64.")
            attachments.append({**attachment, "content": content})
        return body, {**message, "attachments": attachments}, None

    def create_link(self, seen, item):
        """POST .../createLink: one link per (type, scope) and item; 201 when new, 200 when it existed."""
        body = json.loads(seen.body or b"{}")
        if body.get("type") not in ("view", "edit", "embed") or body.get("scope", "anonymous") not in (
                "anonymous", "organization", "users"):
            return graph_error(400, "invalidRequest", "Invalid request: type or scope.")
        if body["scope"] == "anonymous" and self.anonymous_links_disabled:
            return graph_error(403, "accessDenied", "Anonymous sharing links are disabled for this organization.")
        key = (item.id, body["type"], body["scope"])
        existed = key in self.links
        if not existed:
            token = uuid.uuid4().hex[:10]
            self.links[key] = {"id": f"perm-{token}", "roles": ["write" if body["type"] == "edit" else "read"],
                               "link": {"type": body["type"], "scope": body["scope"],
                                        "webUrl": f"https://acme-my.sharepoint.com/:w:/g/personal/ana/{token}",
                                        "application": {"id": "docg-app", "displayName": "DocG"}}}
        if body.get("expirationDateTime"):
            self.links[key]["expirationDateTime"] = body["expirationDateTime"]
        return reply(self.links[key], 200 if existed else 201)

    # -- the pre-authenticated download host ------------------------------------------------------

    def _blob(self, content):
        token = uuid.uuid4().hex
        self.blobs[token] = content
        return self.files_server.url_for(f"/download/{token}")

    def _download(self, request):
        self.downloads.append(Seen(request.method, request.path, dict(request.args), Headers(request.headers), b""))
        content = self.blobs.get(request.path.rsplit("/", 1)[-1])
        if self.links_expired:
            return Response('{"error":{"code":"accessDenied","message":"The link has expired."}}', status=401,
                            content_type="application/json")
        if content is None:
            return Response("<Error><Code>NotFound</Code></Error>", status=404, content_type="application/xml")
        return Response(content, content_type="application/octet-stream")

    # -- login.microsoftonline.com ----------------------------------------------------------------

    def _token(self, request):
        form = {k: v[-1] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        self.token_requests.append(form)
        if form.get("grant_type") != "refresh_token":
            return reply({"error": "unsupported_grant_type", "error_description": "AADSTS70003"}, 400)
        if form.get("refresh_token") not in self.refresh_tokens:
            return reply({"error": "invalid_grant", "error_codes": [70000], "timestamp": NOW,
                          "error_description": "AADSTS70000: The provided value for the 'refresh_token' is not "
                                               "valid. The grant may have been revoked or expired."}, 400)
        self.refresh_tokens.discard(form["refresh_token"])
        access, refresh = f"graph-access-{uuid.uuid4().hex[:8]}", f"graph-refresh-{uuid.uuid4().hex[:8]}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return reply({"token_type": "Bearer", "scope": "Files.ReadWrite Mail.Send Mail.ReadWrite User.Read",
                      "expires_in": 3599, "ext_expires_in": 3599, "access_token": access, "refresh_token": refresh})
