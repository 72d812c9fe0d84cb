"""HubSpot CRM v3 client: read records, properties, pipelines and token info.

Endpoints used (base https://api.hubapi.com, `Authorization: Bearer <access token>`):

- GET /crm/v3/objects/{objectType}/{objectId}?properties=&associations=&archived=false
  read one record (https://developers.hubspot.com/docs/api-reference/crm-deals-v3/basic/get-crm-v3-objects-deals-dealId)
- GET /crm/v3/objects/{objectType}?limit=&after=&properties=
  list records, paged by `paging.next.after` (https://developers.hubspot.com/docs/api/crm/deals)
- GET /crm/v3/properties/{objectType}
  every property of an object type
  (https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/get-properties)
- GET /crm/v3/pipelines/{objectType}
  pipelines and their stages (https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/get-pipelines)
- GET /oauth/v1/access-tokens/{token}
  who the token belongs to; needs no scope
  (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/get-oauth-token-metadata)
- PATCH /crm/v3/objects/{objectType}/{objectId} `{"properties": {...}}`
  overwrite the given properties only
  (https://developers.hubspot.com/docs/api-reference/crm-objects-v3/basic/patch-crm-v3-objects-objectType-objectId)
- POST /files/v3/files (multipart/form-data: file, fileName, folderPath, options)
  upload to the file manager, 201 with the file's id
  (https://developers.hubspot.com/docs/api-reference/files-files-v3/files/post-files-v3-files)
- POST /crm/v3/objects/notes `{"properties": {hs_timestamp, hs_note_body,
  hs_attachment_ids}, "associations": [{"to": {"id"}, "types": [...]}]}`
  log a note on a record's timeline (https://developers.hubspot.com/docs/api-reference/crm-notes-v3/guide);
  the default HUBSPOT_DEFINED association type ids are note → contact 202,
  note → company 190, note → deal 214
  (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide)

Errors (https://developers.hubspot.com/docs/faq/api-error-responses) are JSON
`{"status": "error", "message", "correlationId", "category", ...}`; a 429
carries `"errorType": "RATE_LIMIT"` and a `policyName` (SECONDLY, TEN_SECONDLY_ROLLING
or DAILY). Token refresh (POST /oauth/v1/token, grant_type=refresh_token) is
done by `integrations.connections`.

NOTE: HubSpot answers an unset property with `null`; records here carry ""
instead, so a template tag renders empty rather than "None".
"""
import dataclasses
import json
from urllib.parse import quote

from integrations.errors import BadResponse, IntegrationError, InvalidConfig, PermissionDenied, RateLimited
from integrations.http import raise_for_status
from integrations.outbound import safe_url

OBJECT_TYPES = {"deals": "deal", "contacts": "contact", "companies": "company"}
NOTE_ASSOCIATION_TYPES = {"contacts": 202, "companies": 190, "deals": 214}
ALIASES = {"deal": "deals", "contact": "contacts", "company": "companies",
           "0-3": "deals", "0-1": "contacts", "0-2": "companies"}


def object_type_of(value):
    """Return the plural object type HubSpot's paths use, or raise InvalidConfig."""
    name = str(value or "").strip().lower()
    name = ALIASES.get(name, name)
    if name not in OBJECT_TYPES:
        raise InvalidConfig("Choose deals, contacts or companies as the HubSpot object type.",
                            f"object_type={value!r}")
    return name


class ObjectNotFound(IntegrationError):
    code = "hubspot.object_not_found"
    message_human = "The HubSpot record does not exist or was deleted."


@dataclasses.dataclass
class CrmObject:
    id: str
    object_type: str
    properties: dict
    associations: dict
    created_at: str
    updated_at: str
    archived: bool

    @classmethod
    def from_api(cls, object_type, body):
        associations = {}
        for kind, block in (body.get("associations") or {}).items():
            ids = []
            for item in (block or {}).get("results", []):
                if str(item.get("id")) not in ids:
                    ids.append(str(item.get("id")))
            associations[kind] = ids
        properties = {name: "" if value is None else value for name, value in (body.get("properties") or {}).items()}
        return cls(id=str(body["id"]), object_type=object_type, properties=properties, associations=associations,
                   created_at=body.get("createdAt", ""), updated_at=body.get("updatedAt", ""),
                   archived=bool(body.get("archived", False)))


@dataclasses.dataclass
class Property:
    name: str
    label: str
    type: str
    group: str


@dataclasses.dataclass
class Pipeline:
    id: str
    label: str
    stages: list


@dataclasses.dataclass
class HubSpotFile:
    id: str
    name: str
    url: str
    path: str


@dataclasses.dataclass
class TokenInfo:
    hub_id: int
    hub_domain: str
    user: str
    scopes: list
    expires_in: int


def error_body(response):
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def detail_of(response):
    body = error_body(response)
    parts = [f"{response.request.method} {safe_url(response.url)} -> {response.status_code}"]
    for key in ("category", "message", "correlationId", "policyName"):
        if body.get(key):
            parts.append(f"{key}={body[key]}")
    return "; ".join(parts) if len(parts) > 1 else f"{parts[0]} {response.reason or ''}".rstrip()


