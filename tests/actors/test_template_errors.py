"""Template problems are permanent and clear: the run waits in needs_review, a fixed template resumes it."""
import io

import docx
import pytest

from tests import factories

pytestmark = pytest.mark.e2e

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def template_with(*paragraphs):
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def post(client, org, path, body=None):
    return client.simulate_post(f"/api/v1{path}", json=body if body is not None else {}, headers=org.headers)


def run_with(client, org, template_id, trigger):
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"},
                                          factories.render_node(template_id)])
    return factories.start(client, org, wf["id"], trigger)


@pytest.mark.parametrize("tag, code", [
    ("{{ client_name + payment_days }}", "template.render_error"),
    ("{{ step.deal.nothing.here }}", "template.unmapped_tags"),
])
def test_a_template_error_holds_the_run_at_once_and_a_fixed_template_resumes_it(client, org, worker, tag, code):
    # Given a template whose tag fails with this data (preflight cannot tell)
    template_id = factories.template(client, org, template_with("Client: {{ client_name }}", f"Bad: {tag}"),
                                     name="broken.docx")
    execution_id = run_with(client, org, template_id, {"client_name": "Acme", "payment_days": 30})

    # When the render step runs, the run goes to needs_review on the first attempt, with the code and the names
    state = factories.wait_for_status(client, org, execution_id, ("needs_review", "failed", "completed"))
    assert state["status"] == "needs_review"
    render = next(s for s in factories.steps(client, org, execution_id) if s["label"] == "contract")
    assert render["status"] == "failure" and render["attempt"] == 1 and render["error_code"] == code
    assert "broken.docx" in render["error_human"] and "broken.docx" in state["last_error_human"]
    assert f"[{code}]" in state["last_error_tech"]
    assert state["recommended_actions"] and state["recommended_actions"][0]["params"]["issue_code"] == code
    if code == "template.render_error":
        assert "TypeError" in render["error_human"] and tag in render["error_human"]
    else:
        assert "nothing" in render["error_human"]

    # Then a new template version (PUT /templates/{id}) and a resume complete the run
    fixed = client.simulate_put(f"/api/v1/templates/{template_id}?name=broken.docx", headers={
        **org.headers, "Content-Type": DOCX}, body=template_with("Client: {{ client_name }}", "Days: {{ payment_days }}"))
    assert fixed.status_code == 200 and fixed.json["version"] == 2
    resumed = post(client, org, f"/executions/{execution_id}/resume")
    assert resumed.status_code == 200, resumed.text
    done = factories.wait_for_status(client, org, execution_id)
    assert done["status"] == "completed", done
    render = next(s for s in factories.steps(client, org, execution_id) if s["label"] == "contract")
    assert render["status"] == "success" and render["data_out"]["template_version"] == 2
    listed = client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers).json
    content = client.simulate_get(listed["documents"][0]["download_url"], headers=org.headers).content
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)
    assert "Client: Acme" in text and "Days: 30" in text


def test_a_stored_template_that_is_not_a_docx_never_leaves_a_run_queued(client, org, worker):
    # Given a template row whose bytes are not a .docx (stored before uploads were checked)
    from storage.models import Template

    template_id = factories.template(client, org, name="notes.docx")
    Template.update(content=b"just some text, not a zip").where(Template.id == template_id).execute()

    execution_id = run_with(client, org, template_id, {"client_name": "Acme"})

    state = factories.wait_for_status(client, org, execution_id, ("needs_review", "failed", "completed"))
    assert state["status"] == "needs_review"
    assert "[template.invalid]" in state["last_error_tech"] and "notes.docx" in state["last_error_human"]
    assert state["recommended_actions"][0]["action"] == "fix_template"
