"""The run viewer (/runs/{id}) in a real headless Chromium against real processes."""
import contextlib
import re
import uuid

import pytest

from cli import sample
from storage import events
from tests import factories
from tests.actors.test_approvals import approval_workflow, emails
from tests.browser import CuttableLink, chromium

pytestmark = pytest.mark.e2e

# What a person sees, read from the DOM.
PAGE = """
const q = (selector) => document.querySelector(selector);
const all = (selector) => [...document.querySelectorAll(selector)];
return {
  status: q('#status').dataset.status,
  progress: Number(q('#progress').dataset.progress),
  progress_text: q('#progress-text').textContent,
  connection: q('#connection').dataset.state,
  waiting: q('#waiting').hidden ? '' : q('#waiting').textContent,
  pending: all('#pending li').map((li) => li.textContent),
  steps: all('#steps .step').map((li) => ({
    status: li.dataset.status, label: li.querySelector('.step-label').textContent,
    started: li.querySelector('.step-started') ? li.querySelector('.step-started').textContent : '',
    duration: li.querySelector('.step-duration') ? li.querySelector('.step-duration').textContent : '',
    error: li.querySelector('.step-error') ? li.querySelector('.step-error').firstChild.textContent : ''})),
  logs: all('#logs li.log').map((li) => li.querySelector('.msg').textContent),
  error: q('#error').hidden ? '' : q('#error-human').textContent,
  issues: all('#issues li').map((li) => [li.dataset.code, li.querySelector('.issue-text').textContent]),
  actions: all('#actions-list li').map((li) => li.querySelector('strong').textContent),
  notice: q('#notice').hidden ? '' : q('#notice').textContent,
};
"""
DURATION = re.compile(r"^\d+(\.\d)? (ms|s)$|^\d+ min \d+ s$")


def viewer_url(client, org, execution_id):
    resp = client.simulate_post(f"/api/v1/executions/{execution_id}/stream-token", headers=org.headers)
    assert resp.status_code == 201, resp.text
    return resp.json["viewer_url"]


def test_viewer_follows_a_run_through_an_approval_to_completion(client, org, worker, mailbox, web_server,
                                                                redis, tmp_path):
    # Given a run that will wait for one approver
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "customer"))
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    link = CuttableLink(int(web_server.base.rsplit(":", 1)[1]))
    url = f"http://127.0.0.1:{link.port}" + viewer_url(client, org, execution_id)

    with chromium() as page, contextlib.closing(link):
        # When a person opens the viewer link
        page.open(url)

        # Then the page shows the run paused, with the approver pending, and a live stream
        paused = page.wait_for(PAGE, lambda p: p["status"] == "paused" and p["pending"] == [ana]
                               and p["connection"] == "live", message="paused run with ana pending")
        assert "Waiting for approval" in paused["waiting"]
        assert [s["status"] for s in paused["steps"]] == ["success", "success", "running", "pending"]
        assert 0 < paused["progress"] < 100
        print(f"viewer screenshot (paused): {page.screenshot(tmp_path / 'viewer-paused.png')}")

        # When the page loses its connection, and ana approves while it is away
        link.cut()
        page.wait_for(PAGE, lambda p: p["connection"] == "reconnecting", message="connection lost")
        token = factories.approval_token(mailbox.wait_for(ana)[0])
        decided = client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "approved"})
        assert decided.status_code == 200, decided.text
        factories.wait_for_status(client, org, execution_id)
        api_logs = client.simulate_get(f"/api/v1/executions/{execution_id}/logs", headers=org.headers).json["logs"]
        link.restore()

        # Then the page reconnects, replays what it missed to the end, and closes the stream
        done = page.wait_for(PAGE, lambda p: p["status"] == "completed" and p["progress"] == 100
                             and p["connection"] == "ended" and all(s["status"] == "success" for s in p["steps"])
                             and len(p["logs"]) == len(api_logs), message="completed run, all steps done")
        stream_ids = [i.decode() for i, _ in redis.xrange(events.stream_key(execution_id))]
        assert page.evaluate("return window.runViewer.eventIds") == stream_ids  # each event once, in order
        assert done["progress_text"] == "100%" and done["pending"] == [] and done["notice"] == ""
        assert [s["label"] for s in done["steps"]] == ["deal", "contract", "review", "send"]
        assert all(s["started"] and DURATION.match(s["duration"]) for s in done["steps"]), done["steps"]
        assert done["logs"] and done["logs"] == [log["message_human"] + (log["details_tech"] or "") for log in api_logs]
        assert page.console_errors("javascript") == []
        print(f"viewer screenshot: {page.screenshot(tmp_path / 'viewer.png')}")

        # and a finished run opened again shows its end state without following a stream
        page.open(url)
        again = page.wait_for(PAGE, lambda p: p["status"] == "completed" and p["connection"] == "ended"
                              and len(p["logs"]) == len(api_logs), message="finished run reopened")
        assert again["steps"] == done["steps"]
        assert page.evaluate("return window.runViewer.eventIds") == []


