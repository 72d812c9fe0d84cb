"""The signature sandbox's own signing page and API (no account needed)."""
import html

import falcon

from actors.waits import sandbox_notify
from integrations.signatures import sandbox
from web.errors import Gone, NotFoundError
from web.validation import read_json

ACTION = {"type": "object", "required": ["action"],
          "properties": {"action": {"enum": ["signed", "declined", "viewed"]}}, "additionalProperties": False}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Sign {name}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto}}button{{font-size:1.1rem;margin-right:1rem}}</style>
</head><body><h1>DocG signature sandbox</h1><p>{signer}, please sign <b>{name}</b>.</p>
<p id="state">Status: {status}</p>
<button id="sign">Sign</button><button id="decline">Decline</button>
<script>
async function act(action) {{
  const r = await fetch(location.pathname, {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
                                             body: JSON.stringify({{action}})}});
  document.getElementById('state').textContent = r.ok ? 'Status: ' + action : 'This link can no longer be used.';
}}
document.getElementById('sign').addEventListener('click', () => act('signed'));
document.getElementById('decline').addEventListener('click', () => act('declined'));
</script></body></html>"""


WITHDRAWN = """<!doctype html><html><head><meta charset="utf-8"><title>Withdrawn: {name}</title></head>
<body><h1>DocG signature sandbox</h1><p id="state">This signature request for <b>{name}</b> was withdrawn.
There is nothing to sign.</p></body></html>"""


class SandboxSigning:
    auth = "public"

    def on_get(self, req, resp, envelope_id, token):
        envelope, person = sandbox.find_signer(envelope_id, token)
        if person is None:
            raise NotFoundError("No such signing link.", "unknown envelope or signer token")
        resp.content_type = falcon.MEDIA_HTML
        if sandbox.is_withdrawn(envelope):
            resp.status = falcon.HTTP_410
            resp.text = WITHDRAWN.format(name=html.escape(envelope.name))
            return
        if person["status"] == "sent":
            notification = sandbox.signer_action(envelope.id, token, "viewed")
            if notification is not None:
                sandbox_notify.send(notification)
        resp.content_type = falcon.MEDIA_HTML
        resp.text = PAGE.format(name=html.escape(envelope.name), signer=html.escape(person["name"]),
                                status=html.escape(person["status"]))

    def on_post(self, req, resp, envelope_id, token):
        envelope, person = sandbox.find_signer(envelope_id, token)
        if person is None:
            raise NotFoundError("No such signing link.", "unknown envelope or signer token")
        action = read_json(req, ACTION)["action"]
        if sandbox.is_withdrawn(envelope):
            raise Gone("This signature request was withdrawn.", "envelope or request canceled",
                       code="signature.withdrawn")
        notification = sandbox.signer_action(envelope.id, token, action)
        if notification is None:
            raise Gone("This signing link was already used.", f"signer status {person['status']}",
                       code="signature.link_used")
        sandbox_notify.send(notification)
        resp.media = {"envelope_id": str(envelope.id), "signer": person["email"], "status": action}
