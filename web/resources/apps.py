"""The app catalogue: apps, actions, triggers, fields, dynamic data providers."""
from integrations.base import load_apps
from integrations.connections import handle_for
from web.errors import NotFoundError


def serialize(app):
    return {"key": app.key, "name": app.name, "auth_type": app.auth_type, "provider": app.provider,
            "description": app.description,
            "actions": [{"key": a.key, "name": a.name, "phase": a.phase, "description": a.description,
                         "fields": a.fields, "outputs": list(a.outputs), "endpoints": list(a.endpoints)}
                        for a in app.actions],
            "triggers": list(app.triggers), "webhooks": list(app.webhooks), "dynamic": sorted(app.dynamic)}


class Apps:
    def on_get(self, req, resp):
        resp.media = {"apps": [serialize(app) for app in load_apps().apps.values()]}


class AppDynamic:
    def __init__(self, settings):
        self.settings = settings

    def on_get(self, req, resp, app_key, provider):
        app = load_apps().apps.get(app_key)
        if app is None or provider not in app.dynamic:
            raise NotFoundError("No such dynamic data provider.", f"{app_key}/{provider}")
        handle = handle_for(req.get_param("connection_id", required=True), req.context.organization_id, self.settings)
        params = {k: v for k, v in req.params.items() if k != "connection_id"}
        resp.media = {"options": app.dynamic[provider](handle, params)}
