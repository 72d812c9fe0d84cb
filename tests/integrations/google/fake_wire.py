"""What Google's APIs answer on the wire: the recorded request and the error bodies.

Drive uses the `errors[].reason` form; Docs, Slides, Forms and Gmail the
`status` form.
"""
import dataclasses
import json

from werkzeug import Response
from werkzeug.datastructures import Headers


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    args: dict
    headers: Headers
    body: bytes

    def json(self):
        return json.loads(self.body)


def reply(payload, status=200, headers=None):
    return Response(json.dumps(payload), status=status, content_type="application/json; charset=UTF-8",
                    headers=headers)


def drive_error(status, reason, message, location=None):
    item = {"message": message, "domain": "global", "reason": reason}
    if location:
        item.update(location=location, locationType="parameter")
    return reply({"error": {"code": status, "message": message, "errors": [item]}}, status)


def api_error(status, state, message):
    return reply({"error": {"code": status, "message": message, "status": state}}, status)


def not_found(file_id):
    return drive_error(404, "notFound", f"File not found: {file_id}.", "fileId")
