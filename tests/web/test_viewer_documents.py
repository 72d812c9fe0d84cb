"""The run viewer lists every document of a run with its kind, each downloadable from the page."""
import pytest
import requests

from cli import sample
from tests import factories
from tests.browser import chromium
from tests.web.test_viewer import viewer_url

pytestmark = pytest.mark.e2e

DOCUMENTS = """
return [...document.querySelectorAll('#documents li')].map((li) => ({
  kind: li.dataset.kind, label: li.querySelector('.badge').textContent,
  name: li.querySelector('a').textContent, href: li.querySelector('a').href, text: li.textContent}));
"""


def test_viewer_shows_the_generated_signed_and_audit_trail_documents(client, org, worker, web_server):
    # Given a sandbox-signed run that has finished
    signer = f"ana+{org.id[:8]}@acme.example"
    template_id = factories.template(client, org)
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"}, factories.render_node(template_id),
        {"node_type": "request-signatures", "label": "sign",
         "config": {"provider": "sandbox", "signers": [{"name": "Ana", "email": signer}]}}])
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "signing")
    link = factories.steps(client, org, execution_id)[2]["data_out"]["signers"][0]["sign_url"]
    assert requests.post(link, json={"action": "signed"}, timeout=10).status_code == 200
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"

    # When a person opens the viewer
    with chromium() as page:
        page.open(web_server.base + viewer_url(client, org, execution_id))
        shown = page.wait_for(DOCUMENTS, lambda docs: len(docs) == 3, message="three documents listed")

    # Then each document shows its kind, the original says it was replaced, and every link downloads
    assert sorted(d["kind"] for d in shown) == ["audit_trail", "generated", "signed"]
    by_kind = {d["kind"]: d for d in shown}
    assert by_kind["signed"]["label"] == "Signed" and by_kind["audit_trail"]["label"] == "Audit trail"
    assert "replaced by its signed version" in by_kind["generated"]["text"]
    signed = requests.get(by_kind["signed"]["href"], timeout=10)
    assert signed.status_code == 200 and signed.content.startswith(b"%PDF")
