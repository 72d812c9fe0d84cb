"""Approvals end to end: pause, decide, reject, expire, exactly-once resume."""
import threading

import pytest

from cli import sample
from tests import factories

pytestmark = pytest.mark.e2e


def approval_workflow(client, org, approvers, notify_to, **config):
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "review-documents", "label": "review", "config": {"approvers": approvers, **config}},
        {"node_type": "email", "label": "send", "config": {"to": [notify_to], "subject": "approved contract"}},
    ])


def emails(org, name):
    return f"{name}+{org.id[:8]}@acme.example"


def test_run_pauses_until_every_approver_approves(client, org, worker, mailbox, redis):
    # Given a workflow that needs two approvals (strategy all)
    ana, bia, customer = emails(org, "ana"), emails(org, "bia"), emails(org, "customer")
    wf = approval_workflow(client, org, [ana, bia], customer, strategy="all")

    # When it runs, it pauses and each approver gets a link
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id, "paused")
    assert state["current_step"]["waiting_for"]["pending"] == [ana, bia]
    link_ana = factories.approval_token(mailbox.wait_for(ana)[0])
    link_bia = factories.approval_token(mailbox.wait_for(bia)[0])
    shown = client.simulate_get(f"/api/v1/approvals/{link_ana}")
    assert shown.status_code == 200 and shown.json["approver"] == ana
    assert [d["name"] for d in shown.json["documents"]] == ["Contract Acme Corp.docx"]
    assert client.simulate_get(shown.json["documents"][0]["download_url"]).status_code == 200

    # Then one approval is not enough
    assert client.simulate_post(f"/api/v1/approvals/{link_ana}/decision", json={"decision": "approved"}).status_code == 200
    state = factories.run_state(client, org, execution_id)
    assert state["status"] == "paused" and state["current_step"]["waiting_for"]["pending"] == [bia]
    assert mailbox.messages(customer) == []
    used = client.simulate_post(f"/api/v1/approvals/{link_ana}/decision", json={"decision": "approved"})
    assert used.status_code == 410 and used.json["error"]["code"] == "approval.link_used"
    assert used.json["error"]["details"]["status"] == "approved" and used.json["error"]["details"]["decided_at"]
    assert f"{ana} approved it at" in used.json["error"]["message_human"]

    # and the second one resumes the run, which completes
    assert client.simulate_post(f"/api/v1/approvals/{link_bia}/decision", json={"decision": "approved"}).status_code == 200
    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "completed"
    assert len(mailbox.wait_for(customer)) == 1
    review = factories.steps(client, org, execution_id)[2]
    assert [d["status"] for d in review["data_out"]["decisions"]] == ["approved", "approved"]
    types = factories.stream_types(redis, execution_id)
    assert types.count("approval.requested") == 1 and types.count("approval.decided") == 2
    assert types.count("execution.paused") == 1 and types.count("execution.resumed") == 1


def test_rejection_fails_the_run_saying_who_and_why(client, org, worker, mailbox):
    ana, bia = emails(org, "ana"), emails(org, "bia")
    wf = approval_workflow(client, org, [ana, bia], emails(org, "c"), strategy="any")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    link_ana = factories.approval_token(mailbox.wait_for(ana)[0])
    link_bia = factories.approval_token(mailbox.wait_for(bia)[0])

    client.simulate_post(f"/api/v1/approvals/{link_ana}/decision", json={"decision": "rejected", "comment": "price"})
    assert factories.run_state(client, org, execution_id)["status"] == "paused"  # "any": bia may still approve
    client.simulate_post(f"/api/v1/approvals/{link_bia}/decision", json={"decision": "rejected", "comment": "no"})

    state = factories.wait_for_status(client, org, execution_id)
    assert state["status"] == "failed"
    assert state["last_error_human"] == f"Rejected by {ana} (price), {bia} (no)."
    assert client.simulate_get(f"/api/v1/approvals/{link_ana}").status_code == 410


@pytest.mark.parametrize("on_timeout, final", [("fail", "failed"), ("approve", "completed")])
def test_expiry_applies_on_timeout_with_no_clock_job(client, org, worker, mailbox, on_timeout, final):
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "c"), timeout_hours=1 / 3600, on_timeout=on_timeout)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    link = factories.approval_token(mailbox.wait_for(ana)[0])

    state = factories.wait_for_status(client, org, execution_id, timeout=30)

    assert state["status"] == final
    if final == "failed":
        assert state["last_error_tech"].startswith("[approval.expired]")
    assert client.simulate_post(f"/api/v1/approvals/{link}/decision", json={"decision": "approved"}).status_code == 410


