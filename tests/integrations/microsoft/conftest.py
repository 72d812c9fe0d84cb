"""Fixtures: the fake Graph (plus its download host) and Microsoft connections."""
import pytest
from pytest_httpserver import HTTPServer

from tests.integrations.microsoft.fake_graph import FakeGraph


@pytest.fixture(scope="session")
def files_server():
    """The pre-authenticated download host: another host name and port than Graph's."""
    server = HTTPServer(host="127.0.0.1")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def graph(httpserver, files_server):
    yield FakeGraph(httpserver, files_server)
    files_server.clear()


@pytest.fixture
def connect(org):
    """Create a Microsoft connection for `org` with the given credentials."""
    from storage import connections

    def create(credentials, status="active"):
        row = connections.create(org.id, provider="microsoft", auth_type="oauth2", credentials=credentials,
                                 name="Microsoft account")
        if status != "active":
            connections.mark(row.id, status)
        return str(row.id)

    return create
