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
