"""No run stalls: permanent errors fail at once, the reaper gives up, pages, and until_phase preflight ends."""
import datetime
import time

import pytest

from actors import scheduled
from cli import sample
from storage import executions, workflows
from storage.models import Execution, ExecutionStep, utcnow
from tests import factories

pytestmark = pytest.mark.e2e


def test_a_malformed_id_in_a_step_fails_the_run_at_once_with_a_clear_code(client, org, db, worker):
    import uuid

    from actors import pipeline

    # Given runs whose step snapshot holds a template id that is not a UUID (saved before save-time checks,
    # or edited since): PostgreSQL refuses it with a DataError wherever it is used
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    nodes = [{"node_id": uuid.uuid4(), "node_type": "local-docx", "label": "contract",
              "config": {"template_id": "not-a-uuid"}, "phase": "render"}]
    runs = []
    for skip_preflight in (False, True):
        execution, batch = executions.create(workflows.get(wf["id"], org.id), nodes=nodes,
                                             trigger_data=sample.trigger_data())
        batch.flush()
        if skip_preflight:
            Execution.update(preflight_summary={"blocking_count": 0, "warning_count": 0, "groups": {}}).where(
                Execution.id == execution.id).execute()
        runs.append(str(execution.id))
    started = time.monotonic()
    for execution_id in runs:
        pipeline.advance(execution_id)

    # Then each stops at once (preflight or hop), without retries, saying what is wrong and what to do
    for execution_id in runs:
        state = factories.wait_for_status(client, org, execution_id, ("failed", "needs_review"), timeout=30)
        code = state["last_error_tech"].split("]")[0].lstrip("[")
        assert code in ("invalid_data", "template.not_found", "invalid_config"), state["last_error_tech"]
        assert state["last_error_human"] and state["recommended_actions"]
        assert all(s["attempt"] <= 1 for s in factories.steps(client, org, execution_id))
    assert time.monotonic() - started < 20


def test_an_unknown_node_type_stops_the_run_at_once_in_preflight_or_in_its_hop(client, org, db, worker):
    import uuid

    from actors import pipeline

    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    nodes = [{"node_id": uuid.uuid4(), "node_type": "no-such-node", "label": "ghost", "config": {}, "phase": "trigger"}]
    # Given two runs of a step type that does not exist (a snapshot taken before the app was removed)
    checked, batch = executions.create(workflows.get(wf["id"], org.id), nodes=nodes, trigger_data={})
    batch.flush()
    unchecked, batch = executions.create(workflows.get(wf["id"], org.id), nodes=nodes, trigger_data={})
    batch.flush()
    Execution.update(preflight_summary={"blocking_count": 0, "warning_count": 0, "groups": {}}).where(
        Execution.id == unchecked.id).execute()

    # When both run: one through preflight, one straight to its hop
    pipeline.advance(checked.id)
    pipeline.advance(unchecked.id)

    # Then preflight stops the first for review and the hop fails the second on its first attempt
    state = factories.wait_for_status(client, org, str(checked.id), "needs_review", timeout=30)
    assert state["last_error_tech"].startswith("[invalid_config]")
    state = factories.wait_for_status(client, org, str(unchecked.id), timeout=30)
    assert state["status"] == "failed" and state["last_error_tech"].startswith("[invalid_config]")
    assert factories.steps(client, org, str(unchecked.id))[0]["attempt"] == 1


def test_the_last_attempt_of_a_transient_failure_says_the_step_failed(client, org, worker, httpserver):
    httpserver.expect_request("/down").respond_with_data("busy", status=503)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": httpserver.url_for("/down")}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"n": 1})

    state = factories.wait_for_status(client, org, execution_id, timeout=60)

    assert state["status"] == "failed"
    assert "will be retried" not in state["last_error_human"] and "failed after 4 attempts" in state["last_error_human"]
    step = factories.steps(client, org, execution_id)[1]
    assert "will be retried" not in step["error_human"] and step["status"] == "failure"


