"""Microsoft Graph: the OneDrive and Outlook calls DocG makes, errors mapped.

`Graph` wraps an authenticated provider session (`ConnectionHandle.session()`:
Bearer token, refresh before expiry and once on 401, X-Correlation-ID,
timeouts, transport retries for GET/PUT). Relative paths are joined to the
connection's base URL (https://graph.microsoft.com/v1.0 by default).

Docs used:
- get item: https://learn.microsoft.com/graph/api/driveitem-get
- download: https://learn.microsoft.com/graph/api/driveitem-get-content (302 Found to a
  pre-authenticated URL that needs no Authorization header)
- convert: https://learn.microsoft.com/graph/api/driveitem-get-content-format (`?format=pdf`,
  also a 302; sources doc/docx/ppt/pptx/xls/xlsx/rtf/odt/...)
- upload: https://learn.microsoft.com/graph/api/driveitem-put-content (simple upload, up to
  4 MB, `PUT /me/drive/items/{parent-id}:/{filename}:/content`, 201/200 with the driveItem)
- conflict behaviour: https://learn.microsoft.com/graph/api/resources/driveitem (instance
  attribute `@microsoft.graph.conflictBehavior`: fail, replace or rename, in the query string)
- send mail: https://learn.microsoft.com/graph/api/user-sendmail (202 Accepted, no body)
- create draft: https://learn.microsoft.com/graph/api/user-post-messages (`POST /me/messages`,
  201 Created with the message, saved in Drafts; needs Mail.ReadWrite)
- sharing link: https://learn.microsoft.com/graph/api/driveitem-createlink (`POST .../createLink`
  with type, scope, expirationDateTime; 201 Created with a new permission, 200 OK with the
  existing one of that type and scope)
- errors: https://learn.microsoft.com/graph/errors and
  https://learn.microsoft.com/onedrive/developer/rest-api/concepts/errors
  (`{"error": {"code", "message", "innerError": {"request-id", "date"}}}`)
"""
import dataclasses
from urllib.parse import quote

from integrations.connections import handle_for
from integrations.errors import (AuthExpired, BadResponse, IntegrationError, InvalidConfig, PermissionDenied,
                                 RateLimited, TemplateNotFound, Unavailable)
from integrations.http import Session
from integrations.outbound import safe_url

#: the simple upload API takes at most 4 MB; larger files need an upload session
SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024
CONFLICT_BEHAVIORS = ("rename", "replace", "fail")
REDIRECTS = (301, 302, 303, 307, 308)

#: what a 404 / 403 means, by the kind of resource a call was about
NOT_FOUND = {
    "template": (TemplateNotFound, "template.not_found",
                 "The template file was not found in OneDrive (deleted, moved or not shared with this account)."),
    "folder": (IntegrationError, "drive.folder_not_found",
               "The destination folder was not found in OneDrive (deleted, moved or not shared with this account)."),
    "document": (IntegrationError, "drive.item_not_found", "The generated file is no longer in OneDrive."),
    "link": (IntegrationError, "drive.file_not_found",
             "The OneDrive file to share was not found (deleted, moved or not shared with this account)."),
}
DENIED = {
    "template": ("drive.insufficient_permissions", "The connected Microsoft account cannot read the template file."),
    "folder": ("drive.insufficient_permissions",
               "The connected Microsoft account cannot write to the destination folder."),
    "document": ("drive.insufficient_permissions", "The connected Microsoft account cannot read the generated file."),
    "mail": ("permission_denied", "The connected Microsoft account is not allowed to send mail (Mail.Send)."),
    "draft": ("permission_denied", "The connected Microsoft account may not create drafts (Mail.ReadWrite); "
                                   "reconnect it and allow mail access."),
    "link": ("drive.insufficient_permissions", "The connected Microsoft account may not share the file, or the "
                                               "organisation does not allow links of this scope."),
}


