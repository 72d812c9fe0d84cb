"""Reach every Google API from one connection, and map Google's errors.

Google serves its APIs from several hosts. `GoogleApi` builds each URL from
an API root below, replacing only the scheme and host when the connection's
credentials carry a `base_url`: with `base_url = "http://127.0.0.1:5000"`,
Drive is `http://127.0.0.1:5000/drive/v3/...`, uploads go to
`.../upload/drive/v3/...`, Docs to `.../v1/documents/...`, Slides to
`.../v1/presentations/...`, Forms to `.../v1/forms/...` and Gmail to
`.../gmail/v1/...`. The paths never collide, so tests point every Google
API at ONE local server; a `token_url` credential moves token refresh too.

Errors (https://developers.google.com/drive/api/guides/handle-errors and
https://cloud.google.com/apis/design/errors) come in two shapes: Drive's
`{"error": {"code", "message", "errors": [{"reason", ...}]}}` and the
`{"error": {"code", "message", "status", "details": [...]}}` of Docs,
Slides, Forms and Gmail. Drive answers some rate limits with 403
(`userRateLimitExceeded`, `rateLimitExceeded`), so a 403 is read by reason.
"""
import dataclasses
from urllib.parse import quote, urlsplit

from integrations.errors import AuthExpired, BadResponse, IntegrationError, PermissionDenied, RateLimited, Unavailable

ROOTS = {
    "drive": "https://www.googleapis.com/drive/v3",
    "upload": "https://www.googleapis.com/upload/drive/v3",
    "docs": "https://docs.googleapis.com/v1",
    "slides": "https://slides.googleapis.com/v1",
    "forms": "https://forms.googleapis.com/v1",
    "gmail": "https://gmail.googleapis.com/gmail/v1",
}
RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded", "sharingRateLimitExceeded",
                          "RATE_LIMIT_EXCEEDED"})
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
#: 403 reasons that are about the file or the account, not about access
REASON_ERRORS = {
    "exportSizeLimitExceeded": ("render.export_too_large",
                                "The document is too large for Google to export (the limit is 10 MB)."),
    "fileNotExportable": ("template.not_found", "The file is not a Google document, so Google cannot export it."),
    "storageQuotaExceeded": ("drive.storage_quota_exceeded", "The Google Drive is full; free some space."),
}


def api_root(api, base_url=None):
    """Return the root URL of `api`, on `base_url`'s scheme and host when given."""
    root = ROOTS[api]
    if not base_url:
        return root
    parts = urlsplit(root)
    return base_url.rstrip("/") + parts.path


def quoted(file_id):
    return quote(str(file_id), safe="")


@dataclasses.dataclass
class GoogleError:
    """What Google said about a failed call."""

    status: int
    message: str
    reasons: tuple

    @classmethod
    def of(cls, response):
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        if not isinstance(error, dict):  # OAuth endpoints answer {"error": "invalid_grant"}
            error = {"message": str(error)}
        reasons = [item.get("reason") for item in error.get("errors") or [] if isinstance(item, dict)]
        reasons += [item.get("reason") for item in error.get("details") or [] if isinstance(item, dict)]
        reasons.append(error.get("status"))
        return cls(response.status_code, str(error.get("message") or response.reason or ""),
                   tuple(r for r in reasons if r))


def check(response, what, *, not_found=None, forbidden="drive.insufficient_permissions"):
    """Return `response` if it succeeded; raise the IntegrationError it means.

    `not_found` is the code of a 404 (template.not_found, drive.folder_not_found...);
    `forbidden` the code of a 403 that is about the file, not the request rate.
    """
    if response.status_code < 400:
        return response
    error = GoogleError.of(response)
    detail = f"{response.request.method} {response.url} -> {error.status} {'/'.join(error.reasons)}: {error.message}"
    if error.status == 401:
        raise AuthExpired("Google refused the connection's credentials; reconnect the Google account.", detail)
    if error.status == 429 or (error.status == 403 and RATE_REASONS.intersection(error.reasons)):
        retry_after = response.headers.get("Retry-After")
        raise RateLimited(f"Google is limiting requests ({what}); the step will be retried.", detail,
                          retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)
    known = next((REASON_ERRORS[r] for r in error.reasons if r in REASON_ERRORS), None)
    if error.status == 403 and known:
        raise IntegrationError(known[1], detail, code=known[0])
    if error.status == 403 and SCOPE_REASONS.intersection(error.reasons):
        raise AuthExpired("The Google connection lacks a permission DocG needs; reconnect it and allow every access.",
                          detail)
    if error.status == 403:
        raise PermissionDenied(f"The Google account has no access ({what}); share the file with it or pick another.",
                               detail, code=forbidden)
    if error.status == 404 and not_found:
        raise IntegrationError(f"Google could not find it ({what}): it was deleted or is not shared with the account.",
                               detail, code=not_found)
    if error.status >= 500:
        raise Unavailable(f"Google failed ({what}); the step will be retried.", detail)
    raise BadResponse(f"Google refused the request ({what}): {error.message}", detail)


class GoogleApi:
    """Base of the Google clients: an injected session and the API roots.

    `session` is a requests-like session that authenticates every call (the
    connection's ProviderSession: bearer token, refresh, correlation id,
    timeouts); `base_url` is the connection's override of scheme and host.
    """

    api = "drive"

    def __init__(self, session, base_url=None):
        self.session, self.base_url = session, base_url

    @classmethod
    def for_connection(cls, handle, correlation_id):
        return cls(handle.session(correlation_id), handle.credentials.get("base_url"))

    def url(self, path, api=None):
        return f"{api_root(api or self.api, self.base_url)}/{path.lstrip('/')}"

    def get(self, path, what, *, api=None, not_found=None, forbidden="drive.insufficient_permissions", **kwargs):
        response = self.session.get(self.url(path, api), **kwargs)
        return check(response, what, not_found=not_found, forbidden=forbidden)

    def post(self, path, what, *, api=None, not_found=None, forbidden="drive.insufficient_permissions", **kwargs):
        response = self.session.post(self.url(path, api), **kwargs)
        return check(response, what, not_found=not_found, forbidden=forbidden)
