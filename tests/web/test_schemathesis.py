"""schemathesis over every documented operation, against the real app in-process.

The app runs as WSGI in this process on the real PostgreSQL and Redis of the
suite. Every operation gets generated requests (seeded, bounded) with a
real organization's credentials; each answer must not be a 5xx and must
conform to the document: status, content type, headers and body schema.
The stateful test follows the document's links: create a workflow, start
a run, read the run and its steps.
NOTE: the organization's SSE stream is left out: it never ends. A run's stream
is generated with ids no run has (404, 400, 401); links do not lead to it, as a
real stream stays open until its run ends (tests/web/test_sse.py covers it).
NOTE: one pytest test per operation is built here with `operation.as_strategy()`
rather than schemathesis's `from_fixture` loader, which reads a pytest
attribute (`Function._nodeid`) that pytest 9 no longer has.
"""
import collections
import datetime
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
STREAMS = r"^/api/v1/sse/organizations/stream$"
#: NOTE: the deadline is generous: two CPUs are shared by parallel suites, and a miss would be a flaky failure.
#: 20 seeded examples per operation (positive and negative) keep the suite inside its 10 minutes (30 took 45 s).
BOUNDED = settings(max_examples=20, deadline=datetime.timedelta(seconds=10), derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))




def documented_operations(negatable=False):
    """(METHOD, path) of every documented operation but the streams; with `negatable`,
    only those with something to make invalid (a body or typed query parameters)."""
    from web.openapi import document

    def has_invalid_input(operation):
        typed = [p for p in operation["parameters"] if p["schema"] != {"type": "string"}]
        return "requestBody" in operation or typed

    return [pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
            for path, item in document()["paths"].items() for method, operation in item.items()
            if not re.match(STREAMS, path) and (not negatable or has_invalid_input(operation))]


@pytest.fixture(scope="module")
def document():
    from web.openapi import document

    return document()


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).exclude(path_regex=STREAMS)


@pytest.mark.parametrize("method, path", documented_operations())
def test_every_operation_answers_within_its_contract(api_schema, org, method, path):
    operation = api_schema[path][method]

    @BOUNDED
    @given(case=operation.as_strategy())
    def answers_within_contract(case):
        case.call_and_validate(headers=org.headers, checks=CHECKS)

    answers_within_contract()


@pytest.mark.parametrize("method, path", documented_operations(negatable=True))
def test_invalid_requests_get_a_documented_4xx_never_a_5xx(api_schema, org, method, path):
    operation = api_schema[path][method]

    @BOUNDED
    @given(case=operation.as_strategy(GenerationMode.NEGATIVE))
    def refused_cleanly(case):
        case.call_and_validate(headers=org.headers, checks=NEGATIVE_CHECKS)

    refused_cleanly()


def test_links_create_a_workflow_start_a_run_and_read_it(api_schema, org, document):
    """Follow the document's own `links` from POST /workflows, with generated data at every step."""
    operations = {op["operationId"]: (method.upper(), path) for path, item in document["paths"].items()
                  for method, op in item.items()}
    reached = collections.Counter()

    def call(case):
        response = case.call(headers=org.headers)
        case.validate_response(response, checks=CHECKS, headers=org.headers)
        reached[(case.operation.label, response.status_code)] += 1
        return response

    def follow(data, method, path, response, depth):
        answer = document["paths"][path][method.lower()]["responses"].get(str(response.status_code), {})
        for link in answer.get("links", {}).values() if depth else ():
            target_method, target_path = operations[link["operationId"]]
            params = {name: resolve(expression, response.json()) for name, expression in link["parameters"].items()}
            case = data.draw(api_schema[target_path][target_method].as_strategy(path_parameters=params))
            follow(data, target_method, target_path, call(case), depth - 1)

    @BOUNDED
    @given(data=st.data())
    def chain(data):
        create = data.draw(api_schema["/api/v1/workflows"]["POST"].as_strategy())
        follow(data, "POST", "/api/v1/workflows", call(create), depth=2)

    # When generated workflows are created and the links followed (runs started, read, canceled...)
    chain()

    # Then runs were started and read through the links, every answer within the contract
    for label in ("POST /api/v1/workflows/{workflow_id}/executions", "GET /api/v1/executions/{execution_id}",
                  "GET /api/v1/executions/{execution_id}/steps", "GET /api/v1/executions/{execution_id}/logs",
                  "GET /api/v1/executions/{execution_id}/preflight", "POST /api/v1/executions/{execution_id}/cancel",
                  "GET /api/v1/workflows/{workflow_id}"):
        assert any(operation == label and status < 300 for operation, status in reached), (label, reached)


def resolve(expression, body):
    """A link's `$response.body#/pointer` against the response body."""
    assert expression.startswith("$response.body#/"), expression
    value = body
    for part in expression.removeprefix("$response.body#/").split("/"):
        value = value[part]
    return value
