"""Real PDFs end to end: the worker renders, LibreOffice converts, the run stores the PDF."""
import io

import docx
import pypdf
import pytest

from cli import sample
from integrations.local import pdf
from tests import factories

pytestmark = pytest.mark.e2e
needs_soffice = pytest.mark.skipif(pdf.soffice() is None,
                                   reason="LibreOffice (soffice) is not installed: run `make office`")


def documents_of(client, org, execution_id):
    resp = client.simulate_get(f"/api/v1/executions/{execution_id}/documents", headers=org.headers)
    assert resp.status_code == 200, resp.text
    return resp.json["documents"]


def download(client, org, document):
    resp = client.simulate_get(document["download_url"], headers=org.headers)
    assert resp.status_code == 200
    return resp.content


def pdf_text(content):
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def render_run(client, org, config):
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [{"node_type": "webhook", "label": "deal"}, {
        "node_type": "local-docx", "label": "contract",
        "config": {"template_id": template_id, "output_name": "Contract {{trigger.client_name}}", **config}}])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    state = factories.wait_for_status(client, org, execution_id, timeout=180)
    assert state["status"] == "completed", state
    return execution_id


@needs_soffice
def test_pdf_true_yields_a_pdf_with_the_data(client, org, worker):
    execution_id = render_run(client, org, {"pdf": True})

    document, = documents_of(client, org, execution_id)
    assert document["content_type"] == "application/pdf" and document["name"] == "Contract Acme Corp.pdf"
    assert document["kind"] == "generated"
    text = pdf_text(download(client, org, document))
    assert "Acme Corp" in text and "ana@acme.example" in text and "D-1042" in text


@needs_soffice
def test_formats_docx_and_pdf_keep_both(client, org, worker):
    execution_id = render_run(client, org, {"formats": ["docx", "pdf"]})

    by_type = {d["content_type"]: d for d in documents_of(client, org, execution_id)}
    assert set(by_type) == {"application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    assert "Acme Corp" in pdf_text(download(client, org, by_type["application/pdf"]))
    kept = docx.Document(io.BytesIO(download(client, org, by_type[next(t for t in by_type if "word" in t)])))
    assert any("Acme Corp" in p.text for p in kept.paragraphs)
    render = next(s for s in factories.steps(client, org, execution_id) if s["label"] == "contract")
    assert render["data_out"]["content_type"] == "application/pdf" and len(render["data_out"]["documents"]) == 2


def test_preflight_says_when_libreoffice_is_missing(client, org, monkeypatch, tmp_path):
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [factories.render_node(template_id) | {
        "config": {"template_id": template_id, "pdf": True}}])
    monkeypatch.setenv("PATH", str(tmp_path))
    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", headers=org.headers,
                                json={"trigger_data": sample.trigger_data()})
    issue = next(i for i in resp.json["issues"] if i["code"] == "render.pdf_unavailable")
    assert issue["severity"] == "blocking" and "LibreOffice" in issue["message_human"]


def test_bad_formats_are_a_clear_preflight_issue(client, org):
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [factories.render_node(template_id) | {
        "config": {"template_id": template_id, "formats": ["docx", "exe"]}}])
    resp = client.simulate_post(f"/api/v1/workflows/{wf['id']}/preflight", headers=org.headers,
                                json={"trigger_data": sample.trigger_data()})
    assert any(i["code"] == "render.invalid_formats" for i in resp.json["issues"])


@needs_soffice
def test_a_signature_step_sends_the_pdf_when_the_render_kept_both(client, org, worker, web_server):
    from storage.models import SandboxEnvelope

    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "local-docx", "label": "contract", "config": {"template_id": template_id,
                                                                     "formats": ["docx", "pdf"]}},
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "Ana", "email": f"ana+{org.id[:8]}@acme.example"}]}}])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing", timeout=180)

    sent = factories.steps(client, org, execution_id)[1]["data_out"]
    pdf_doc = next(d for d in documents_of(client, org, execution_id) if d["content_type"] == "application/pdf")
    assert sent["document_id"] == pdf_doc["id"]
    envelope = SandboxEnvelope.get(SandboxEnvelope.id == sent["envelope_id"])
    assert envelope.content_type == "application/pdf" and bytes(envelope.document).startswith(b"%PDF")
