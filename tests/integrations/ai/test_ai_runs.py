"""AI runs end to end: webhook → ai → local-docx through a real worker, per provider."""
import io

import docx
import pytest

from integrations.ai.node import AiText
from integrations.base import NodeContext
from storage import connections, documents
from storage.models import Execution
from tests import factories
from tests.integrations.ai.fake_llms import CONNECTION, FAKES

pytestmark = pytest.mark.e2e
ANSWER = '{"text": "Acme Corp wants a document automation rollout in 12 months.", "risk": "low"}'


def summary_template():
    document = docx.Document()
    document.add_paragraph("Client: {{ client_name }}")
    document.add_paragraph("Summary: {{ step.summary.text }}")
    document.add_paragraph("Risk: {{ step.summary.risk }} (by {{ step.summary.provider }})")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("provider", sorted(FAKES))
def test_an_ai_answer_fills_the_document(client, org, db, worker, services, httpserver, provider):
    # Given a connection to the provider and a workflow that asks it for JSON
    fake = FAKES[provider](httpserver, answer=ANSWER)
    row = connections.create(org.id, provider=CONNECTION[provider], auth_type="api_key",
                             credentials={"api_key": fake.key, "base_url": fake.base_url})
    template_id = factories.template(client, org, summary_template(), name="summary.docx")
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal", "config": {"required_fields": ["client_name"]}},
        {"node_type": "ai", "label": "summary",
         "config": {"provider": provider, "connection_id": str(row.id), "json": True,
                    "system": "You summarise sales deals for contracts.",
                    "prompt": "Summarise the deal for {{trigger.client_name}}: {{trigger.scope}}. "
                              "Give `text` and `risk`."}},
        {"node_type": "local-docx", "label": "brief", "config": {"template_id": template_id}},
    ])

    # When a run starts
    execution_id = factories.start(client, org, wf["id"], {"client_name": "Acme Corp",
                                                           "scope": "document automation rollout"})
    state = factories.wait_for_status(client, org, execution_id)

    # Then the document holds the model's answer
    assert state["status"] == "completed", state
    document, = documents.for_execution(execution_id)
    text = [p.text for p in docx.Document(io.BytesIO(bytes(document.content))).paragraphs]
    assert text == ["Client: Acme Corp", "Summary: Acme Corp wants a document automation rollout in 12 months.",
                    f"Risk: low (by {provider})"]
    # And the provider got one generation request with the resolved prompt and the run's correlation id
    generation, = fake.generations()
    assert generation.headers["X-Correlation-ID"] == state["correlation_id"]
    assert "Summarise the deal for Acme Corp: document automation rollout." in str(generation.body)
    step = factories.steps(client, org, execution_id)[1]
    assert step["data_out"]["risk"] == "low" and step["data_out"]["data"] == {
        "text": "Acme Corp wants a document automation rollout in 12 months.", "risk": "low"}
    assert step["data_out"]["usage"]["total"] > 0 and step["data_out"]["raw_text"] == ANSWER

    # When the AI hop is delivered again, it reuses the recorded answer and pays nothing more
    execution = Execution.get_by_id(execution_id)
    ctx = NodeContext(execution_id=execution_id, organization_id=org.id, workflow_id=str(execution.workflow_id),
                      correlation_id=str(execution.correlation_id), node_id=step["node_id"], node_type="ai",
                      label="summary", position=1, config=step["data_in"], run={}, settings=services.settings,
                      services=services)
    assert AiText().run(ctx).output == step["data_out"]
    assert len(fake.generations()) == 1


def ask_workflow(client, org, fake, provider="anthropic", key=None):
    row = connections.create(org.id, provider=CONNECTION[provider], auth_type="api_key",
                             credentials={"api_key": key or fake.key, "base_url": fake.base_url})
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "ai", "label": "summary", "config": {"connection_id": str(row.id), "prompt": "Say hi"}},
    ])
    return factories.start(client, org, wf["id"], {})


def test_an_overloaded_provider_is_retried(client, org, db, worker, httpserver):
    # Given Anthropic answers the first generation with 529 overloaded_error
    fake = FAKES["anthropic"](httpserver, answer="Hi!")
    fake.fail(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, method="POST")

    execution_id = ask_workflow(client, org, fake)
    state = factories.wait_for_status(client, org, execution_id)

    # Then the hop was retried and the second generation answered
    assert state["status"] == "completed", state
    assert len(fake.generations()) == 2
    step = factories.steps(client, org, execution_id)[1]
    assert step["attempt"] == 2 and step["data_out"]["text"] == "Hi!"
    assert step["data_out"]["model"] == "claude-haiku-4-5"


def test_a_key_revoked_after_preflight_fails_the_step_with_reconnect(client, org, db, worker, httpserver):
    fake = FAKES["anthropic"](httpserver)
    fake.fail(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
              method="POST")

    execution_id = ask_workflow(client, org, fake)
    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "failed", state
    assert [a["action"] for a in state["recommended_actions"]] == ["reconnect_provider"]
    assert len(fake.generations()) == 1  # a refused key is not retried


def test_a_wrong_key_stops_the_run_at_preflight(client, org, db, worker, httpserver):
    # Given a stored Gemini key that Google no longer accepts
    fake = FAKES["google"](httpserver)

    execution_id = ask_workflow(client, org, fake, provider="google", key="AIza-rotated")
    state = factories.wait_for_status(client, org, execution_id, ("needs_review", "failed", "completed"))

    assert state["status"] == "needs_review", state
    assert [a["action"] for a in state["recommended_actions"]] == ["reconnect_provider"]
