"""OAuth2 authorization-code flow: signed single-use state, code exchange."""
import base64
import datetime
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlencode

from integrations.errors import AuthExpired, InvalidConfig
from integrations.http import Session, describe, error_code, raise_for_status
from integrations.outbound import Policy

STATE_TTL = 600


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_state(secret, organization_id, provider, redis):
    """Return a signed state naming the organization; its nonce is valid once."""
    nonce = secrets.token_urlsafe(16)
    payload = _b64(json.dumps({"o": str(organization_id), "p": provider, "n": nonce,
                               "x": int(time.time()) + STATE_TTL}).encode())
    redis.set(f"docg:oauth-state:{nonce}", "1", ex=STATE_TTL, nx=True)
    return f"{payload}.{_b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())}"


def consume_state(secret, state, provider, redis):
    """Return the organization id of a valid, unused state (then it is used up)."""
    try:
        payload, mac = state.split(".", 1)
        expected = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
        claims = json.loads(_unb64(payload)) if hmac.compare_digest(mac, expected) else None
    except (ValueError, TypeError):
        claims = None
    if not claims or claims.get("p") != provider or claims.get("x", 0) < time.time():
        raise InvalidConfig("The sign-in link is invalid or expired; start again.", "bad oauth state",
                            code="oauth.invalid_state")
    if not redis.delete(f"docg:oauth-state:{claims['n']}"):
        raise InvalidConfig("This sign-in link was already used; start again.", "oauth state reused",
                            code="oauth.invalid_state")
    return claims["o"]


def authorize_url(app, settings, state, redirect_uri):
    oauth = app.oauth
    client_id = getattr(settings, oauth.client_id_setting)
    if not client_id:
        raise InvalidConfig(f"{app.name} sign-in is not configured on this server.",
                            f"{oauth.client_id_setting.upper()} is empty", code="oauth.not_configured")
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "state": state,
             "scope": " ".join(oauth.scopes), **oauth.extra_authorize_params}
    return f"{oauth.authorize_url}?{urlencode(query)}"


def exchange_code(app, settings, code, redirect_uri, *, token_url=None):
    """Trade the authorization code for tokens; return the credentials to store."""
    oauth = app.oauth
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": getattr(settings, oauth.client_id_setting),
            "client_secret": getattr(settings, oauth.client_secret_setting)}
    with Session(timeout=settings.http_timeout, policy=Policy.from_settings(settings)) as http:
        response = http.post(token_url or oauth.token_url, data=data, headers={"Accept": "application/json"})
    if response.status_code in (400, 401):
        raise AuthExpired(f"{app.name} refused the sign-in; try again.", describe(response) + error_code(response))
    body = raise_for_status(response, what="sign-in").json()
    credentials = {"access_token": body["access_token"], "refresh_token": body.get("refresh_token"),
                   "scope": body.get("scope")}
    if body.get("expires_in"):
        credentials["expires_at"] = (datetime.datetime.now(datetime.timezone.utc)
                                     + datetime.timedelta(seconds=int(body["expires_in"]))).isoformat()
    return credentials
