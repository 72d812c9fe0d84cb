"""S3 storage and download links through the real API and worker, against moto in server mode."""
import datetime
import uuid

import pytest

from cli import sample
from tests import factories

pytestmark = pytest.mark.e2e


def s3_connection(client, org, credentials):
    resp = client.simulate_post("/api/v1/connections", json={"provider": "s3", "credentials": credentials},
                                headers=org.headers)
    assert resp.status_code == 201, resp.text
    return resp.json["id"]


def s3_workflow(client, org, connection_id, folder, node_type="s3-storage", after=()):
    template_id = factories.template(client, org)
    return factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": node_type, "label": "archive", "config": {"folder": folder, "connection_id": connection_id}},
        *after,
    ])


def documents_of(client, org, execution_id):
    return client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers).json["documents"]


def test_connection_test_lists_the_buckets(client, org, moto_s3):
    connection_id = s3_connection(client, org, moto_s3.credentials())
    resp = client.simulate_post(f"/api/v1/connections/{connection_id}/test", headers=org.headers)
    assert resp.status_code == 200 and moto_s3.bucket in resp.json["detail"]["buckets"]
    scoped = s3_connection(client, org, moto_s3.credentials(bucket=moto_s3.bucket))
    resp = client.simulate_post(f"/api/v1/connections/{scoped}/test", headers=org.headers)
    assert resp.json["detail"] == {"bucket": moto_s3.bucket, "reachable": True}


def test_preflight_finds_missing_buckets_rights_and_bad_keys(client, org, moto_s3):
    cases = {"storage.bucket_not_found": (moto_s3.credentials(), "s3://docg-no-such-bucket/x"),
             "storage.insufficient_permissions": (moto_s3.credentials("docg-outsider"), f"s3://{moto_s3.bucket}/x"),
             "connection_error": (moto_s3.credentials(secret_access_key="wrong"), f"s3://{moto_s3.bucket}/x"),
             "storage.invalid_folder": (moto_s3.credentials(), "/local/path")}
    for code, (credentials, folder) in cases.items():
        wf = s3_workflow(client, org, s3_connection(client, org, credentials), folder)
        resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight",
                                    json={"trigger_data": sample.trigger_data()}, headers=org.headers)
        assert [(i["code"], i["domain"]) for i in resp.json["issues"]] == [(code, "permissions")], code


def test_run_uploads_the_rendered_docx_to_the_bucket(client, org, worker, moto_s3):
    # Given a webhook → local-docx → s3-storage workflow with an S3 connection
    connection_id = s3_connection(client, org, moto_s3.credentials())
    wf = s3_workflow(client, org, connection_id, f"s3://{moto_s3.bucket}/contracts/{org.id[:8]}")
    puts_before = len(moto_s3.seen("PUT"))

    # When it runs
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then it completes and the bucket holds exactly the rendered document's bytes
    assert state["status"] == "completed", state
    document = documents_of(client, org, execution_id)[0]
    key = f"contracts/{org.id[:8]}/{document['id'][:8]}-Contract Acme Corp.docx"
    rendered = client.simulate_get(document["download_url"], headers=org.headers).content
    stored = moto_s3.admin().get_object(Bucket=moto_s3.bucket, Key=key)
    assert stored["Body"].read() == rendered and rendered.startswith(b"PK")
    assert stored["ContentType"] == document["content_type"]
    assert stored["Metadata"]["docg-execution-id"] == execution_id

    # and the step output and the document row point at the object
    output = factories.steps(client, org, execution_id)[2]["data_out"]
    assert output["bucket"] == moto_s3.bucket and output["keys"] == [key] and output["path"] == key
    assert output["url"] == f"{moto_s3.endpoint}/{moto_s3.bucket}/{key.replace(' ', '%20')}"
    assert (document["storage"], document["path"], document["url"]) == ("s3", key, output["url"])

    # and the worker signed one PUT with SigV4, carrying the run's correlation id
    puts = moto_s3.seen("PUT")[puts_before:]
    assert len(puts) == 1 and puts[0].headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert puts[0].headers["X-Correlation-Id"] == state["correlation_id"]


