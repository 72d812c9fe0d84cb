"""A logo stored with the template reaches the document through the real worker."""
import io

import docx
import pytest

from tests import docx_kit, factories

pytestmark = pytest.mark.e2e


def store_image(client, org, template_id, name, content):
    resp = client.simulate_put(f"/api/v1/templates/{template_id}/images/{name}", body=content,
                               headers={**org.headers, "Content-Type": "image/png"})
    assert resp.status_code in (200, 201), resp.text


def run_letter(client, org, template_id, trigger):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          factories.render_node(template_id, label="letter")])
    return factories.start(client, org, wf["id"], trigger)


def rendered_docx(client, org, execution_id):
    listed = client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers).json
    return client.simulate_get(listed["documents"][0]["download_url"], headers=org.headers).content


def test_a_stored_logo_is_placed_in_the_rendered_document(client, org, worker):
    # Given a template that places its stored `logo` 40 mm wide, and the logo uploaded with it
    logo = docx_kit.png(8, 4)
    template_id = factories.template(client, org, docx_kit.template(
        "{{ template_image('logo', width_mm=40) }}", "Client: {{ client_name }}"), name="letterhead.docx")
    store_image(client, org, template_id, "logo", logo)

    # When a run renders it in the worker
    execution_id = run_letter(client, org, template_id, {"client_name": "Acme & Filhos"})
    state = factories.wait_for_status(client, org, execution_id)

    # Then the .docx has one inline picture of the logo's exact bytes, sized as asked
    assert state["status"] == "completed", state
    document = docx.Document(io.BytesIO(rendered_docx(client, org, execution_id)))
    assert len(document.inline_shapes) == 1 and round(document.inline_shapes[0].width.mm) == 40
    assert docx_kit.inline_pictures(rendered_docx(client, org, execution_id)) == [logo]
    assert [p.text for p in document.paragraphs] == ["", "Client: Acme & Filhos"]


def test_a_missing_image_stops_the_run_at_preflight_and_uploading_it_resumes(client, org, worker):
    # Given a template that places `signature`, which was never stored
    template_id = factories.template(client, org, docx_kit.template(
        "Signed: {{ template_image('signature', height_mm=15) }}"), name="signed-letter.docx")
    execution_id = run_letter(client, org, template_id, {"client_name": "Acme"})

    # When the run starts, preflight holds it in review with a clear template.image_missing issue
    state = factories.wait_for_status(client, org, execution_id, ("needs_review", "failed", "completed"))
    assert state["status"] == "needs_review", state
    preflight = client.simulate_get(f"/api/v1/executions/{execution_id}/preflight", headers=org.headers).json
    issues = [i for group in preflight["preflight_summary"]["groups"].values() for i in group]
    assert [i["code"] for i in issues] == ["template.image_missing"]
    assert "signature" in issues[0]["message_human"] and "signed-letter.docx" in issues[0]["message_human"]
    assert {a["action"] for a in state["recommended_actions"]} == {"fix_template"}

    # Then storing the image and resuming completes the run with the picture in the document
    signature = docx_kit.png(6, 3)
    store_image(client, org, template_id, "signature", signature)
    resumed = client.simulate_post(f"/api/v1/executions/{execution_id}/resume", json={}, headers=org.headers)
    assert resumed.status_code == 200, resumed.text
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert docx_kit.inline_pictures(rendered_docx(client, org, execution_id)) == [signature]