def poisoned_run(wf, org):
    """A running run whose current step is already done: re-driving it sends nothing, so it never moves."""
    execution, batch = executions.create(workflows.get(wf["id"], org.id), phases={"webhook": "trigger"},
                                         trigger_data={})
    batch.flush()
    ExecutionStep.update(status="skipped").where(ExecutionStep.execution == execution.id).execute()
    Execution.update(status="running", node_index=0, last_progress_at=utcnow() - datetime.timedelta(hours=1),
                     preflight_summary={"blocking_count": 0, "warning_count": 0, "groups": {}}).where(
        Execution.id == execution.id).execute()
    return execution.id


def lost_run(wf, org):
    """A queued run, admitted, whose first message never reached the broker: a re-drive makes it complete."""
    execution, batch = executions.create(workflows.get(wf["id"], org.id), phases={"webhook": "trigger"},
                                         trigger_data={"x": 1})
    batch.flush()
    Execution.update(last_progress_at=utcnow() - datetime.timedelta(hours=1), admitted_at=utcnow()).where(
        Execution.id == execution.id).execute()
    return execution.id


@pytest.mark.usefixtures("quiet_pipeline")  # the reaper scans the whole database
def test_a_run_re_driven_redrive_max_times_without_progress_fails_as_stuck(client, org, db, worker, services):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          {"node_type": "webhook", "label": "next"}])
    execution_id = poisoned_run(wf, org)
    limit = services.settings.redrive_max

    # When the reaper finds it stuck REDRIVE_MAX times, each re-drive is recorded and the run is still running
    for n in range(1, limit + 1):
        scheduled.redrive_stuck(older_than=0)
        row = Execution.get_by_id(execution_id)
        assert (row.status, row.redrive_count) == ("running", n)

    # Then the next pass fails it with run.stuck, a human message and a recommended action
    scheduled.redrive_stuck(older_than=0)
    state = factories.run_state(client, org, str(execution_id))
    assert state["status"] == "failed" and state["last_error_tech"].startswith("[run.stuck]")
    assert "stopped making progress" in state["last_error_human"]
    assert [a["label"] for a in state["recommended_actions"]] == ["Retry the run"]
    types = [t for _, t in factories.outbox_events(str(execution_id))]
    assert types[-2:] == ["execution.status_changed", "execution.failed"]


@pytest.mark.usefixtures("quiet_pipeline")  # the reaper scans the whole database
def test_the_reaper_pages_through_every_stuck_run_so_poisoned_ones_cannot_starve_healthy_ones(
        client, org, db, worker):
    # Given 250 poisoned runs and 3 healthy runs whose messages were lost, all stuck for an hour
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}])
    poisoned = [poisoned_run(wf, org) for _ in range(250)]
    healthy = [lost_run(wf, org) for _ in range(3)]

    # When the reaper runs once, 100 runs a page
    assert scheduled.redrive_stuck(older_than=60) >= 253

    # Then every one was re-driven and recorded, and the healthy runs complete
    counts = {row.id: row.redrive_count for row in Execution.select(Execution.id, Execution.redrive_count)
              .where(Execution.id.in_(poisoned + healthy))}
    assert all(counts[i] == 1 for i in poisoned + healthy)
    for execution_id in healthy:
        assert factories.wait_for_status(client, org, str(execution_id), timeout=30)["status"] == "completed"
    # and a second pass right away leaves them alone (each waits its window before the next re-drive)
    assert scheduled.redrive_stuck(older_than=60) == 0 or all(
        Execution.get_by_id(i).redrive_count == 1 for i in poisoned)
    Execution.update(status="canceled").where(Execution.id.in_(poisoned)).execute()


def test_until_phase_preflight_completes_after_preflight_with_its_result(client, org, worker):
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "email", "label": "send", "config": {"to": [f"never+{org.id[:8]}@example.com"]}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"x": 1}, until_phase="preflight")

    state = factories.wait_for_status(client, org, execution_id, timeout=30)

    assert state["status"] == "completed" and state["preflight_summary"]["blocking_count"] == 0
    assert [s["status"] for s in factories.steps(client, org, execution_id)] == ["pending", "pending"]
    history = [t for _, t in factories.outbox_events(execution_id)]
    assert history[-2:] == ["execution.status_changed", "execution.completed"] and "step.started" not in history
