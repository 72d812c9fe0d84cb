"""The fake Google server, shared by the Google tests."""
import pytest

from tests.integrations.google.fake_google import FakeGoogle


@pytest.fixture
def google(httpserver):
    return FakeGoogle(httpserver)