@dataclasses.dataclass
class DriveItem:
    """The parts of a driveItem DocG uses."""

    id: str
    name: str
    is_folder: bool
    size: int = 0
    mime_type: str | None = None
    web_url: str | None = None
    drive_id: str | None = None
    parent_id: str | None = None

    @classmethod
    def from_json(cls, body):
        parent = body.get("parentReference") or {}
        return cls(id=body["id"], name=body.get("name", ""), is_folder="folder" in body,
                   size=int(body.get("size") or 0), mime_type=(body.get("file") or {}).get("mimeType"),
                   web_url=body.get("webUrl"), drive_id=parent.get("driveId"), parent_id=parent.get("id"))


def _retry_after(response):
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def graph_error(response):
    """Return (code, message, request id) from a Graph error body, tolerating others."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):  # the token endpoint's {"error": "invalid_grant"} shape
        error = {"code": str(error)}
    inner = error.get("innerError") or error.get("innererror") or {}
    return (str(error.get("code") or ""), str(error.get("message") or response.reason or ""),
            inner.get("request-id") if isinstance(inner, dict) else None)


def raise_for_graph(response, *, what, kind=None):
    """Map a Graph error response to the IntegrationError a person can act on.

    `what` names the operation for people ("download the template"); `kind`
    (template, folder, document, mail, draft, link) picks the codes of 404 and 403.
    """
    status = response.status_code
    if status < 400:
        return response
    code, message, request_id = graph_error(response)
    tech = (f"{response.request.method} {response.url} -> {status} {code}: {message}"
            + (f" (request-id {request_id})" if request_id else ""))
    if status == 401:
        raise AuthExpired("The Microsoft connection expired or was revoked; reconnect the account.", tech)
    if status == 403:
        denied_code, human = DENIED.get(kind, ("permission_denied", f"Microsoft refused to {what}: access denied."))
        raise PermissionDenied(human, tech, code=denied_code)
    if status == 404 and code == "MailboxNotEnabledForRESTAPI":
        raise InvalidConfig("The connected Microsoft account has no Outlook mailbox; connect an account that has one.",
                            tech, code="connection_error")
    if status == 404 and kind in NOT_FOUND:
        error_class, not_found_code, human = NOT_FOUND[kind]
        raise error_class(human, tech, code=not_found_code)
    if status == 409 and code == "nameAlreadyExists":
        raise BadResponse("A file with this name already exists in the OneDrive folder.", tech,
                          code="drive.name_conflict")
    if status == 413:
        too_large = "delivery.attachment_too_large" if kind in ("mail", "draft") else "drive.file_too_large"
        raise BadResponse(f"The file is too large to {what}.", tech, code=too_large)
    if status in (429, 509) or code == "activityLimitReached":
        raise RateLimited("Microsoft is limiting requests; the step will be retried.", tech,
                          retry_after=_retry_after(response))
    if status == 507 or code == "quotaLimitReached":
        raise IntegrationError("The OneDrive of the connected account is full.", tech, code="drive.quota_exceeded")
    if status >= 500:
        retry_after = _retry_after(response)
        raise Unavailable("Microsoft could not be reached; the step will be retried.",
                          tech + (f" (Retry-After {retry_after:g}s)" if retry_after is not None else ""))
    if code in ("ErrorInvalidRecipients", "ErrorInvalidRecipientsEx"):
        raise InvalidConfig(f"Outlook refused a recipient: {message}", tech, code="delivery.invalid_email")
    raise BadResponse(f"Microsoft refused to {what} ({status}): {message}", tech)


class Graph:
    """The Microsoft Graph calls of the Word, PowerPoint and Outlook nodes."""

    def __init__(self, session, *, files=None):
        self.session = session
        # NOTE: download URLs are pre-authenticated and live on another host; they get a plain session, so the
        # connection's token never leaves graph.microsoft.com.
        self.files = files or Session(correlation_id=session.headers.get("X-Correlation-ID"), timeout=session.timeout,
                                      policy=getattr(session, "policy", None))

    @staticmethod
    def item_path(item_id, drive_id=None):
        drive = f"/drives/{quote(drive_id, safe='!')}" if drive_id else "/me/drive"
        return f"{drive}/items/{quote(item_id, safe='!')}"

    def me(self):
        """Return the signed-in user: id, displayName, userPrincipalName, mail."""
        response = raise_for_graph(self.session.get("/me"), what="read the account")
        body = response.json()
        return {key: body.get(key) for key in ("id", "displayName", "userPrincipalName", "mail")}

    def item(self, item_id, drive_id=None, *, kind="template"):
        """Return a driveItem's metadata (GET /me/drive/items/{id})."""
        response = self.session.get(self.item_path(item_id, drive_id),
                                    params={"$select": "id,name,size,file,folder,webUrl,parentReference"})
        return DriveItem.from_json(raise_for_graph(response, what=f"read the {kind}", kind=kind).json())

    def download(self, item_id, drive_id=None, *, format=None, kind="template"):  # noqa: A002 - Graph's name
        """Return a file's bytes, optionally converted (`format="pdf"`), following Graph's 302."""
        what = f"convert the {kind} to {format.upper()}" if format else f"download the {kind}"
        response = self.session.get(self.item_path(item_id, drive_id) + "/content",
                                    params={"format": format} if format else None, allow_redirects=False)
        if response.status_code in REDIRECTS:
            location = response.headers.get("Location")
            if not location:
                raise BadResponse(f"Microsoft did not say where to {what}.", f"{response.status_code} without Location")
            response = self.files.get(location)
            if response.status_code >= 400:  # the short-lived link failed; a retry asks Graph for a new one
                raise Unavailable(f"Microsoft's download link failed while trying to {what}; the step will be retried.",
                                  f"GET {safe_url(location)} -> {response.status_code} {response.reason}")
        return raise_for_graph(response, what=what, kind=kind).content

    def upload(self, parent_id, name, content, *, content_type, drive_id=None, conflict="rename"):
        """Create `name` in the folder `parent_id` with the simple upload; return the new item."""
        if conflict not in CONFLICT_BEHAVIORS:
            raise InvalidConfig(f"Unknown conflict behaviour {conflict!r}.", f"choose one of {CONFLICT_BEHAVIORS}")
        if len(content) > SIMPLE_UPLOAD_LIMIT:
            raise IntegrationError("The generated file is larger than 4 MB, the most OneDrive's simple upload takes.",
                                   f"{len(content)} bytes > {SIMPLE_UPLOAD_LIMIT}", code="drive.file_too_large")
        path = f"{self.item_path(parent_id, drive_id)}:/{quote(name, safe='')}:/content"
        response = self.session.put(path, params={"@microsoft.graph.conflictBehavior": conflict}, data=content,
                                    headers={"Content-Type": content_type})
        return DriveItem.from_json(raise_for_graph(response, what="upload the document", kind="folder").json())

    def send_mail(self, message, *, save_to_sent_items=True):
        """Send `message` (a Graph message resource) from the signed-in user (202, no body)."""
        response = self.session.post("/me/sendMail", json={"message": message, "saveToSentItems": save_to_sent_items})
        raise_for_graph(response, what="send the email", kind="mail")
        if response.status_code != 202:
            raise BadResponse("Outlook answered the send in an unexpected way.",
                              f"POST /me/sendMail -> {response.status_code} {response.reason}")


    def create_draft(self, message):
        """Save `message` in the signed-in user's Drafts; return the created message (id, webLink...)."""
        response = raise_for_graph(self.session.post("/me/messages", json=message), what="create the draft",
                                   kind="draft")
        return response.json()

    def create_link(self, item_id, drive_id=None, *, type="view", scope="anonymous", expires=None):  # noqa: A002
        """Return the sharing permission {id, link: {webUrl, type, scope}, expirationDateTime?} of an item."""
        body = {"type": type, "scope": scope}
        if expires:
            body["expirationDateTime"] = expires
        response = self.session.post(self.item_path(item_id, drive_id) + "/createLink", json=body)
        return raise_for_graph(response, what="create the sharing link", kind="link").json()

def graph_for_check(config, pctx):
    """A Graph client for a preflight check; raises when the connection is unusable.

    NOTE: PreflightContext carries no correlation id yet; its calls get one as soon as it does.
    """
    handle = handle_for(config.get("connection_id"), pctx.organization_id, pctx.settings)
    return Graph(handle.session(getattr(pctx, "correlation_id", None)))
