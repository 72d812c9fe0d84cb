"""HubSpot runs end to end: real worker, local HubSpot, local-docx, and the write-back actions."""
import datetime
import io

import docx
import pytest

from storage import connections, documents
from storage.models import Connection
from tests import factories
from tests.integrations.hubspot.fake_hubspot import CLIENT_ID, CLIENT_SECRET, READ_SCOPES, WRITE_SCOPES, FakeHubSpot
from tests.support import start_worker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def worker(services, mailbox, logs_dir):
    """A real `dramatiq actors` process whose settings hold the HubSpot app's OAuth client."""
    process = start_worker(logs_dir, env={"HUBSPOT_CLIENT_ID": CLIENT_ID, "HUBSPOT_CLIENT_SECRET": CLIENT_SECRET})
    yield process
    process.stop()


@pytest.fixture
def fake(httpserver):
    hubspot = FakeHubSpot(httpserver)
    hubspot.add("deals", "1042", {"dealname": "Acme rollout", "amount": "12500", "deal_currency_code": "USD",
                                  "dealstage": "closedwon", "closedate": None},
                {"contacts": ["201", "202"], "companies": ["301"]})
    return hubspot


def deal_template():
    document = docx.Document()
    document.add_paragraph("Deal: {{ step.deal.dealname }}")
    document.add_paragraph("Amount: {{ step.deal.amount }} {{ step.deal.deal_currency_code }}")
    document.add_paragraph("Stage: {{ step.deal.properties.dealstage }}, closes {{ step.deal.closedate }}.")
    document.add_paragraph("Contacts: {{ step.deal.associations.contacts | join(', ') }}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def connect(org, fake, *, expires_in_minutes=30, scopes=READ_SCOPES):
    access, refresh = fake.grant(scopes)
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=expires_in_minutes)
    return connections.create(org.id, provider="hubspot", auth_type="oauth2", credentials={
        "access_token": access, "refresh_token": refresh, "expires_at": expires.isoformat(),
        "base_url": fake.base_url, "token_url": fake.token_url})


def start_deal_run(client, org, row, *after):
    """Start trigger → render (→ the nodes `after`) for deal 1042; return the execution id."""
    template_id = factories.template(client, org, deal_template(), name="deal.docx")
    wf = factories.workflow(client, org, [
        {"node_type": "hubspot", "label": "deal",
         "config": {"connection_id": str(row.id), "object_type": "deal", "object_id": "{{trigger.deal_id}}"}},
        {"node_type": "local-docx", "label": "contract",
         "config": {"template_id": template_id, "output_name": "Contract {{step.deal.dealname}}"}},
        *after,
    ])
    return factories.start(client, org, wf["id"], {"deal_id": "1042"})


def rendered_text(execution_id):
    document, = documents.for_execution(execution_id)
    return document.name, [p.text for p in docx.Document(io.BytesIO(bytes(document.content))).paragraphs]


def test_a_deal_becomes_a_document(client, org, db, worker, fake):
    row = connect(org, fake)

    execution_id = start_deal_run(client, org, row)
    state = factories.wait_for_status(client, org, execution_id)

    assert state["status"] == "completed", state
    name, text = rendered_text(execution_id)
    assert name == "Contract Acme rollout.docx"
    assert text == ["Deal: Acme rollout", "Amount: 12500 USD", "Stage: closedwon, closes .", "Contacts: 201, 202"]
    # Preflight looked the deal up cheaply; the trigger read it with its properties and associations
    preflight_call, run_call = fake.calls("/crm/v3/objects/deals/1042")
    assert preflight_call.args["properties"] == "hs_object_id"
    assert run_call.args["associations"] == "contacts,companies" and "dealname" in run_call.args["properties"]
    assert run_call.headers["Authorization"] == f"Bearer {row.credentials['access_token']}"
    assert run_call.headers["X-Correlation-ID"] == state["correlation_id"]
    deal = factories.steps(client, org, execution_id)[0]["data_out"]
    assert deal["id"] == "1042" and deal["object_type"] == "deals" and deal["properties"]["amount"] == "12500"


def test_an_expired_token_is_refreshed_and_the_run_goes_on(client, org, db, worker, fake):
    # Given a connection whose access token expired five minutes ago
    row = connect(org, fake, expires_in_minutes=-5)
    old_token, refresh_token = row.credentials["access_token"], row.credentials["refresh_token"]

    # When a run needs it
    execution_id = start_deal_run(client, org, row)
    state = factories.wait_for_status(client, org, execution_id)

    # Then the token endpoint was asked once, as HubSpot documents it
    assert state["status"] == "completed", state
    refresh, = fake.calls("/oauth/v1/token")
    assert refresh.method == "POST" and refresh.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert refresh.form == {"grant_type": "refresh_token", "refresh_token": refresh_token,
                            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    # And every CRM call used the new token, which is stored encrypted with its new expiry
    stored = Connection.get_by_id(row.id)
    new_token = stored.credentials["access_token"]
    assert new_token != old_token and stored.credentials["refresh_token"] == refresh_token
    assert {seen.headers["Authorization"] for seen in fake.calls("/crm/")} == {f"Bearer {new_token}"}
    assert stored.token_expires_at > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=25)
    raw, = db.execute_sql("SELECT credentials FROM data_source_connections WHERE id = %s", (row.id,)).fetchone()
    assert new_token not in raw and refresh_token not in raw


