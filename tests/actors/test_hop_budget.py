"""The hot path's statement budget: one plain hop must not issue more SQL than it does today.

The hops run in process through `actors.pipeline.run_hop`, against the real
database, with `flow.send` captured so no worker takes them; the counter
(tests/statements.py) sees every statement Peewee sends, BEGIN/COMMIT
included. No timing is asserted: statement counts are what regress.

A plain (webhook) hop, storage/hop.py:
  1. CLAIM: advisory lock, run row lock and checks, step claim, status CAS,
     log line, step.started/progress events (one autocommitted statement)
  2. COMMIT: step output and input, next hop, log line, step.completed/progress
     events, claim release, the next step's phase and status (one statement)
The render (local-docx) hop is the last one of its run, so it also pays:
  - node work: the template read, the generated document INSERT (2)
  - its audit row: BEGIN, COMMIT, audit lock, audit INSERT, COMMIT (COMMIT
    runs inside that transaction, so 4 more than a plain hop)
  - the run's end (flow.following_committed -> steps.finish): BEGIN, status CAS,
    audit lock, audit INSERT, outbox INSERT, COMMIT, then the admission
    SELECT of release_slots (7)
The per-hop counts run with chaining off (HOP_CHAIN_MS=0, one node per
message); the whole-run count runs it as a worker does, every node chained
into the preflight's message.
"""
import pytest

from actors import pipeline
from cli import sample
from tests import factories
from tests.statements import counting

pytestmark = pytest.mark.e2e

#: statements per hop measured on this branch (issue 11's two hot statements in place; they were 15 and 26)
WEBHOOK_HOP_BUDGET = 2  # no BEGIN/COMMIT: both statements are autocommitted
RENDER_HOP_BUDGET = 15  # 4 of them BEGIN/COMMIT
#: an outgoing webhook (a delivery) followed by another step: CLAIM (which moves the run to `sending`), the
#: side-effect ledger's claim and result (2), then BEGIN, COMMIT, the audit lock and row, the move to `sent`,
#: its event, COMMIT (it was 14 when a delivery step began on the cold path: a read of the run and a transition)
DELIVERY_HOP_BUDGET = 10
#: a whole run of 5 webhook nodes from its preflight message on: preflight, 5 x 2, the run's end
FIVE_NODE_RUN_BUDGET = 24


def next_hop(sent):
    assert len(sent) == 1, f"expected one hop message, got {sent}"
    return sent.pop()


def test_one_plain_hop_stays_within_its_statement_budget(client, org, db, captured, one_node_per_message):
    # Given a run of a webhook trigger and a local-docx render, its preflight done in process
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          factories.render_node(template_id)])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    envelope, phase = next_hop(captured)
    assert phase == "preflight"
    pipeline.run_preflight(envelope.to_message())

    # When each of its two hops runs once, in process, counted
    counts = {}
    for node_type in ("webhook", "local-docx"):
        envelope, phase = next_hop(captured)
        with counting(db) as statements:
            pipeline.run_hop(envelope.to_message(), phase=phase)
        counts[node_type] = statements

    # Then the run completed and neither hop grew past its budget
    assert factories.run_state(client, org, execution_id)["status"] == "completed"
    for node_type, budget in (("webhook", WEBHOOK_HOP_BUDGET), ("local-docx", RENDER_HOP_BUDGET)):
        statements = counts[node_type]
        assert len(statements) <= budget, (
            f"a {node_type} hop issued {len(statements)} statements ({len(statements.control)} "
            f"BEGIN/COMMIT/savepoint), budget {budget}:\n{statements.listing()}")


def test_a_whole_chained_run_stays_within_its_statement_budget(client, org, db, captured):
    # Given a run of five webhook nodes
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": f"n{i}"} for i in range(5)])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    envelope, phase = next_hop(captured)
    assert phase == "preflight"

    # When its preflight message runs, counted, as a worker runs it
    with counting(db) as statements:
        pipeline.run_preflight(envelope.to_message())

    # Then every node ran in that one message, and the run stayed within its budget
    assert captured == [], "a node was sent to a message of its own"
    assert factories.run_state(client, org, execution_id)["status"] == "completed"
    assert len(statements) <= FIVE_NODE_RUN_BUDGET, (
        f"the run issued {len(statements)} statements ({len(statements.control)} BEGIN/COMMIT/savepoint), "
        f"budget {FIVE_NODE_RUN_BUDGET}:\n{statements.listing()}")


def test_a_delivery_hop_starts_in_its_claim(client, org, db, captured, one_node_per_message, httpserver):
    # Given a run whose second step is a delivery (an outgoing webhook), its trigger done in process
    httpserver.expect_request("/notify").respond_with_data("ok")
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          {"node_type": "outgoing-webhook", "label": "notify",
                                           "config": {"url": httpserver.url_for("/notify")}},
                                          {"node_type": "webhook", "label": "after"}])
    factories.start(client, org, wf["id"], sample.trigger_data())
    envelope, _ = next_hop(captured)
    pipeline.run_preflight(envelope.to_message())
    envelope, phase = next_hop(captured)
    pipeline.run_hop(envelope.to_message(), phase=phase)

    # When the delivery hop runs, counted
    envelope, phase = next_hop(captured)
    with counting(db) as statements:
        pipeline.run_hop(envelope.to_message(), phase=phase)

    # Then CLAIM moved the run to `sending` itself (no read of the run, no transition of its own)
    assert len(statements) <= DELIVERY_HOP_BUDGET, (
        f"a delivery hop issued {len(statements)} statements, budget {DELIVERY_HOP_BUDGET}:\n{statements.listing()}")