def test_viewer_shows_the_failed_step_and_its_error(client, org, worker, web_server, httpserver, tmp_path):
    httpserver.expect_request("/refuses").respond_with_data("no such hook", status=404)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": httpserver.url_for("/refuses")}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"n": 1})

    with chromium() as page:
        page.open(web_server.base + viewer_url(client, org, execution_id))

        shown = page.wait_for(PAGE, lambda p: p["status"] == "failed" and p["connection"] == "ended"
                              and p["steps"] and p["steps"][-1]["error"], message="failed run with the step error")
        print(f"viewer screenshot (failed): {page.screenshot(tmp_path / 'viewer-failed.png')}")

    assert [s["status"] for s in shown["steps"]] == ["success", "failure"]
    assert shown["steps"][1]["error"] == shown["error"] == "The webhook call was refused (404)."
    assert shown["steps"][1]["duration"]


def test_viewer_shows_what_to_fix_when_preflight_stops_a_run(client, org, worker, web_server, tmp_path):
    """needs_review is not the end: the page keeps following, since a resumed run goes on."""
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
        {"node_type": "email", "label": "send", "config": {"to": [f"never+{org.id[:8]}@example.com"]}},
    ])
    execution_id = factories.start(client, org, wf["id"], {"other": 1})

    with chromium() as page:
        page.open(web_server.base + viewer_url(client, org, execution_id))

        shown = page.wait_for(PAGE, lambda p: p["status"] == "needs_review" and p["actions"]
                              and p["connection"] == "live", message="run in review, still followed live")
        print(f"viewer screenshot (needs review): {page.screenshot(tmp_path / 'viewer-review.png')}")

    assert shown["issues"] == [["missing_required_field", "Required fields are empty: client_name."]]
    assert shown["actions"] == ["Fill required fields"]
    assert [s["status"] for s in shown["steps"]] == ["pending", "pending"]


def test_viewer_with_a_bad_token_says_so_and_stops(web_server):
    with chromium() as page:
        page.open(f"{web_server.base}/runs/{uuid.uuid4()}?token=forged.token")

        shown = page.wait_for(PAGE, lambda p: p["connection"] == "offline" and p["notice"], message="link error")

    assert "stream link expired" in shown["notice"] and shown["steps"] == []


def test_viewer_reconnects_after_the_web_process_restarts_and_shows_the_final_state(
        client, org, worker, mailbox, logs_dir, tmp_path):
    from tests.support import free_port, http_ok, start_web, wait_until

    # Given a viewer following a paused run through its own web process
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "customer"))
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    port = free_port()
    web = start_web(logs_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{base}/health"), 60, message="web health")
        with chromium() as page:
            page.open(base + viewer_url(client, org, execution_id))
            page.wait_for(PAGE, lambda p: p["status"] == "paused" and p["connection"] == "live",
                          message="paused run, live")

            # When the web process stops, the run completes meanwhile, and the web process comes back
            web.stop()
            page.wait_for(PAGE, lambda p: p["connection"] == "reconnecting", message="connection lost")
            token = factories.approval_token(mailbox.wait_for(ana)[0])
            assert client.simulate_post(f"/api/v1/approvals/{token}/decision",
                                        json={"decision": "approved"}).status_code == 200
            factories.wait_for_status(client, org, execution_id)
            web = start_web(logs_dir, port)

            # Then the page reconnects on its own and shows the final state, every event once, in order
            done = page.wait_for(PAGE, lambda p: p["status"] == "completed" and p["connection"] == "ended"
                                 and all(s["status"] == "success" for s in p["steps"]), timeout=60,
                                 message="completed run after the restart")
            assert done["progress"] == 100
            assert page.evaluate("return window.runViewer.eventIds") == \
                [i for i, _ in factories.outbox_events(execution_id)]
            print(f"viewer screenshot (after restart): {page.screenshot(tmp_path / 'viewer-restart.png')}")
    finally:
        web.stop()
