"""The HubSpot client, trigger checks, writes and dynamic data against a local HubSpot."""
import dataclasses
import datetime
import json

import pytest

from integrations import preflight
from integrations.connections import ProviderSession, handle_for
from integrations.errors import AuthExpired, PermissionDenied, RateLimited
from integrations.http import IDEMPOTENT
from integrations.hubspot.client import HubSpotClient, ObjectNotFound
from storage import connections
from storage.models import Connection
from tests.integrations.hubspot.fake_hubspot import CLIENT_ID, CLIENT_SECRET, WRITE_SCOPES, FakeHubSpot


def in_minutes(minutes):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def fake(httpserver):
    hubspot = FakeHubSpot(httpserver)
    hubspot.add("deals", "1042", {"dealname": "Acme rollout", "amount": "12500", "dealstage": "closedwon",
                                  "closedate": None}, {"contacts": ["201"], "companies": ["301"]})
    return hubspot


@pytest.fixture
def settings(services):
    return dataclasses.replace(services.settings, hubspot_client_id=CLIENT_ID, hubspot_client_secret=CLIENT_SECRET)


def connect(org, fake, *, expires_in_minutes=30, scopes=None, **token_options):
    access, refresh = fake.grant(**({"scopes": scopes} if scopes else {}), **token_options)
    return connections.create(org.id, provider="hubspot", auth_type="oauth2", credentials={
        "access_token": access, "refresh_token": refresh, "expires_at": in_minutes(expires_in_minutes),
        "base_url": fake.base_url, "token_url": fake.token_url})


def hubspot(row, org, settings, **session_options):
    handle = handle_for(row.id, org.id, settings)
    return HubSpotClient(ProviderSession(handle, correlation_id="corr-1", timeout=5, **session_options))


def test_a_deal_is_read_with_its_properties_and_associations(org, fake, settings):
    row = connect(org, fake)
    deal = hubspot(row, org, settings).get_object("deal", "1042", properties=["dealname", "amount", "closedate"],
                                                  associations=["contacts", "companies"])

    assert deal.object_type == "deals" and deal.id == "1042" and deal.created_at.startswith("2024-05-02")
    assert deal.properties["dealname"] == "Acme rollout" and deal.properties["closedate"] == ""
    assert deal.associations == {"contacts": ["201"], "companies": ["301"]}
    seen = fake.calls("/crm/v3/objects/deals/1042")[-1]
    assert seen.headers["Authorization"] == f"Bearer {row.credentials['access_token']}"
    assert seen.headers["X-Correlation-ID"] == "corr-1"
    assert seen.args == {"properties": "dealname,amount,closedate", "associations": "contacts,companies",
                         "archived": "false"}


def test_errors_map_to_codes_a_person_can_act_on(org, fake, settings):
    client = hubspot(connect(org, fake, scopes=["oauth", "crm.objects.deals.read"]), org, settings, retries=0)

    with pytest.raises(ObjectNotFound) as missing:
        client.get_object("deals", "999")
    assert missing.value.code == "hubspot.object_not_found" and "OBJECT_NOT_FOUND" in missing.value.message_tech

    with pytest.raises(PermissionDenied) as denied:
        client.get_object("contacts", "201")
    assert "crm.objects.contacts.read" in denied.value.message_human

    fake.limit(1, retry_after="7")
    with pytest.raises(RateLimited) as limited:
        client.get_object("deals", "1042")
    assert limited.value.retryable and limited.value.retry_after == 7.0

    fake.limit(1, policy="DAILY", retry_after=None)
    with pytest.raises(RateLimited) as daily:
        client.get_object("deals", "1042")
    assert not daily.value.retryable and "daily" in daily.value.message_human


def test_a_secondly_limit_is_waited_out_with_retry_after(org, fake, settings):
    client = hubspot(connect(org, fake), org, settings)
    fake.limit(1, retry_after="1")

    assert client.get_object("deals", "1042").properties == {
        "hs_object_id": "1042", "createdate": "2024-05-02T13:15:00.000Z", "hs_lastmodifieddate":
        "2024-05-02T13:15:00.000Z"}
    assert len(fake.calls("/crm/v3/objects/deals/1042")) == 2


def test_a_rejected_token_is_refreshed_once_and_persisted(org, fake, settings):
    # Given a token HubSpot already considers expired, although our clock does not
    row = connect(org, fake, expired=True)
    old = row.credentials["access_token"]

    deal = hubspot(row, org, settings).get_object("deals", "1042")

    # Then the 401 led to one refresh and the retried call used the new token
    assert deal.id == "1042"
    refresh = fake.calls("/oauth/v1/token")
    assert len(refresh) == 1 and refresh[0].form["grant_type"] == "refresh_token"
    assert refresh[0].form["refresh_token"] == row.credentials["refresh_token"]
    stored = Connection.get_by_id(row.id).credentials
    assert stored["access_token"] != old
    assert fake.calls("/crm/v3/objects")[-1].headers["Authorization"] == f"Bearer {stored['access_token']}"


