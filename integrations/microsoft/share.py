"""The onedrive-share-link node: a sharing link to the file a Microsoft step uploaded.

`POST https://graph.microsoft.com/v1.0/me/drive/items/{item-id}/createLink`
(or `/drives/{drive-id}/items/...` for a shared drive) with
`{"type": "view"|"edit", "scope": "anonymous"|"organization",
"expirationDateTime": "yyyy-MM-ddTHH:mm:ssZ"}` answers with a permission
whose `link.webUrl` is the link
(https://learn.microsoft.com/graph/api/driveitem-createlink,
https://learn.microsoft.com/graph/api/resources/permission). The item is the
one a microsoft-word or microsoft-powerpoint step uploaded last in the run
(its `item_id` and `drive_id` outputs, so the call goes to that drive), or
`item_id` (and `drive_id`) when given. Files.ReadWrite
is enough; an organisation that forbids anonymous links answers 403.

NOTE: createLink returns the existing link when the app already made one of
that type and scope, but a new expiry would still change it; the call runs
once per item under `ctx.once`, so a redelivered hop hands on the same link
and expiry.
"""
import datetime

from integrations.base import Action, Result
from integrations.errors import InvalidConfig
from integrations.microsoft.graph import Graph, graph_for_check

TYPES = ("view", "edit")
SCOPES = ("anonymous", "organization")


def choice(config, key, allowed):
    value = config.get(key) or allowed[0]
    if value not in allowed:
        raise InvalidConfig(f"Choose {' or '.join(allowed)} as the link {key}, not {value!r}.", f"{key}={value!r}")
    return value


def days_of(config):
    value = config.get("expires_in_days")
    if value in (None, ""):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = 0
    if days < 1:
        raise InvalidConfig("The link must expire in 1 day or more (leave it empty for no expiry).",
                            f"expires_in_days={value!r}")
    return days


def no_file():
    return InvalidConfig("There is no OneDrive file to share; add a Microsoft Word or PowerPoint step before this one.",
                         "no microsoft render output with an item_id in this run", code="drive.no_file")


def uploaded_item(ctx):
    """(item id, drive id) of `item_id`, else of the run's latest uploaded Office file."""
    if ctx.config.get("item_id"):
        return str(ctx.config["item_id"]), ctx.config.get("drive_id") or None
    for output in reversed(list((ctx.run.get("steps") or {}).values())):
        if isinstance(output, dict) and output.get("item_id") and "item_name" in output:
            return output["item_id"], output.get("drive_id") or None
    raise no_file()


class OneDriveShareLink(Action):
    """Make a view or edit link to the OneDrive file the run uploaded."""

    key = "onedrive-share-link"
    scopes = ("Files.ReadWrite",)
    name = "OneDrive sharing link"
    phase = "delivery"
    description = "Create a view or edit link, anonymous or for the organisation, to the file uploaded to OneDrive."
    fields = {"connection_id": {"type": "string", "description": "A Microsoft connection."},
              "type": {"enum": list(TYPES), "default": "view"},
              "scope": {"enum": list(SCOPES), "default": "anonymous"},
              "expires_in_days": {"type": "integer", "minimum": 1, "description": "default: the link never expires"},
              "item_id": {"type": "string", "description": "default: the file a Word/PowerPoint step uploaded"},
              "drive_id": {"type": "string", "description": "with item_id: the drive holding it, if not your own"}}
    outputs = ("url", "permission_id", "expires_at", "type", "scope", "item_id")
    endpoints = ("POST https://graph.microsoft.com/v1.0/me/drive/items/{item-id}/createLink",
                 "POST https://graph.microsoft.com/v1.0/drives/{drive-id}/items/{item-id}/createLink")

    def check(self, config, ctx, node_id):
        choice(config, "type", TYPES)
        choice(config, "scope", SCOPES)
        days_of(config)
        graph = graph_for_check(config, ctx)
        item_id = config.get("item_id")
        if not item_id and "render" not in ctx.earlier_phases:
            raise no_file()
        if item_id and "{{" not in str(item_id) and "{{" not in str(config.get("drive_id") or ""):
            graph.item(item_id, config.get("drive_id") or None, kind="link")
        else:
            graph.me()
        return []

    def run(self, ctx):
        link_type, scope = choice(ctx.config, "type", TYPES), choice(ctx.config, "scope", SCOPES)
        days = days_of(ctx.config)
        item_id, drive_id = uploaded_item(ctx)
        graph = Graph(ctx.http())

        def create(_key):
            expires = None
            if days:
                at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
                expires = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            permission = graph.create_link(item_id, drive_id, type=link_type, scope=scope, expires=expires)
            return {"url": (permission.get("link") or {}).get("webUrl"), "permission_id": permission.get("id"),
                    "expires_at": permission.get("expirationDateTime") or expires}

        link = ctx.once(f"onedrive_link:{item_id}", create)
        return Result(output={**link, "type": link_type, "scope": scope, "item_id": item_id})
