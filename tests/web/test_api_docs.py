"""/api/docs: Swagger UI from the swagger-ui-py wheel, served locally, renders the document in Chromium."""
import pytest

from tests.browser import chromium

pytestmark = pytest.mark.e2e

# What a reader sees: the title, the version, the operations and where each asset came from.
PAGE = """
const q = (selector) => document.querySelector(selector);
return {
  title: q('.info .title') ? q('.info .title').textContent : '',
  operations: document.querySelectorAll('.opblock').length,
  paths: [...document.querySelectorAll('.opblock-summary-path')].map((e) => e.dataset.path || e.textContent),
  error: q('.errors-wrapper') ? q('.errors-wrapper').textContent : '',
  assets: performance.getEntriesByType('resource').map((r) => r.name),
};
"""


def test_api_docs_renders_every_operation_from_local_assets(web_server, client, tmp_path):
    # Given the document the API serves
    document = client.simulate_get("/api/v1/openapi.json").json
    operations = sum(len(item) for item in [*document["paths"].values(), *document["webhooks"].values()])

    with chromium() as page:
        # When a person opens /api/docs
        page.open(f"{web_server.base}/api/docs")

        # Then Swagger UI shows the API's title and every operation, with no error
        shown = page.wait_for(PAGE, lambda p: p["operations"] == operations,
                              message=f"{operations} operations rendered")
        assert shown["title"].startswith("DocG API") and document["info"]["version"] in shown["title"]
        assert "/api/v1/workflows/{workflow_id}/executions" in shown["paths"]
        assert not shown["error"], shown["error"]
        # and everything it loaded came from this server (no CDN)
        assert shown["assets"] and all(url.startswith(web_server.base) for url in shown["assets"]), shown["assets"]
        assert not page.console_errors(), "the page logged errors"
        print(f"api docs screenshot: {page.screenshot(tmp_path / 'api-docs.png')}")


def test_api_docs_allows_only_its_own_scripts(client):
    resp = client.simulate_get("/api/docs")
    policy = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert "<script>" not in resp.text  # nothing inline to allow