def needs_reconnection(client, org, execution_id):
    state = factories.wait_for_status(client, org, execution_id, ("needs_review", "completed", "failed"))
    assert state["status"] == "needs_review", state
    assert [a["action"] for a in state["recommended_actions"]] == ["reconnect_provider"]
    return state


def test_a_revoked_connection_stops_the_run_in_review(client, org, db, worker, fake):
    row = connect(org, fake)
    connections.mark(row.id, "revoked")

    needs_reconnection(client, org, start_deal_run(client, org, row))
    assert not fake.requests


def test_a_refused_refresh_stops_the_run_in_review(client, org, db, worker, fake):
    # Given the user uninstalled the app: HubSpot refuses the refresh token
    row = connect(org, fake, expires_in_minutes=-5)
    fake.refresh_tokens[row.credentials["refresh_token"]]["revoked"] = True

    needs_reconnection(client, org, start_deal_run(client, org, row))
    assert [seen.path for seen in fake.requests] == ["/oauth/v1/token"]


def archive_node():
    return {"node_type": "storage", "label": "archive", "config": {"folder": "hubspot-deals"}}


def test_the_run_writes_its_result_back_to_the_deal(client, org, db, worker, fake):
    # Given a deal workflow that ends by updating the deal
    row = connect(org, fake, scopes=WRITE_SCOPES)
    update = {"node_type": "hubspot-update-record", "label": "writeback", "config": {
        "connection_id": str(row.id), "object_type": "deals", "object_id": "{{step.deal.id}}",
        "properties": {"dealstage": "contractsent", "description": "{{step.contract.name}} is ready"}}}

    # When it runs
    execution_id = start_deal_run(client, org, row, archive_node(), update)
    state = factories.wait_for_status(client, org, execution_id)

    # Then HubSpot got one PATCH with the resolved values, as the run
    assert state["status"] == "completed", state
    patch, = [seen for seen in fake.calls("/crm/v3/objects/deals/1042") if seen.method == "PATCH"]
    assert patch.json() == {"properties": {"dealstage": "contractsent",
                                           "description": "Contract Acme rollout.docx is ready"}}
    assert patch.headers["X-Correlation-ID"] == state["correlation_id"]
    assert fake.records["deals"]["1042"]["dealstage"] == "contractsent"
    output = factories.steps(client, org, execution_id)[3]["data_out"]
    assert output["id"] == "1042" and output["properties"]["dealstage"] == "contractsent"



def test_the_document_is_attached_to_the_deal_once(client, org, db, worker, fake, services):
    # Given a deal workflow that attaches its contract to the deal
    row = connect(org, fake, scopes=WRITE_SCOPES)
    attach = {"node_type": "hubspot-attach-document", "label": "attach", "config": {
        "connection_id": str(row.id), "object_type": "deal", "object_id": "{{trigger.deal_id}}",
        "note": "Contract for {{step.deal.dealname}}"}}

    # When it runs
    execution_id = start_deal_run(client, org, row, archive_node(), attach)
    state = factories.wait_for_status(client, org, execution_id)

    # Then the contract went to the file manager as a private file, with the run's bytes
    assert state["status"] == "completed", state
    document, = documents.for_execution(execution_id)
    (file_id, stored), = fake.files.items()
    assert stored["content"] == bytes(document.content) and stored["access"] == "PRIVATE"
    assert stored["path"] == "/DocG/Contract Acme rollout.docx"
    # And a note carrying it was logged on the deal (note → deal is association type 214)
    (note_id, note), = fake.notes.items()
    assert note["properties"]["hs_attachment_ids"] == file_id
    assert note["properties"]["hs_note_body"] == "Contract for Acme rollout" and note["associations"] == [
        ("deals", "1042")]
    creating = fake.calls("/files/") + fake.calls("/crm/v3/objects/notes")
    assert {seen.headers["X-Correlation-ID"] for seen in creating} == {state["correlation_id"]}
    step = factories.steps(client, org, execution_id)[3]
    assert step["data_out"] == {"note_id": note_id, "file_id": file_id, "file_url": stored["url"],
                                "document_id": str(document.id), "name": "Contract Acme rollout.docx",
                                "object_type": "deals", "object_id": "1042"}

    # When the hop is delivered again, the ledger keeps HubSpot from a second file or note
    assert factories.redeliver(services, org, execution_id, step) == step["data_out"]
    assert len(fake.files) == 1 and len(fake.notes) == 1 and len(creating) == 2
    assert len(fake.calls("/files/") + fake.calls("/crm/v3/objects/notes")) == 2


def test_a_connection_without_write_access_fails_the_update(client, org, db, worker, fake):
    row = connect(org, fake)  # read scopes only: made before DocG asked for write access
    update = {"node_type": "hubspot-update-record", "label": "writeback", "config": {
        "connection_id": str(row.id), "object_id": "{{trigger.deal_id}}", "properties": {"dealstage": "closedwon"}}}

    state = factories.wait_for_status(client, org, start_deal_run(client, org, row, update))

    assert state["status"] == "failed", state
    assert "[permission_denied]" in state["last_error_tech"] and "crm.objects.deals.write" in state["last_error_human"]
    assert fake.records["deals"]["1042"]["dealstage"] == "closedwon"
