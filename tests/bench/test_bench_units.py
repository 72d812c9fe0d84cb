"""The bench's cheap units: the no-op node stays out of the catalogue, and statement totals add up."""
import json
import time

import pytest

from bench import noop, sqlcount
from integrations.base import load_apps
from web.resources import apps as apps_resource


@pytest.fixture
def registered():
    """Register the bench's no-op node for one test and take it out again (other tests share the registry)."""
    registry = load_apps()
    added = noop.KEY not in registry.actions
    noop.register()
    yield registry
    if added:
        registry.actions.pop(noop.KEY, None)


def test_the_no_op_node_runs_but_the_catalogue_never_lists_it(registered):
    assert registered.phase_of(noop.KEY) == "trigger"
    assert registered.action(noop.KEY).run(None).output == {}
    catalogue = [apps_resource.serialize(app) for app in registered.apps.values()]
    assert noop.KEY not in {action["key"] for app in catalogue for action in app["actions"]}


def test_totals_sum_only_snapshots_taken_after_the_window(tmp_path):
    before = time.time()
    for pid, statements in ((1, 10), (2, 5)):
        (tmp_path / f"{pid}.json").write_text(json.dumps(
            {"pid": pid, "statements": statements, "control": 2, "at": before + 1}))
    assert sqlcount.totals(str(tmp_path), 2, before) == {"statements": 15, "control": 4}
    stale = sqlcount.totals(str(tmp_path), 3, before, timeout=0.1)
    assert stale["stale"] and stale["statements"] == 15


def test_counts_tell_transactions_from_statements():
    counts = sqlcount.Counts()
    for sql in ("BEGIN", "SELECT 1", "COMMIT"):
        counts.add(sql)
    counts.add_transaction()
    snapshot = counts.snapshot()
    assert (snapshot["statements"], snapshot["control"]) == (5, 4)
