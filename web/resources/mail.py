"""/ops/mail: the emails the local mail catcher of `docg up` kept.

Behind the admin token (see `web/ops.py`). HTML for a browser, JSON when
the client asks for it (`Accept: application/json`); each message downloads
as `.eml` from `/ops/mail/{name}`.
"""
import html

import falcon

from integrations.local import maildrop
from web.errors import NotFoundError

ROW = ("<tr><td>{time}</td><td>{to}</td><td>{subject}</td>"
       "<td><a href=\"/ops/mail/{name}\">download</a>{link}</td></tr>")
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DocG mail</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem}}table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}}</style></head>
<body><h1>Mail caught by <code>docg up</code></h1>
<p>{count} message(s) in <code>{folder}</code>, newest first. Sent while <code>SMTP_URL</code> is unset;
<code>docg mail</code> lists them in a terminal.</p>
<table><thead><tr><th>received (UTC)</th><th>to</th><th>subject</th><th></th></tr></thead>
<tbody>{rows}</tbody></table></body></html>"""


def render(found, folder):
    rows = "".join(ROW.format(time=html.escape(m.received_at), to=html.escape(", ".join(m.recipients)),
                              subject=html.escape(m.subject), name=html.escape(m.name),
                              link=(f' · <a href="{html.escape(m.approval_link)}">approval link</a>'
                                    if (m.approval_link or "").startswith(("http://", "https://")) else ""))
                   for m in reversed(found))
    return PAGE.format(count=len(found), folder=html.escape(str(folder)), rows=rows)


class MailList:
    auth = "public"  # NOTE: AdminGate checks the admin token before Falcon sees the request.

    def __init__(self, var_dir):
        self.folder = maildrop.folder_of(var_dir)

    def on_get(self, req, resp):
        found = maildrop.messages(self.folder)
        if req.client_prefers([falcon.MEDIA_HTML, falcon.MEDIA_JSON]) == falcon.MEDIA_JSON:
            resp.media = {"folder": str(self.folder), "messages": [m.as_dict() for m in found]}
            return
        resp.content_type = falcon.MEDIA_HTML
        resp.text = render(found, self.folder)


class MailMessage:
    auth = "public"

    def __init__(self, var_dir):
        self.folder = maildrop.folder_of(var_dir)

    def on_get(self, req, resp, name):
        raw = maildrop.open_message(self.folder, name)
        if raw is None:
            raise NotFoundError("No such message.", f"no {name!r} in the mail folder")
        resp.content_type = "message/rfc822"
        resp.downloadable_as = name
        resp.data = raw