def test_one_decision_from_twenty_threads_resumes_once(client, org, worker, mailbox, redis):
    ana, customer = emails(org, "ana"), emails(org, "customer")
    wf = approval_workflow(client, org, [ana], customer)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    link = factories.approval_token(mailbox.wait_for(ana)[0])

    statuses, barrier = [], threading.Barrier(20)

    def decide():
        barrier.wait()
        statuses.append(client.simulate_post(f"/api/v1/approvals/{link}/decision",
                                             json={"decision": "approved"}).status_code)

    threads = [threading.Thread(target=decide) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(statuses) == [200] + [410] * 19
    factories.wait_for_status(client, org, execution_id)
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1
    assert [s["attempt"] for s in factories.steps(client, org, execution_id)] == [1, 1, 1, 1]
    assert len(mailbox.wait_for(customer)) == 1


def test_twenty_approvers_deciding_at_once_resume_once(client, org, worker, mailbox, redis):
    approvers = [emails(org, f"a{i}") for i in range(20)]
    customer = emails(org, "customer")
    wf = approval_workflow(client, org, approvers, customer, strategy="any")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    links = [factories.approval_token(mailbox.wait_for(a)[0]) for a in approvers]

    barrier = threading.Barrier(20)

    def decide(link):
        barrier.wait()
        client.simulate_post(f"/api/v1/approvals/{link}/decision", json={"decision": "approved"})

    threads = [threading.Thread(target=decide, args=(link,)) for link in links]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1
    assert len(mailbox.wait_for(customer)) == 1


def test_decisions_need_a_valid_body(client, org, worker, mailbox):
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "c"))
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    link = factories.approval_token(mailbox.wait_for(ana)[0])
    assert client.simulate_post(f"/api/v1/approvals/{link}/decision", json={"decision": "maybe"}).status_code == 422
    assert client.simulate_post(f"/api/v1/approvals/{link}/decision", body=b"{").status_code == 400
    assert client.simulate_get("/api/v1/approvals/not-a-token").status_code == 404
    assert factories.run_state(client, org, execution_id)["status"] == "paused"


def test_a_decision_stranded_by_a_redis_outage_is_settled_by_the_clock(client, org, worker, mailbox, redis,
                                                                         broken_web):
    from actors import scheduled

    # Given a run paused for one approver
    ana, customer = emails(org, "ana"), emails(org, "customer")
    wf = approval_workflow(client, org, [ana], customer)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    token = factories.approval_token(mailbox.wait_for(ana)[0])

    # When the decision reaches a web process that loses Redis after recording it
    import requests

    decided = requests.post(f"{broken_web('REDIS_URL')}/api/v1/approvals/{token}/decision",
                            json={"decision": "approved"}, timeout=30)
    assert decided.status_code == 503
    assert factories.run_state(client, org, execution_id)["status"] == "paused"
    assert client.simulate_post(f"/api/v1/approvals/{token}/decision",
                                json={"decision": "approved"}).status_code == 410

    # Then the clock acts on the recorded decision, once
    assert scheduled.settle_stranded_waits(older_than=0) >= 1
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert scheduled.settle_stranded_waits(older_than=0) == 0
    assert len(mailbox.wait_for(customer)) == 1
    assert factories.stream_types(redis, execution_id).count("execution.resumed") == 1


def test_a_decision_made_while_the_run_is_being_canceled_takes_the_run_first(client, org, worker, mailbox, db):
    from actors import waits
    from storage.models import Approval
    from tests.support import in_thread, run_row_held, wait_on_a_lock

    # Given a run waiting for two approvers
    ana, bia, customer = emails(org, "ana"), emails(org, "bia"), emails(org, "customer")
    wf = approval_workflow(client, org, [ana, bia], customer, strategy="all")
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    approval = Approval.get((Approval.execution == execution_id) & (Approval.approver_email == ana))

    # When ana decides while a transaction holds the run's row, as a cancel does before it revokes the run's
    # approvals
    with run_row_held(execution_id):
        decider, decided = in_thread(lambda box: waits.decide(approval, "approved"))
        wait_on_a_lock(decided, "the decision waiting on a lock")

        # Then the decision waits for the run's row without holding the approval, which the cancel would
        # revoke next (before, it held the approval and waited for the run: a deadlock)
        with db.atomic():
            db.execute_sql("SELECT 1 FROM workflow_approvals WHERE id = %s FOR UPDATE NOWAIT", (approval.id,))
    decider.join(30)
    assert "error" not in decided, decided["error"]
    assert decided["result"] is True
    assert factories.run_state(client, org, execution_id)["current_step"]["waiting_for"]["pending"] == [bia]

    # and the run still cancels, revoking bia's link
    canceled = client.simulate_post(f"/api/v1/executions/{execution_id}/cancel", json={"reason": "deal lost"},
                                    headers=org.headers)
    assert canceled.status_code == 200, canceled.text
    assert Approval.get((Approval.execution == execution_id) & (Approval.approver_email == bia)).status == "revoked"