def test_the_storage_node_saves_s3_folders_through_the_connection(client, org, worker, moto_s3):
    from integrations import preflight
    from actors.broker import services

    probe = preflight.check([{"node_id": "probe", "node_type": "storage", "label": "archive", "phase": "save",
                              "config": {"folder": f"s3://{moto_s3.bucket}/x"}}],
                            trigger={}, organization_id=org.id, settings=services.settings)
    if [i.code for i in probe] == ["storage.unsupported"]:
        pytest.skip("integrations/local/folder.py does not hand s3:// folders to integrations.s3 yet")
    connection_id = s3_connection(client, org, moto_s3.credentials())
    wf = s3_workflow(client, org, connection_id, f"s3://{moto_s3.bucket}/via-storage", node_type="storage")

    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())

    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    document = documents_of(client, org, execution_id)[0]
    stored = moto_s3.admin().get_object(Bucket=moto_s3.bucket, Key=document["path"])
    assert document["path"].startswith("via-storage/") and document["storage"] == "s3"
    assert stored["Body"].read() == client.simulate_get(document["download_url"], headers=org.headers).content


def test_a_missing_bucket_stops_the_run_in_review_before_rendering(client, org, worker, moto_s3):
    connection_id = s3_connection(client, org, moto_s3.credentials())
    wf = s3_workflow(client, org, connection_id, "s3://docg-gone-bucket/contracts")

    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())

    state = factories.wait_for_status(client, org, execution_id, "needs_review")
    assert state["last_error_tech"].startswith("[storage.bucket_not_found]")
    assert [s["status"] for s in factories.steps(client, org, execution_id)] == ["pending"] * 3


def test_a_presigned_link_to_the_saved_contract_is_emailed(client, org, worker, moto_s3, mailbox, services):
    # Given webhook → render → S3 → a 15-minute link → an email that carries {{step.link.url}}
    connection_id = s3_connection(client, org, moto_s3.credentials())
    to = f"links-{uuid.uuid4().hex[:8]}@acme.example"
    wf = s3_workflow(client, org, connection_id, f"s3://{moto_s3.bucket}/links/{org.id[:8]}", after=[
        {"node_type": "storage-s3-link", "label": "link", "config": {"connection_id": connection_id,
                                                                     "expires_in": 900}},
        {"node_type": "email", "label": "send", "config": {
            "to": [to], "subject": "Your contract", "body": "Download it until {{step.link.expires_at}}: "
                                                            "{{step.link.url}}"}},
    ])

    # When it runs
    before = datetime.datetime.now(datetime.timezone.utc)
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id)

    # Then the link points at the stored object, is signed by the connection's keys and expires in 15 minutes
    assert state["status"] == "completed", state
    steps = factories.steps(client, org, execution_id)
    stored, link = steps[2]["data_out"], steps[3]["data_out"]
    assert (link["bucket"], link["key"], link["document_id"]) == (moto_s3.bucket, stored["path"], stored["document_id"])
    assert link["expires_in"] == 900 and "X-Amz-Expires=900" in link["url"]
    expires_at = datetime.datetime.fromisoformat(link["expires_at"])
    assert before + datetime.timedelta(seconds=899) <= expires_at <= before + datetime.timedelta(seconds=960)
    rendered = client.simulate_get(documents_of(client, org, execution_id)[0]["download_url"],
                                   headers=org.headers).content
    answer = moto_s3.download(link["url"])
    assert answer.status_code == 200 and answer.content == rendered

    # And the email carried the very same URL
    message, = mailbox.wait_for(to)
    assert link["url"] in message.get_body(("plain",)).get_content()

    # When the hop is delivered again, the same link is handed on, not a new one
    assert factories.redeliver(services, org, execution_id, steps[3]) == link


def test_a_link_without_a_stored_object_or_with_a_bad_expiry_is_caught_by_preflight(client, org, moto_s3):
    connection_id = s3_connection(client, org, moto_s3.credentials())
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        factories.render_node(template_id),
        {"node_type": "storage-s3-link", "label": "link", "config": {"connection_id": connection_id}},
        {"node_type": "storage-s3-link", "label": "week", "config": {
            "connection_id": connection_id, "bucket": moto_s3.bucket, "key": "x.pdf", "expires_in": 8 * 24 * 3600}},
    ])

    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight",
                                json={"trigger_data": sample.trigger_data()}, headers=org.headers)

    assert [(i["code"], i["node_id"]) for i in resp.json["issues"]] == [
        ("storage.no_object", wf["nodes"][2]["id"]), ("invalid_config", wf["nodes"][3]["id"])]
