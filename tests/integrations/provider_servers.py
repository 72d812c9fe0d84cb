"""What the fake signature providers share: the recorded request, JSON replies, the base server.

The fakes themselves: tests/integrations/fake_clicksign.py (API 3.0) and
fake_zapsign.py (API v1).

Each fake keeps just enough state to answer the way the provider does (ids,
statuses, the provider's validation errors and error bodies) and records
every request, so a test can check what our client put on the wire. They
also build the webhooks the provider would send about their own state.
"""
import dataclasses
import datetime
import json
import re

from werkzeug import Response
from werkzeug.datastructures import Headers

JSONAPI = "application/vnd.api+json"
NOW = "2024-05-02T10:15:00.000-03:00"


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    headers: Headers
    body: object
    args: dict = dataclasses.field(default_factory=dict)


def reply(payload, status=200, content_type="application/json"):
    return Response("" if payload is None else json.dumps(payload, ensure_ascii=False), status=status,
                    content_type=content_type)


class FakeProvider:
    prefix = ""

    files_prefix = ""

    def __init__(self, httpserver, token):
        self.server, self.token = httpserver, token
        self.requests = []
        self.files = {}
        self.downloads, self.fail_downloads = 0, 0
        httpserver.expect_request(re.compile("^" + re.escape(self.prefix) + "/")).respond_with_handler(self._handle)
        httpserver.expect_request(re.compile("^" + re.escape(self.files_prefix) + "/")).respond_with_handler(
            self._download)

    def file_url(self, name, content):
        """Serve `content` at a pre-signed-looking link (the provider's file storage)."""
        self.files[name] = content
        return self.server.url_for(f"{self.files_prefix}/{name}") + f"?X-Amz-Expires=300&n={len(self.requests)}"

    def _download(self, request):
        """The storage behind the links: needs no credentials; the first `fail_downloads` answer expired."""
        self.downloads += 1
        if request.headers.get("Authorization"):
            return Response("<Error><Code>InvalidArgument</Code></Error>", status=400, content_type="application/xml")
        if self.downloads <= self.fail_downloads:
            return Response("<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                            status=403, content_type="application/xml")
        name = request.path[len(self.files_prefix) + 1:]
        if name not in self.files:
            return Response("<Error><Code>NoSuchKey</Code></Error>", status=404, content_type="application/xml")
        return Response(self.files[name], status=200, content_type="application/pdf")

    @property
    def base_url(self):
        return self.server.url_for(self.prefix)

    def calls(self):
        return [(seen.method, seen.path) for seen in self.requests]

    def _handle(self, request):
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        seen = Seen(request.method, request.path[len(self.prefix):], Headers(request.headers), body,
                    dict(request.args))
        self.requests.append(seen)
        return self.route(seen)


def in_days(days):
    return datetime.datetime(2024, 5, 2, 13, 15, tzinfo=datetime.timezone.utc) + datetime.timedelta(days=days)
