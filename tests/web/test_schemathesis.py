"""schemathesis over every documented operation, against the real app in-process.

The app runs as WSGI in this process on the real PostgreSQL and Redis of the
suite. Every operation gets generated requests (seeded, bounded) with a
real organization's credentials; each answer must not be a 5xx and must
conform to the document: status, content type, headers and body schema.
The stateful test follows the document's links: create a workflow, start
a run, read the run.
NOTE: the two SSE streams are left out of generation: a real stream stays
open until its run ends (tests/web/test_sse.py covers them against gunicorn).
NOTE: one pytest test per operation is built here with `operation.as_strategy()`
rather than schemathesis's `from_fixture` loader, which reads a pytest
attribute (`Function._nodeid`) that pytest 9 no longer has.
"""
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
STREAMS = r"^/api/v1/sse/(executions/\{execution_id\}|organizations)/stream$"
BOUNDED = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))




def documented_operations():
    from web.openapi import document

    return [pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
            for path, item in document()["paths"].items() for method in item if not re.match(STREAMS, path)]


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


def test_links_create_a_workflow_start_a_run_and_read_it(api_schema, org):
    machine = api_schema.as_state_machine()
    machine.run(settings=settings(max_examples=8, stateful_step_count=6, deadline=None, derandomize=True,
                                  database=None, suppress_health_check=list(HealthCheck)))
