"""Connections to provider accounts: API keys, OAuth2 sign-in, tests."""
import falcon

from integrations import oauth
from integrations.base import load_apps
from integrations.connections import handle_for
from storage import connections
from web.errors import NotFoundError, Unprocessable
from web.validation import read_json

CREATE = {"type": "object", "required": ["provider", "credentials"], "properties": {
    "provider": {"type": "string"}, "name": {"type": "string", "maxLength": 200},
    "auth_type": {"enum": ["api_key", "bearer"]}, "credentials": {"type": "object", "minProperties": 1}},
    "additionalProperties": False}


#: Providers whose callbacks can be verified with a secret kept on the connection.
WEBHOOK_PATHS = {"clicksign": "/api/v1/webhooks/signature/clicksign/{id}",
                 "zapsign": "/api/v1/webhooks/signature/zapsign/{id}",
                 "stripe": "/api/v1/webhooks/stripe/{id}"}


def serialize(row):
    """The connection without secrets, plus where its provider should send webhooks."""
    data = connections.serialize(row)
    if row.provider in WEBHOOK_PATHS:
        data["webhook_path"] = WEBHOOK_PATHS[row.provider].format(id=row.id)
        data["webhook_secret_set"] = bool((row.credentials or {}).get("webhook_secret"))
    return data


def _provider(key):
    provider = load_apps().providers.get(key)
    if provider is None:
        raise NotFoundError(f"There is no provider {key!r} to connect to.", f"provider {key!r}")
    return provider


class Connections:
    def on_get(self, req, resp):
        resp.media = {"connections": [serialize(c) for c in connections.list_for(req.context.organization_id)]}

    def on_post(self, req, resp):
        body = read_json(req, CREATE)
        app = _provider(body["provider"])
        auth_type = body.get("auth_type") or app.auth_type
        if app.auth_type == "oauth2" and "refresh_token" not in body["credentials"]:
            raise Unprocessable(f"{app.name} connects through OAuth sign-in.", "use /connections/oauth/{provider}/start")
        if auth_type not in ("api_key", "bearer", "oauth2"):
            raise Unprocessable(f"{app.name} needs no connection.", f"auth_type {app.auth_type}")
        row = connections.create(req.context.organization_id, provider=app.key, auth_type=auth_type,
                                 credentials=body["credentials"], name=body.get("name", ""), actor=req.context.actor)
        resp.status = falcon.HTTP_201
        resp.media = serialize(row)


class Connection:
    def on_get(self, req, resp, connection_id):
        resp.media = serialize(connections.get(connection_id, req.context.organization_id))

    def on_delete(self, req, resp, connection_id):
        connections.delete(connections.get(connection_id, req.context.organization_id), req.context.actor)
        resp.status = falcon.HTTP_204


class ConnectionTest:
    def __init__(self, settings):
        self.settings = settings

    def on_post(self, req, resp, connection_id):
        row = connections.get(connection_id, req.context.organization_id)
        handle = handle_for(row.id, req.context.organization_id, self.settings)
        if handle.provider.test is None:
            resp.media = {"ok": True, "detail": "nothing to test"}
            return
        resp.media = {"ok": True, "detail": handle.provider.test(handle)}


class OAuthStart:
    def __init__(self, settings, redis):
        self.settings, self.redis = settings, redis

    def on_get(self, req, resp, provider):
        app = _provider(provider)
        if app.oauth is None:
            raise Unprocessable(f"{app.name} does not use OAuth sign-in.", f"auth_type {app.auth_type}")
        state = oauth.make_state(self.settings.secret_key, req.context.organization_id, provider, self.redis)
        url = oauth.authorize_url(app, self.settings, state, redirect_uri(self.settings, provider))
        if req.get_param_as_bool("redirect"):
            raise falcon.HTTPFound(url)
        resp.media = {"authorize_url": url}


class OAuthCallback:
    auth = "public"

    def __init__(self, settings, redis):
        self.settings, self.redis = settings, redis

    def on_get(self, req, resp, provider):
        app = _provider(provider)
        if req.get_param("error"):
            raise Unprocessable(f"{app.name} sign-in was not completed: {req.get_param('error')}.",
                                req.get_param("error_description") or "", code="oauth.denied")
        code, state = req.get_param("code", required=True), req.get_param("state", required=True)
        organization_id = oauth.consume_state(self.settings.secret_key, state, provider, self.redis)
        credentials = oauth.exchange_code(app, self.settings, code, redirect_uri(self.settings, provider))
        row = connections.create(organization_id, provider=app.key, auth_type="oauth2", credentials=credentials,
                                 name=f"{app.name} account", actor=("user", None))
        resp.status = falcon.HTTP_201
        resp.media = serialize(row)


def redirect_uri(settings, provider):
    return f"{settings.public_base_url.rstrip('/')}/api/v1/connections/oauth/{provider}/callback"
