"""Use a connection: its credentials, auth headers and OAuth2 token refresh.

`ConnectionHandle.session()` returns a provider session that puts the right
auth header on every request, refreshes an OAuth2 access token shortly
before it expires and once more on a 401, and persists refreshed tokens
encrypted. Concurrent refreshes of one connection are serialised by a row
lock; a process that finds the token already refreshed uses it.
"""
import datetime

from integrations.errors import AuthExpired, InvalidConfig
from integrations.http import Session, describe, error_code, raise_for_status
from integrations.outbound import Policy
from integrations.registry import load_apps
from storage import connections as store
from storage.db import database
from storage.models import Connection

REFRESH_MARGIN = datetime.timedelta(seconds=60)


class RefreshRefused(AuthExpired):
    """The provider refused the refresh token: the connection is revoked."""


def handle_for(connection_id, organization_id, settings):
    """Return the live connection of this organization, or a clear error."""
    if not connection_id:
        raise InvalidConfig("Choose a connection for this step.", "connection_id missing", code="connection_error")
    try:
        row = store.get(connection_id, organization_id)
    except Exception as ex:  # noqa: BLE001 - NotFound or a malformed id: same answer
        raise InvalidConfig("The connection no longer exists.", f"connection {connection_id}: {ex}",
                            code="connection_error") from ex
    if row.status in ("revoked", "deleted"):
        raise AuthExpired(f"The {row.provider} connection must be reconnected.", f"connection status {row.status}")
    provider = load_apps().providers.get(row.provider)
    if provider is None:
        raise InvalidConfig(f"Unknown provider {row.provider!r}.", "no such provider", code="connection_error")
    return ConnectionHandle(row, provider, settings)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class ConnectionHandle:
    def __init__(self, row, provider, settings):
        self.row, self.provider, self.settings = row, provider, settings

    @property
    def credentials(self):
        return self.row.credentials

    @property
    def base_url(self):
        return (self.credentials.get("base_url") or self.provider.default_base_url).rstrip("/")

    def url(self, path):
        return f"{self.base_url}/{path.lstrip('/')}"

    def auth_headers(self):
        if self.provider.auth_header is not None:
            return self.provider.auth_header(self.credentials)
        if self.provider.auth_type == "oauth2":
            return {"Authorization": f"Bearer {self.access_token()}"}
        token = self.credentials.get("api_key") or self.credentials.get("token") or self.credentials.get("access_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def session(self, correlation_id=None, **options):
        options.setdefault("policy", Policy.from_settings(self.settings))
        return ProviderSession(self, correlation_id=correlation_id, timeout=self.settings.http_timeout, **options)

    def access_token(self):
        expires = store.expires_at_of(self.credentials)
        if expires is not None and expires - REFRESH_MARGIN <= _now():
            self.refresh()
        return self.credentials["access_token"]

    def refresh(self, *, rejected_token=None):
        """Get a new access token with the refresh token; persist it."""
        if self.provider.oauth is None or not self.credentials.get("refresh_token"):
            raise AuthExpired(f"The {self.provider.name} connection expired; reconnect it.", "no refresh possible")
        try:
            with database.atomic():
                fresh = store.locked(self.row.id)
                current = fresh.credentials
                expires = store.expires_at_of(current)
                refreshed_meanwhile = (
                    current.get("access_token") != (rejected_token or self.credentials.get("access_token"))
                    and (expires is None or expires - REFRESH_MARGIN > _now()))
                if not refreshed_meanwhile:
                    current = {**current, **self._token_request(current)}
                    store.store_tokens(self.row.id, current)
        except RefreshRefused:
            store.mark(self.row.id, "revoked")  # NOTE: after the rollback, so the mark stays
            raise
        self.row = Connection.get_by_id(self.row.id)

    def _token_request(self, current):
        oauth = self.provider.oauth
        data = {"grant_type": "refresh_token", "refresh_token": current["refresh_token"],
                "client_id": getattr(self.settings, oauth.client_id_setting),
                "client_secret": getattr(self.settings, oauth.client_secret_setting)}
        with Session(timeout=self.settings.http_timeout, policy=Policy.from_settings(self.settings)) as http:
            response = http.post(current.get("token_url") or oauth.token_url, data=data,
                                 headers={"Accept": "application/json"})
        if response.status_code in (400, 401):
            raise RefreshRefused(f"The {self.provider.name} connection was revoked; reconnect it.",
                                 f"token refresh refused: {describe(response)}{error_code(response)}")
        body = raise_for_status(response, what="token refresh").json()
        tokens = {"access_token": body["access_token"]}
        if body.get("refresh_token"):
            tokens["refresh_token"] = body["refresh_token"]
        if body.get("scope"):
            tokens["scope"] = body["scope"]  # what the grant allows now (preflight reads it)
        if body.get("expires_in"):
            tokens["expires_at"] = (_now() + datetime.timedelta(seconds=int(body["expires_in"]))).isoformat()
        return tokens


class ProviderSession(Session):
    """A Session that authenticates as the connection and refreshes once on 401."""

    def __init__(self, handle, **kwargs):
        super().__init__(**kwargs)
        self.handle = handle

    def request(self, method, url, **kwargs):
        if not url.startswith(("http://", "https://")):
            url = self.handle.url(url)
        headers = {**(kwargs.pop("headers", None) or {}), **self.handle.auth_headers()}
        response = super().request(method, url, headers=headers, **kwargs)
        if response.status_code == 401 and self.handle.provider.auth_type == "oauth2":
            rejected = headers.get("Authorization", "").removeprefix("Bearer ")
            self.handle.refresh(rejected_token=rejected)
            headers.update(self.handle.auth_headers())
            response = super().request(method, url, headers=headers, **kwargs)
        return response
