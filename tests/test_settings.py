"""Settings: the README's configuration table, and derived limits."""
import re

import settings
from tests.support import ROOT


def test_the_readme_configuration_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([A-Za-z_]+)` \| .*? \| (.*) \|$", readme, flags=re.MULTILINE))
    for name, _, _, meaning in settings.TABLE:
        assert rows.get(name) == meaning, f"README.md's configuration row for {name} is missing or stale"


def test_sse_streams_leave_web_connections_free_for_health_and_the_api():
    defaults = settings.load({})
    assert defaults.sse_stream_limit == 1800 < defaults.web_connections == 2000
    small = settings.load({"WEB_CONNECTIONS": "12"})
    assert small.sse_stream_limit == 10
    assert settings.load({"SSE_MAX_STREAMS": "3"}).sse_stream_limit == 3


def test_a_non_default_port_moves_the_links_and_the_cli_with_it():
    from cli.client import default_url

    assert settings.load({"PORT": "8123"}).public_base_url == "http://localhost:8123"
    assert settings.load({}).public_base_url == "http://localhost:8000"
    assert settings.load({"PORT": "8123", "PUBLIC_BASE_URL": "https://docg.example"}).public_base_url == "https://docg.example"
    assert default_url({"PORT": "8123"}) == "http://localhost:8123"
    assert default_url({}) == "http://localhost:8000"
    assert default_url({"PORT": "8123", "DOCG_URL": "https://docg.example/"}) == "https://docg.example"


def test_change_me_secrets_are_refused_outside_the_dev_profile():
    import pytest

    assert settings.load({}).docg_profile == ""
    with pytest.raises(settings.InsecureSettings, match="SECRET_KEY"):
        settings.load({"DOCG_PROFILE": "production", "ADMIN_TOKEN": "a-real-token"})
    with pytest.raises(settings.InsecureSettings, match="ADMIN_TOKEN"):
        settings.load({"DOCG_PROFILE": "production", "SECRET_KEY": "s3cr3t", "ADMIN_TOKEN": "change-me-admin"})
    settings.load({"DOCG_PROFILE": "production", "SECRET_KEY": "s3cr3t", "ADMIN_TOKEN": "t0ken"})