def check(response, what, verb="read"):
    """Raise the IntegrationError a HubSpot error answer means; return the response."""
    status = response.status_code
    if status < 400:
        return response
    body, detail = error_body(response), detail_of(response)
    if status == 403:
        scopes = [scope for error in body.get("errors", []) for scope in
                  (error.get("context") or {}).get("requiredGranularScopes", [])]
        needed = f" It needs the scope {', '.join(scopes)}." if scopes else ""
        raise PermissionDenied(f"The HubSpot connection may not {verb} {what}.{needed} Reconnect with that access.",
                               detail)
    if status == 429:
        header = response.headers.get("Retry-After", "")
        daily = body.get("policyName") == "DAILY"
        raise RateLimited("HubSpot's daily API limit is used up; try again tomorrow." if daily else None, detail,
                          retry_after=float(header) if header.isdigit() else None, retryable=not daily)
    if status in (400, 404):
        message = body.get("message") or f"HubSpot refused the request for {what}."
        raise BadResponse(f"HubSpot refused the request for {what}: {message}", detail)
    raise_for_status(response, what=f"HubSpot {what}")
    return response


def object_path(object_type, object_id):
    return f"/crm/v3/objects/{object_type}/{quote(str(object_id), safe='')}"


def found(response, object_type, object_id, verb):
    """`check` a call about one record, a 404 meaning the record is gone."""
    singular = OBJECT_TYPES[object_type]
    if response.status_code == 404:
        raise ObjectNotFound(f"The HubSpot {singular} {object_id} does not exist or was deleted.",
                             detail_of(response))
    return check(response, f"the {singular}", verb)


class HubSpotClient:
    """Read HubSpot CRM data through a connection's ProviderSession."""

    def __init__(self, session):
        self.http = session

    def get_object(self, object_type, object_id, *, properties=(), associations=()):
        object_type = object_type_of(object_type)
        params = {"archived": "false"}
        if properties:
            params["properties"] = ",".join(properties)
        if associations:
            params["associations"] = ",".join(associations)
        response = self.http.get(object_path(object_type, object_id), params=params)
        return CrmObject.from_api(object_type, found(response, object_type, object_id, "read").json())

    def update_object(self, object_type, object_id, properties):
        """Overwrite the given properties of a record; return the record as HubSpot answers it."""
        object_type = object_type_of(object_type)
        response = self.http.patch(object_path(object_type, object_id), json={"properties": properties})
        return CrmObject.from_api(object_type, found(response, object_type, object_id, "update").json())

    def upload_file(self, *, name, content, content_type, folder_path):
        """Upload a PRIVATE file to the file manager (not overwriting one of the same name)."""
        options = {"access": "PRIVATE", "overwrite": False}
        response = self.http.post("/files/v3/files", files={"file": (name, content, content_type)},
                                  data={"fileName": name, "folderPath": folder_path, "options": json.dumps(options)})
        body = check(response, "the file manager", "upload to").json()
        return HubSpotFile(id=str(body["id"]), name=body.get("name", name), url=body.get("url", ""),
                           path=body.get("path", ""))

    def create_note(self, object_type, object_id, *, body, timestamp, attachment_ids=()):
        """Log a note with attachments on a record's timeline; return the note's id."""
        object_type = object_type_of(object_type)
        payload = {"properties": {"hs_timestamp": timestamp, "hs_note_body": body,
                                  "hs_attachment_ids": ";".join(attachment_ids)},
                   "associations": [{"to": {"id": str(object_id)}, "types": [
                       {"associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": NOTE_ASSOCIATION_TYPES[object_type]}]}]}
        response = self.http.post("/crm/v3/objects/notes", json=payload)
        return str(found(response, object_type, object_id, "add a note to").json()["id"])

    def list_objects(self, object_type, *, properties=(), limit=20):
        """Return up to `limit` records, following `paging.next.after`."""
        object_type = object_type_of(object_type)
        found, after = [], None
        while len(found) < limit:
            params = {"limit": min(100, limit - len(found)), "archived": "false"}
            if properties:
                params["properties"] = ",".join(properties)
            if after:
                params["after"] = after
            body = check(self.http.get(f"/crm/v3/objects/{object_type}", params=params), object_type).json()
            found.extend(CrmObject.from_api(object_type, item) for item in body.get("results", []))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return found[:limit]

    def properties(self, object_type):
        object_type = object_type_of(object_type)
        body = check(self.http.get(f"/crm/v3/properties/{object_type}"), f"{object_type} properties").json()
        return [Property(name=item["name"], label=item.get("label") or item["name"], type=item.get("type", ""),
                         group=item.get("groupName", "")) for item in body.get("results", [])
                if not item.get("hidden")]

    def pipelines(self, object_type="deals"):
        object_type = object_type_of(object_type)
        body = check(self.http.get(f"/crm/v3/pipelines/{object_type}"), f"{object_type} pipelines").json()
        pipelines = sorted(body.get("results", []), key=lambda p: (p.get("displayOrder", 0), p.get("label", "")))
        return [Pipeline(id=str(p["id"]), label=p.get("label", p["id"]),
                         stages=[{"value": str(s["id"]), "label": s.get("label", s["id"])}
                                 for s in sorted(p.get("stages", []), key=lambda s: s.get("displayOrder", 0))
                                 if not s.get("archived")])
                for p in pipelines if not p.get("archived")]

    def token_info(self, access_token):
        response = self.http.get(f"/oauth/v1/access-tokens/{quote(access_token, safe='')}")
        body = check(response, "the access token").json()
        return TokenInfo(hub_id=body.get("hub_id"), hub_domain=body.get("hub_domain", ""), user=body.get("user", ""),
                         scopes=list(body.get("scopes", [])), expires_in=int(body.get("expires_in") or 0))