def test_a_record_is_updated_with_patch(org, fake, settings):
    row = connect(org, fake, scopes=WRITE_SCOPES)

    deal = hubspot(row, org, settings).update_object("deal", "1042", {"dealstage": "contractsent", "amount": "13000"})

    assert deal.id == "1042" and deal.properties["dealstage"] == "contractsent"
    assert fake.records["deals"]["1042"]["amount"] == "13000"
    seen, = fake.calls("/crm/v3/objects/deals/1042")
    assert seen.method == "PATCH" and seen.json() == {"properties": {"dealstage": "contractsent", "amount": "13000"}}
    assert seen.headers["Authorization"] == f"Bearer {row.credentials['access_token']}"
    assert seen.headers["X-Correlation-ID"] == "corr-1" and seen.headers["Content-Type"] == "application/json"


def test_a_file_is_uploaded_private_and_attached_to_a_note(org, fake, settings):
    client = hubspot(connect(org, fake, scopes=WRITE_SCOPES), org, settings)

    uploaded = client.upload_file(name="Contract Acme.pdf", content=b"%PDF-1.4 acme", content_type="application/pdf",
                                  folder_path="/DocG")
    note_id = client.create_note("deals", "1042", body="Contract generated.", timestamp="2024-05-02T13:15:00.000Z",
                                 attachment_ids=[uploaded.id])

    upload, = fake.calls("/files/v3/files")
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert upload.files == {"file": ("Contract Acme.pdf", "application/pdf", b"%PDF-1.4 acme")}
    assert upload.form["fileName"] == "Contract Acme.pdf" and upload.form["folderPath"] == "/DocG"
    assert json.loads(upload.form["options"]) == {"access": "PRIVATE", "overwrite": False}
    assert fake.files[uploaded.id]["access"] == "PRIVATE" and uploaded.path == "/DocG/Contract Acme.pdf"
    note, = fake.calls("/crm/v3/objects/notes")
    assert note.json() == {
        "properties": {"hs_timestamp": "2024-05-02T13:15:00.000Z", "hs_note_body": "Contract generated.",
                       "hs_attachment_ids": uploaded.id},
        "associations": [{"to": {"id": "1042"},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}]}
    assert fake.notes[note_id]["associations"] == [("deals", "1042")]
    assert {seen.headers["X-Correlation-ID"] for seen in (upload, note)} == {"corr-1"}


def test_write_errors_map_to_codes_a_person_can_act_on(org, fake, settings):
    reader = hubspot(connect(org, fake), org, settings, retries=0)
    with pytest.raises(PermissionDenied) as denied:
        reader.update_object("deals", "1042", {"dealstage": "contractsent"})
    assert denied.value.code == "permission_denied" and "crm.objects.deals.write" in denied.value.message_human
    with pytest.raises(PermissionDenied) as no_files:
        reader.upload_file(name="a.pdf", content=b"%PDF", content_type="application/pdf", folder_path="/DocG")
    assert "files" in no_files.value.message_human

    writer = hubspot(connect(org, fake, scopes=WRITE_SCOPES), org, settings, retries=0)
    with pytest.raises(ObjectNotFound) as missing:
        writer.update_object("deals", "999", {"dealstage": "contractsent"})
    assert missing.value.code == "hubspot.object_not_found"
    fake.limit(1, retry_after="7")
    with pytest.raises(RateLimited) as limited:
        writer.create_note("deals", "1042", body="x", timestamp="2024-05-02T13:15:00.000Z")
    assert limited.value.code == "rate_limit" and limited.value.retry_after == 7.0

    row = connect(org, fake, scopes=WRITE_SCOPES, expired=True)
    fake.refresh_tokens[row.credentials["refresh_token"]]["revoked"] = True
    with pytest.raises(AuthExpired) as expired:
        hubspot(row, org, settings, retries=0).update_object("deals", "1042", {"dealstage": "x"})
    assert expired.value.code == "oauth_expired"


