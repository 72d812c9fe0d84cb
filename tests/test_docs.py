"""docs/guarantees.md cites the tests that prove each line: they must exist."""
import re

from tests.support import ROOT


def test_every_test_cited_in_the_guarantees_exists():
    text = (ROOT / "docs" / "guarantees.md").read_text()
    cited, current = [], None
    for match in re.finditer(r"`(?:([\w/]+\.py))?::(\w+)`", text):
        current = match.group(1) or current
        if current.split("/")[-1].startswith("test_"):
            cited.append((current, match.group(2)))
    assert len(cited) > 30
    missing = [(path, name) for path, name in cited
               if f"def {name}(" not in (ROOT / "tests" / path).read_text()]
    assert missing == []
