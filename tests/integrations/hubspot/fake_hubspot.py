"""A local server that speaks HubSpot's CRM v3, Files v3 and OAuth v1 APIs.

It keeps records, properties, pipelines, uploaded files and notes with their
associations, issues and checks OAuth tokens
(access tokens expire, refresh tokens can be revoked), enforces scopes, can
be told to rate-limit, and records every request so a test can check what
our client put on the wire. Bodies follow HubSpot's documented shapes.
"""
import dataclasses
import itertools
import json
import re
import uuid
from urllib.parse import unquote

from werkzeug import Response
from werkzeug.datastructures import Headers

NOW = "2024-05-02T13:15:00.000Z"
CLIENT_ID, CLIENT_SECRET = "hs-client-id", "hs-client-secret"
READ_SCOPES = ["oauth", "crm.objects.deals.read", "crm.objects.contacts.read", "crm.objects.companies.read"]
WRITE_SCOPES = READ_SCOPES + ["files", "crm.objects.deals.write", "crm.objects.contacts.write",
                              "crm.objects.companies.write"]
READ_ONLY = ("hs_object_id", "createdate", "hs_lastmodifieddate")
#: HUBSPOT_DEFINED association type ids of a note to a record
NOTE_TARGETS = {202: "contacts", 190: "companies", 214: "deals"}
ASSOCIATION_TYPES = {("deals", "contacts"): "deal_to_contact", ("deals", "companies"): "deal_to_company",
                     ("contacts", "companies"): "contact_to_company", ("companies", "contacts"): "company_to_contact"}


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    args: dict
    headers: Headers
    form: dict
    body: bytes = b""
    files: dict = dataclasses.field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


def reply(payload, status=200, headers=None):
    return Response(json.dumps(payload), status=status, content_type="application/json;charset=utf-8",
                    headers=headers)


def error(status, message, category, **extra):
    return reply({"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category,
                  **extra}, status)


def missing_scope(needed):
    return error(403, "This app hasn't been granted all required scopes to make this call.", "MISSING_SCOPES",
                 errors=[{"message": "One or more of the following scopes are required.",
                          "context": {"requiredGranularScopes": [needed]}}])


def write_route(method, parts):
    """(handler, scope it needs, path arguments) of a writing call, or None."""
    if method == "PATCH" and parts[:3] == ["crm", "v3", "objects"] and len(parts) == 5:
        return "update", f"crm.objects.{parts[3]}.write", parts[3:]
    if method == "POST" and parts == ["files", "v3", "files"]:
        return "upload", "files", []
    if method == "POST" and parts == ["crm", "v3", "objects", "notes"]:
        return "create_note", "crm.objects.contacts.write", []  # the scope HubSpot's notes guide lists
    return None


