"""The OpenAPI 3.1 document: valid, served publicly, and true to the Falcon router both ways."""
import json
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from web.openapi import API_VERSION

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
METHODS = ("get", "post", "put", "patch", "delete")


def routed_operations(falcon_app):
    """{(METHOD, uri_template)} for every responder a resource really implements."""
    found, pending = set(), list(falcon_app._router._roots)
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.resource is None:
            continue
        for method, responder in (node.method_map or {}).items():
            if getattr(responder, "__self__", None) is node.resource:
                found.add((method, node.uri_template))
    return found


@pytest.fixture(scope="module")
def document(app):
    import falcon.testing

    resp = falcon.testing.TestClient(app).simulate_get("/api/v1/openapi.json")
    assert resp.status_code == 200, resp.text
    return resp.json


def test_the_document_is_public_and_valid_openapi_3_1(document):
    OpenAPIV31SpecValidator(document).validate()
    assert document["openapi"].startswith("3.1") and document["info"]["version"] == API_VERSION


def test_every_route_is_documented_and_nothing_else(app, document):
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item if method in METHODS}
    routed = routed_operations(app.falcon_app)
    assert routed - documented == set(), "routes missing from the document"
    assert documented - routed == set(), "documented operations the app does not serve"


def test_every_operation_documents_its_errors_and_auth(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer" and schemes["organization"]["name"] == "X-Organization-ID"
    assert schemes["streamToken"] == {**schemes["streamToken"], "in": "query", "name": "token"}
    health = {"/health", "/api/v1/sse/health"}  # their 503 is the health report itself
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path in health:
                assert responses["503"]["content"]["application/json"]["schema"]["$ref"].endswith("Health")
                continue
            assert responses["503"]["headers"]["Retry-After"], (method, path)
            errors = [s for s in responses if s >= "400"]
            assert all(responses[s]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
                       for s in errors), (method, path)
            if operation["security"]:
                assert "401" in set(responses), (method, path)


def test_sse_endpoints_are_event_streams_with_every_event_type(document):
    from storage.events import EVENT_TYPES

    stream = document["paths"]["/api/v1/sse/executions/{execution_id}/stream"]["get"]
    assert set(stream["responses"]) >= {"200", "204", "503"}
    media = stream["responses"]["200"]["content"]["text/event-stream"]
    assert media["x-event-schema"] == {"$ref": "#/components/schemas/Event"}
    event = document["components"]["schemas"]["Event"]
    assert set(event["properties"]["event_type"]["enum"]) == EVENT_TYPES
    assert set(event["required"]) >= {"schema_version", "event_id", "event_type", "timestamp", "execution_id",
                                      "workflow_id", "organization_id", "correlation_id", "status", "progress",
                                      "current_step", "data"}
    assert {"bearer": [], "organization": []} in stream["security"] and {"streamToken": []} in stream["security"]


def test_every_operation_with_human_texts_documents_accept_language(document):
    health = {"/health", "/api/v1/sse/health"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            languages = [p for p in operation["parameters"] if p["name"] == "Accept-Language"]
            if path in health:
                assert not languages, (method, path)  # their answers are codes only
                continue
            assert len(languages) == 1 and languages[0]["in"] == "header", (method, path)
            description = languages[0]["description"]
            assert "`pt-BR`" in description and "`en`" in description and "`locale`" in description
    log = document["components"]["schemas"]["Log"]["properties"]
    assert {"message_key", "message_params"} <= set(log)


def test_request_bodies_are_the_schemas_the_api_enforces(document):
    from web import schemas
    from web.resources import control

    create = document["paths"]["/api/v1/workflows"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"] == json.loads(json.dumps(schemas.WORKFLOW_CREATE))
    retry = document["paths"]["/api/v1/executions/{execution_id}/retry"]["post"]["requestBody"]
    assert retry["content"]["application/json"]["schema"]["properties"].keys() == control.RETRY["properties"].keys()
    seed = {"trigger_data": {"deal_id": "123", "client_name": "Acme"}, "from_step": 3}
    assert retry["content"]["application/json"]["example"] == seed


def fields(document):
    """Every documented field, as paths: operations, parameters, statuses, schema properties."""
    found = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            found.add(f"{method.upper()} {path}")
            found |= {f"{method.upper()} {path} param {p['in']}:{p['name']}" for p in operation["parameters"]}
            found |= {f"{method.upper()} {path} -> {status}" for status in operation["responses"]}
    for name, schema in document["components"]["schemas"].items():
        pending = [(f"schema {name}", schema)]
        while pending:
            where, node = pending.pop()
            found.add(where)
            for key, child in (node.get("properties") or {}).items():
                pending.append((f"{where}.{key}", child))
            if isinstance(node.get("items"), dict):
                pending.append((f"{where}[]", node["items"]))
    return found


def test_no_documented_field_disappears_from_the_committed_snapshot(document):
    # Given the fields of the last published document (tests/web/openapi_snapshot.json)
    snapshot = json.loads(SNAPSHOT.read_text())
    # Then every one is still documented (additions are allowed; removals need a new major version)
    missing = sorted(set(snapshot["fields"]) - fields(document))
    assert not missing, (f"documented fields disappeared: {missing[:20]}; a removal is a new major API version "
                         "(web/openapi API_VERSION) and a new snapshot (python -m tests.web.test_openapi)")
    assert API_VERSION.split(".")[0] == snapshot["api_version"].split(".")[0]


def write_snapshot():
    """Record the current document's fields as the snapshot (after a release)."""
    import falcon.testing

    from web.app import create_app

    document = falcon.testing.TestClient(create_app()).simulate_get("/api/v1/openapi.json").json
    SNAPSHOT.write_text(json.dumps({"api_version": API_VERSION, "fields": sorted(fields(document))}, indent=0) + "\n")


if __name__ == "__main__":
    write_snapshot()
