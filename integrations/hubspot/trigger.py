"""The `hubspot` trigger: fetch a deal, contact or company for the run.

The run is started by the API or a webhook with the record's id in its
trigger data (`{"deal_id": "..."}`); this node reads the record through
CRM v3 and hands its properties to later steps, both under `properties`
and flattened at the top level, so `{{step.deal.dealname}}` works.
"""
from integrations.base import Action, Result
from integrations.connections import ProviderSession, handle_for
from integrations.errors import InvalidConfig, MissingRequiredField, RateLimited, Unavailable
from integrations.hubspot.client import HubSpotClient, object_type_of
from integrations.preflight import from_error

DEFAULT_PROPERTIES = {
    "deals": ["dealname", "amount", "deal_currency_code", "dealstage", "pipeline", "closedate", "createdate",
              "description", "dealtype", "hubspot_owner_id", "hs_lastmodifieddate"],
    "contacts": ["firstname", "lastname", "email", "phone", "mobilephone", "company", "jobtitle", "address", "city",
                 "state", "zip", "country", "lifecyclestage", "hubspot_owner_id"],
    "companies": ["name", "domain", "industry", "phone", "address", "city", "state", "zip", "country",
                  "numberofemployees", "annualrevenue", "hubspot_owner_id"],
}
DEFAULT_ASSOCIATIONS = {"deals": ["contacts", "companies"], "contacts": ["companies"], "companies": ["contacts"]}
RESERVED = ("id", "object_type", "properties", "associations", "created_at", "updated_at", "archived")


def hubspot_handle(connection_id, organization_id, settings):
    """Return the HubSpot connection, refusing one made for another provider."""
    handle = handle_for(connection_id, organization_id, settings)
    if handle.provider.key != "hubspot":
        raise InvalidConfig("Choose a HubSpot connection for this step.",
                            f"connection {connection_id} is a {handle.provider.key} connection",
                            code="connection_error")
    return handle


def names(value):
    """A list of names from a list or a comma-separated string."""
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [str(item).strip() for item in items if str(item).strip()]


def object_id_of(config):
    object_id = config.get("object_id")
    if object_id in (None, ""):
        raise MissingRequiredField("Enter the ID of the HubSpot record, e.g. {{trigger.deal_id}}.",
                                   "object_id missing")
    return str(object_id).strip()


def output_of(record):
    flat = {name: value for name, value in record.properties.items() if name not in RESERVED}
    return {**flat, "id": record.id, "object_type": record.object_type, "properties": record.properties,
            "associations": record.associations, "created_at": record.created_at, "updated_at": record.updated_at,
            "archived": record.archived}


class HubSpotTrigger(Action):
    """Fetch a HubSpot deal, contact or company with its properties and associations."""

    key = "hubspot"
    name = "HubSpot record"
    phase = "trigger"
    description = "Fetch a HubSpot deal, contact or company with its properties and associations."
    fields = {
        "connection_id": {"type": "string"},
        "object_type": {"enum": ["deals", "contacts", "companies", "deal", "contact", "company"],
                        "default": "deals"},
        "object_id": {"type": "string", "description": "usually {{trigger.deal_id}}"},
        "properties": {"type": "array", "items": {"type": "string"},
                       "description": "property names; default: the common ones of the object type"},
        "associations": {"type": "array", "items": {"type": "string"},
                         "description": "object types whose associated ids to include; default: deals → contacts, "
                                        "companies; contacts → companies; companies → contacts; [] for none"},
    }
    outputs = ("id", "object_type", "properties", "associations", "created_at", "updated_at",
               "<every fetched property, e.g. dealname>")
    endpoints = ("GET https://api.hubapi.com/crm/v3/objects/{objectType}/{objectId}",)

    def run(self, ctx):
        config = ctx.config
        object_type = object_type_of(config.get("object_type") or "deals")
        object_id = object_id_of(config)
        handle = hubspot_handle(config.get("connection_id"), ctx.organization_id, ctx.settings)
        client = HubSpotClient(handle.session(ctx.correlation_id))
        associations = config.get("associations")
        record = client.get_object(object_type, object_id,
                                   properties=names(config.get("properties")) or DEFAULT_PROPERTIES[object_type],
                                   associations=DEFAULT_ASSOCIATIONS[object_type] if associations is None
                                   else names(associations))
        return Result(output=output_of(record))

    def check(self, config, ctx, node_id):
        return check_record(config, ctx, node_id)


def check_record(config, ctx, node_id):
    """Connection usable; a record id already known must exist (404 → hubspot.object_not_found).

    NOTE: the lookup is not retried: a rate limit or an outage is a
    warning here, and the run's own call retries it.
    """
    object_type = object_type_of(config.get("object_type") or "deals")
    object_id = object_id_of(config)
    handle = hubspot_handle(config.get("connection_id"), ctx.organization_id, ctx.settings)
    try:
        if "{{" in object_id:
            handle.access_token()  # refreshes an expired token now: a revoked grant shows before the run
            return []
        session = ProviderSession(handle, timeout=ctx.settings.http_timeout, retries=0)
        HubSpotClient(session).get_object(object_type, object_id, properties=["hs_object_id"])
    except (RateLimited, Unavailable) as error:
        return [from_error(error, node_id, "warning")]
    return []


def _options_handle(handle):
    if handle.provider.key != "hubspot":
        raise InvalidConfig("Choose a HubSpot connection.", f"{handle.provider.key} connection",
                            code="connection_error")
    return HubSpotClient(handle.session())


def property_options(handle, params):
    """Dynamic data: the properties of an object type, for the `properties` field."""
    client = _options_handle(handle)
    return [{"value": p.name, "label": p.label, "type": p.type, "group": p.group}
            for p in client.properties(params.get("object_type") or "deals")]


def pipeline_options(handle, params):
    """Dynamic data: the pipelines of deals (or another type) with their stages."""
    client = _options_handle(handle)
    return [{"value": p.id, "label": p.label, "stages": p.stages}
            for p in client.pipelines(params.get("object_type") or "deals")]


LABELS = {"deals": ("dealname",), "contacts": ("firstname", "lastname", "email"), "companies": ("name", "domain")}


def object_options(handle, params):
    """Dynamic data: recent records of an object type, to pick a sample record."""
    client = _options_handle(handle)
    object_type = object_type_of(params.get("object_type") or "deals")
    try:
        limit = max(1, min(int(params.get("limit") or 20), 200))
    except ValueError:
        limit = 20
    records = client.list_objects(object_type, properties=LABELS[object_type], limit=limit)
    return [{"value": r.id, "label": " ".join(filter(None, (r.properties.get(n) for n in LABELS[object_type])))
             or r.id} for r in records]
