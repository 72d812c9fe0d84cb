"""The web process's access log never carries the tokens that links hold."""
import requests

from tests.support import wait_until
from web.access_log import redact


def test_token_paths_and_queries_are_redacted():
    assert redact("GET /approvals/abc123XYZ HTTP/1.1") == "GET /approvals/[redacted] HTTP/1.1"
    assert redact("POST /api/v1/approvals/abc/decision") == "POST /api/v1/approvals/[redacted]/decision"
    assert redact("/sandbox/sign/env-1/tok-2") == "/sandbox/sign/env-1/[redacted]"
    assert redact("/api/v1/sandbox/envelopes/e/signers/tok/document") == \
        "/api/v1/sandbox/envelopes/e/signers/[redacted]/document"
    assert redact("/runs/r1?token=secret.sig&x=1") == "/runs/r1?token=[redacted]&x=1"
    assert redact("/api/v1/workflows?limit=5") == "/api/v1/workflows?limit=5"


def test_the_real_web_log_shows_no_approval_or_stream_token(web_server):
    # Given requests that carry an approval token in the path and a stream token in the query
    secret_path, secret_query = "tok-in-path-4f9a2c", "tok-in-query-8b1d7e"
    requests.get(f"{web_server.base}/approvals/{secret_path}", timeout=10)
    requests.get(f"{web_server.base}/api/v1/sse/executions/00000000-0000-0000-0000-000000000000/stream",
                 params={"token": secret_query}, timeout=10)

    # Then the access log has both requests, with neither token
    wait_until(lambda: web_server.log().count("[redacted]") >= 2, 10, message="both requests in the access log")
    log = web_server.log()
    assert secret_path not in log and secret_query not in log