def test_a_patch_is_retried_after_a_rate_limit_but_a_note_is_not(org, fake, settings):
    # Given the session the update action uses: PATCH joins the retried methods
    client = hubspot(connect(org, fake, scopes=WRITE_SCOPES), org, settings, retry_methods=IDEMPOTENT | {"PATCH"})

    fake.limit(1, retry_after="1")
    assert client.update_object("deals", "1042", {"dealstage": "contractsent"}).id == "1042"
    assert [seen.method for seen in fake.calls("/crm/v3/objects/deals/1042")] == ["PATCH", "PATCH"]

    fake.limit(1, retry_after="1")
    with pytest.raises(RateLimited):
        client.create_note("deals", "1042", body="x", timestamp="2024-05-02T13:15:00.000Z")
    assert len(fake.calls("/crm/v3/objects/notes")) == 1 and not fake.notes


def revoked_grant(org, fake, settings):
    row = connect(org, fake, expires_in_minutes=-5)
    fake.refresh_tokens[row.credentials["refresh_token"]]["revoked"] = True
    with pytest.raises(AuthExpired) as expired:
        hubspot(row, org, settings).get_object("deals", "1042")
    return row, expired.value


def test_a_revoked_refresh_token_asks_for_a_reconnection(org, fake, settings):
    row, error = revoked_grant(org, fake, settings)
    assert error.code == "oauth_expired" and "BAD_REFRESH_TOKEN" in error.message_tech
    assert not fake.calls("/crm/v3/objects")


def test_a_revoked_refresh_token_marks_the_connection(org, fake, settings):
    row, _ = revoked_grant(org, fake, settings)
    assert Connection.get_by_id(row.id).status == "revoked"


def node(config, node_id="n1"):
    return {"node_id": node_id, "node_type": "hubspot", "label": "deal", "phase": "trigger", "config": config}


def check(org, settings, config, trigger=None):
    return preflight.check([node(config)], trigger=trigger or {}, organization_id=org.id, settings=settings)


def test_preflight_looks_the_record_up_and_waits_for_variables(org, fake, settings):
    row = connect(org, fake)
    config = {"connection_id": str(row.id), "object_type": "deals"}

    assert check(org, settings, {**config, "object_id": "{{trigger.deal_id}}"}, {"deal_id": "1042"}) == []
    missing, = check(org, settings, {**config, "object_id": "{{trigger.deal_id}}"}, {"deal_id": "999"})
    assert (missing.code, missing.domain, missing.severity) == ("hubspot.object_not_found", "data", "blocking")
    assert "999" in missing.message_human
    assert [i.code for i in check(org, settings, {**config, "object_type": "tickets", "object_id": "1"})] == [
        "invalid_config"]
    assert [i.code for i in check(org, settings, {**config, "object_id": ""})] == ["missing_required_field"]

    fake.limit(1)
    busy, = check(org, settings, {**config, "object_id": "1042"})
    assert (busy.code, busy.severity) == ("rate_limit", "warning")


def test_preflight_refuses_a_connection_of_another_provider(org, settings):
    other = connections.create(org.id, provider="zapsign", auth_type="api_key", credentials={"api_token": "t"})
    issue, = check(org, settings, {"connection_id": str(other.id), "object_id": "1"})
    assert (issue.code, issue.domain) == ("connection_error", "permissions")


def test_dynamic_data_lists_properties_pipelines_and_records(client, org, fake):
    row = connect(org, fake)
    for number in range(1, 121):
        fake.add("deals", f"2{number:03d}", {"dealname": f"Deal {number}"})

    def options(name, **params):
        resp = client.simulate_get(f"/api/v1/apps/hubspot/dynamic/{name}", headers=org.headers,
                                   params={"connection_id": str(row.id), **params})
        assert resp.status_code == 200, resp.text
        return resp.json["options"]

    assert [o["value"] for o in options("properties", object_type="deal")] == ["dealname", "amount", "dealstage"]
    pipelines = options("pipelines")
    assert [(p["value"], p["label"]) for p in pipelines] == [("default", "Sales Pipeline"), ("78910", "Renewals")]
    assert [s["value"] for s in pipelines[0]["stages"]] == ["appointmentscheduled", "closedwon"]

    # Records come in pages of at most 100; the client follows `paging.next.after`
    deals = options("objects", limit="4")
    assert [d["label"] for d in deals] == ["Acme rollout", "Deal 1", "Deal 2", "Deal 3"]
    fake.requests.clear()
    assert len(options("objects", limit="150")) == 121
    pages = fake.calls("/crm/v3/objects/deals")
    assert [(seen.args["limit"], seen.args.get("after")) for seen in pages] == [("100", None), ("50", "100")]


def test_testing_a_connection_shows_the_portal(client, org, fake):
    row = connect(org, fake)
    resp = client.simulate_post(f"/api/v1/connections/{row.id}/test", headers=org.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json["detail"]["hub_domain"] == "acme.hubspot.com" and resp.json["detail"]["hub_id"] == 62515