class FakeHubSpot:
    def __init__(self, httpserver):
        self.server = httpserver
        self.requests = []
        self.counter = itertools.count(1)
        self.access = {}          # access token -> {"expired": bool, "scopes": [...]}
        self.refresh_tokens = {}  # refresh token -> revoked?
        self.rate_limited = []    # queued (policy, retry_after) answers for the next API calls
        self.records = {"deals": {}, "contacts": {}, "companies": {}}
        self.links = {}
        self.files, self.notes = {}, {}
        group = {"groupName": "dealinformation", "formField": True, "hasUniqueValue": False}
        self.properties = {"deals": [
            {"name": "dealname", "label": "Deal name", "type": "string", "fieldType": "text", **group},
            {"name": "amount", "label": "Amount", "type": "number", "fieldType": "number", **group},
            {"name": "dealstage", "label": "Deal stage", "type": "enumeration", "fieldType": "radio", **group},
            {"name": "hs_object_source_detail_3", "label": "Internal", "type": "string", "fieldType": "text",
             "hidden": True, **group},
        ], "contacts": [], "companies": []}
        self.pipelines = {"deals": [
            {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False, "createdAt": NOW,
             "updatedAt": NOW, "stages": [
                 {"id": "closedwon", "label": "Closed won", "displayOrder": 5, "archived": False,
                  "metadata": {"isClosed": "true", "probability": "1.0"}, "createdAt": NOW, "updatedAt": NOW},
                 {"id": "appointmentscheduled", "label": "Appointment scheduled", "displayOrder": 0,
                  "archived": False, "metadata": {"isClosed": "false", "probability": "0.2"},
                  "createdAt": NOW, "updatedAt": NOW}]},
            {"id": "78910", "label": "Renewals", "displayOrder": 1, "archived": False, "createdAt": NOW,
             "updatedAt": NOW, "stages": []},
        ]}
        httpserver.expect_request(re.compile("^/")).respond_with_handler(self._handle)

    # -- set-up -----------------------------------------------------------------------------------------------

    @property
    def base_url(self):
        return self.server.url_for("").rstrip("/")

    @property
    def token_url(self):
        return self.server.url_for("/oauth/v1/token")

    def grant(self, scopes=READ_SCOPES, expired=False):
        """Issue an access token and a refresh token as an app install would."""
        access, refresh = f"hs-at-{next(self.counter)}", f"hs-rt-{uuid.uuid4().hex[:8]}"
        self.access[access] = {"expired": expired, "scopes": list(scopes)}
        self.refresh_tokens[refresh] = {"revoked": False, "scopes": list(scopes)}
        return access, refresh

    def add(self, object_type, object_id, properties, associations=None):
        self.records[object_type][str(object_id)] = {"hs_object_id": str(object_id), "createdate": NOW,
                                                     "hs_lastmodifieddate": NOW, **properties}
        for kind, ids in (associations or {}).items():
            self.links[(object_type, str(object_id), kind)] = [str(i) for i in ids]

    def limit(self, times=1, policy="SECONDLY", retry_after="1"):
        self.rate_limited.extend([(policy, retry_after)] * times)

    def calls(self, prefix=""):
        return [seen for seen in self.requests if seen.path.startswith(prefix)]

    # -- routing ----------------------------------------------------------------------------------------------

    def _handle(self, request):
        body = request.get_data(cache=True)
        seen = Seen(request.method, request.path, request.args.to_dict(), Headers(request.headers),
                    request.form.to_dict(), body, {name: (part.filename, part.mimetype, part.read())
                                                   for name, part in request.files.items()})
        self.requests.append(seen)
        if seen.path == "/oauth/v1/token" and seen.method == "POST":
            return self.token(seen)
        if seen.path.startswith("/oauth/v1/access-tokens/") and seen.method == "GET":
            return self.token_info(unquote(seen.path.rsplit("/", 1)[1]))
        if self.rate_limited:
            policy, retry_after = self.rate_limited.pop(0)
            body = {"status": "error", "message": f"You have reached your {policy.lower()} limit.",
                    "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()), "policyName": policy}
            return reply(body, 429, {"Retry-After": retry_after} if retry_after else None)
        scopes, problem = self.authenticate(seen)
        if problem:
            return problem
        parts = seen.path.strip("/").split("/")
        write = write_route(seen.method, parts)
        if write:
            name, needed, args = write
            return missing_scope(needed) if needed not in scopes else getattr(self, name)(seen, *args)
        if parts[:3] == ["crm", "v3", "objects"] and seen.method == "GET":
            needed = f"crm.objects.{parts[3]}.read"
            if needed not in scopes:
                return missing_scope(needed)
            return self.read(parts[3], parts[4], seen) if len(parts) == 5 else self.list(parts[3], seen)
        if parts[:3] == ["crm", "v3", "properties"] and len(parts) == 4:
            return reply({"results": self.properties.get(parts[3], [])})
        if parts[:3] == ["crm", "v3", "pipelines"] and len(parts) == 4:
            return reply({"results": self.pipelines.get(parts[3], [])})
        return error(404, f"Unable to route {seen.method} request for {seen.path}", "NOT_FOUND")

    def authenticate(self, seen):
        header = seen.headers.get("Authorization", "")
        token = self.access.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if token is None:
            return None, error(401, "Authentication credentials not found. This API supports OAuth 2.0 "
                                    "authentication.", "INVALID_AUTHENTICATION")
        if token["expired"]:
            return None, error(401, "The OAuth token used to make this call expired 3 second(s) ago.",
                               "EXPIRED_AUTHENTICATION", subCategory="EXPIRED_AUTHENTICATION")
        return token["scopes"], None

    def token(self, seen):
        form = seen.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return reply({"status": "BAD_CLIENT_ID", "message": "missing or invalid client id",
                          "correlationId": str(uuid.uuid4())}, 400)
        grant = self.refresh_tokens.get(form.get("refresh_token"))
        if form.get("grant_type") != "refresh_token" or grant is None or grant["revoked"]:
            return reply({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token",
                          "correlationId": str(uuid.uuid4())}, 400)
        access = f"hs-at-{next(self.counter)}"
        self.access[access] = {"expired": False, "scopes": grant["scopes"]}
        return reply({"token_type": "bearer", "refresh_token": form["refresh_token"], "access_token": access,
                      "expires_in": 1800, "hub_id": 62515, "scopes": grant["scopes"]})

    def token_info(self, token):
        if token not in self.access:
            return reply({"status": "error", "message": "Token not found", "correlationId": str(uuid.uuid4())}, 404)
        return reply({"token": token, "user": "ana@acme.example", "hub_domain": "acme.hubspot.com",
                      "scopes": self.access[token]["scopes"], "hub_id": 62515, "app_id": 456789,
                      "expires_in": 1790, "user_id": 123, "token_type": "access"})

    def _object(self, object_type, object_id, requested, associations):
        stored = self.records[object_type][object_id]
        names = dict.fromkeys(["hs_object_id", "createdate", "hs_lastmodifieddate", *requested])
        properties = {name: stored.get(name) for name in names}  # unset ones come back as null
        body = {"id": object_id, "properties": properties, "createdAt": NOW, "updatedAt": NOW, "archived": False}
        linked = {}
        for kind in associations:
            ids = self.links.get((object_type, object_id, kind), [])
            if ids:
                kind_name = ASSOCIATION_TYPES.get((object_type, kind), "unlabeled")
                # HubSpot lists a labelled pair twice: once per association type
                linked[kind] = {"results": [{"id": i, "type": t} for i in ids
                                            for t in (kind_name, f"{kind_name}_unlabeled")]}
        if linked:
            body["associations"] = linked
        return body

    def read(self, object_type, object_id, seen):
        if object_type not in self.records:
            return error(400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")
        if object_id not in self.records[object_type]:
            return error(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND",
                         context={"id": [object_id]})
        requested = [p for p in seen.args.get("properties", "").split(",") if p]
        associations = [a for a in seen.args.get("associations", "").split(",") if a]
        return reply(self._object(object_type, object_id, requested, associations))

    def list(self, object_type, seen):
        ids = sorted(self.records.get(object_type, {}))
        start = int(seen.args.get("after") or 0)
        size = min(int(seen.args.get("limit") or 10), 100)
        requested = [p for p in seen.args.get("properties", "").split(",") if p]
        page = [self._object(object_type, i, requested, []) for i in ids[start:start + size]]
        body = {"results": page}
        if start + size < len(ids):
            after = str(start + size)
            body["paging"] = {"next": {"after": after, "link": f"{self.base_url}{seen.path}?after={after}"}}
        return reply(body)

    # -- writes -----------------------------------------------------------------------------------------------

    def update(self, seen, object_type, object_id):
        if object_id not in self.records.get(object_type, {}):
            return error(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND",
                         context={"id": [object_id]})
        properties = (seen.json() or {}).get("properties")
        if not isinstance(properties, dict) or not all(isinstance(v, str) for v in properties.values()):
            return error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR")
        read_only = [name for name in properties if name in READ_ONLY]
        if read_only:
            return error(400, f"Property values were not valid: {read_only} is a read only property",
                         "VALIDATION_ERROR")
        self.records[object_type][object_id].update(properties)
        return reply(self._object(object_type, object_id, list(properties), []))

    def upload(self, seen):
        options = json.loads(seen.form.get("options") or "{}")
        if "file" not in seen.files or options.get("access") not in ("PRIVATE", "PUBLIC_INDEXABLE",
                                                                    "PUBLIC_NOT_INDEXABLE", "HIDDEN_PRIVATE"):
            return error(400, "file and options.access are required", "VALIDATION_ERROR")
        filename, mimetype, content = seen.files["file"]
        name, _, extension = (seen.form.get("fileName") or filename).rpartition(".")
        file_id = str(170000000000 + next(self.counter))
        path = f"{seen.form.get('folderPath', '').rstrip('/')}/{name}.{extension}"
        self.files[file_id] = {"id": file_id, "name": name, "extension": extension, "path": path,
                               "access": options["access"], "size": len(content), "type": "DOCUMENT",
                               "url": f"https://api-na1.hubspotusercontent-na1.net/hubfs/62515{path}",
                               "parentFolderId": "170000000001", "createdAt": NOW, "updatedAt": NOW,
                               "archived": False, "isUsableInContent": True, "content": content,
                               "mimetype": mimetype}
        return reply({k: v for k, v in self.files[file_id].items() if k not in ("content", "mimetype")}, 201)

    def create_note(self, seen):
        body = seen.json() or {}
        properties = body.get("properties") or {}
        if not properties.get("hs_timestamp"):
            return error(400, "Property values were not valid: hs_timestamp is required", "VALIDATION_ERROR")
        unknown = [a for a in properties.get("hs_attachment_ids", "").split(";") if a and a not in self.files]
        targets = [(NOTE_TARGETS.get(t.get("associationTypeId")), str(a["to"]["id"]))
                   for a in body.get("associations") or [] for t in a.get("types") or []]
        if unknown or any(kind is None or ident not in self.records[kind] for kind, ident in targets):
            return error(400, "One or more associations or attachments are invalid", "VALIDATION_ERROR",
                         context={"attachments": unknown, "associations": [i for _, i in targets]})
        note_id = str(90000000000 + next(self.counter))
        self.notes[note_id] = {"properties": properties, "associations": targets}
        return reply({"id": note_id, "properties": {**properties, "hs_object_id": note_id, "createdate": NOW},
                      "createdAt": NOW, "updatedAt": NOW, "archived": False}, 201)
