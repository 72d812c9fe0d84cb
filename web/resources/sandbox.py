"""The signature sandbox's own signing page and API (no account needed).

The page (/sandbox/sign/{envelope}/{token}) is a shell in the envelope's
locale; its script reads `/api/v1/sandbox/envelopes/{envelope}/signers/{token}`
(the envelope, this signer's state, the document's preview) and posts the
signer's action there. Opening the page tells the provider "viewed".
"""
import falcon

from actors.waits import sandbox_invite, sandbox_notify
from integrations.signatures import sandbox
from web import previews
from web.errors import ApiError, Gone, NotFoundError
from web.validation import read_json

ACTION = {"type": "object", "required": ["action"],
          "properties": {"action": {"enum": ["signed", "declined", "viewed"]}}, "additionalProperties": False}


class NotYourTurn(ApiError):
    status, code = falcon.HTTP_409, "signature.not_your_turn"
    message_human = "It is not your turn to sign yet: the signers before you have not signed."


def signer_of(req, envelope_id, token):
    """The envelope and signer of a link (404 when unknown); answers follow the envelope's locale."""
    envelope, person = sandbox.find_signer(envelope_id, token)
    if envelope is not None:
        req.context.locale = envelope.locale
    if person is None:
        raise NotFoundError("No such signing link.", "unknown envelope or signer token")
    return envelope, person


def api_url(envelope, person):
    return f"/api/v1/sandbox/envelopes/{envelope.id}/signers/{person['token']}"


def act(envelope, person, action):
    """Apply a signer's action; notify the webhook and invite whoever is next."""
    if sandbox.is_withdrawn(envelope):
        raise Gone("This signature request was withdrawn.", "envelope or request canceled",
                   code="signature.withdrawn")
    notification = sandbox.signer_action(envelope.id, person["token"], action)
    if notification is None:
        state = sandbox.signer_state(envelope, person)
        if state == "waiting":
            raise NotYourTurn(message_tech=f"envelope {envelope.id} is sequential")
        message = ("This signing link was already used." if state in ("signed", "declined")
                   else "This signing link can no longer be used.")
        raise Gone(message, f"signer status {person['status']}, envelope {envelope.status}",
                   code="signature.link_used")
    sandbox_notify.send(notification)
    if action == "signed" and envelope.sequential:
        sandbox_invite.send(str(envelope.id))
    return {"envelope_id": str(envelope.id), "signer": person["email"], "status": action}


WITHDRAWN = """<!doctype html><html><head><meta charset="utf-8"><title>Withdrawn: {name}</title></head>
<body><h1>DocG signature sandbox</h1><p id="state">This signature request for <b>{name}</b> was withdrawn.
There is nothing to sign.</p></body></html>"""


class SandboxSigning:
    """The page; POST stays for scripts that act on the page's own URL."""

    auth = "public"

    def __init__(self, page):
        self.page = page

    def on_get(self, req, resp, envelope_id, token):
        envelope, person = sandbox.find_signer(envelope_id, token)
        withdrawn = envelope is not None and sandbox.is_withdrawn(envelope)
        if person is not None and person["status"] == "sent" and not withdrawn:
            notification = sandbox.signer_action(envelope.id, token, "viewed")
            if notification is not None:
                sandbox_notify.send(notification)
        self.page.render(req, resp, envelope.locale if envelope is not None else None)
        if withdrawn:
            resp.status = falcon.HTTP_410  # the page still loads and says so, with nothing to sign

    def on_post(self, req, resp, envelope_id, token):
        envelope, person = signer_of(req, envelope_id, token)
        resp.media = act(envelope, person, read_json(req, ACTION)["action"])


class SandboxSigner:
    """What the signing page shows, and the signer's action (JSON)."""

    auth = "public"

    def on_get(self, req, resp, envelope_id, token):
        envelope, person = signer_of(req, envelope_id, token)
        url = api_url(envelope, person)
        resp.media = {
            "envelope": {"id": str(envelope.id), "name": envelope.name, "status": envelope.status,
                         "expires_at": envelope.expires_at.isoformat() if envelope.expires_at else None,
                         "sequential": envelope.sequential},
            "signer": {"name": person["name"], "email": person["email"], "status": person["status"]},
            "state": sandbox.signer_state(envelope, person), "sender": envelope.sender, "locale": envelope.locale,
            "document": previews.describe(envelope.id, envelope.name, envelope.content_type, envelope.document,
                                          f"{url}/document"),
        }

    def on_post(self, req, resp, envelope_id, token):
        envelope, person = signer_of(req, envelope_id, token)
        resp.media = act(envelope, person, read_json(req, ACTION)["action"])


class SandboxDocument:
    auth = "public"

    def on_get(self, req, resp, envelope_id, token):
        envelope, _ = signer_of(req, envelope_id, token)
        resp.content_type = envelope.content_type
        resp.downloadable_as = envelope.name
        resp.data = bytes(envelope.document)


class SandboxDocumentPage:
    auth = "public"

    def on_get(self, req, resp, envelope_id, token, page):
        envelope, _ = signer_of(req, envelope_id, token)
        try:
            resp.data = previews.render_page(envelope.content_type, envelope.document, int(page) if page.isdigit() else 0)
        except previews.NoPreview as ex:
            raise NotFoundError("This page cannot be shown.", str(ex), code="document.no_preview") from ex
        resp.content_type = "image/png"
        resp.cache_control = ["private", "max-age=300"]
