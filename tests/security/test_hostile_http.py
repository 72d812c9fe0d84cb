"""No input produces a 5xx; pages carry the security headers and still work in Chromium.

Lone surrogates and NUL go to every JSON route with ids that exist (past
the 404s), including the public approval decision with a real link; chunked
and stalled bodies go to a real gunicorn (gevent) web process.
"""
import json
import select
import socket
import time

import pytest

from cli import sample
from tests import factories
from tests.actors.test_approvals import approval_workflow, emails
from tests.actors.test_signatures import sign_links, signature_workflow, signers_of
from tests.support import free_port, http_ok, start_web, wait_until
from tests.web.test_hostile_input import ROUTES

SURROGATE_BODIES = [
    '{"name": "\\ud800", "nodes": []}', '{"\\udfff": 1}', '{"trigger_data": {"k": "a\\ud83d"}}',
    '{"decision": "approved", "comment": "\\udc00x"}', '{"action": "signed", "x": "\\ud800"}',
    '{"name": "ok", "nodes": [{"node_type": "webhook", "label": "\\ud800", "config": {}}]}',
    '{"changes": {"deal": {"k": "\\ud800"}}}', '{"reason": "\\ud800"}', '["\\ud800"]', '"\\ud800"',
    '{"name": "nul\\u0000", "nodes": []}', '{"\\u0000": "key"}', '{"comment": "\\u0000", "decision": "rejected"}',
]
JSON_METHODS = ("POST", "PUT")


def _check(resp, what):
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        assert set(resp.json["error"]) >= {"code", "message_human", "message_tech"}, what


def _send_all(client, org, method, url):
    for body in SURROGATE_BODIES:
        resp = client.simulate_request(method, url, body=body.encode(),
                                       headers={**org.headers, "Content-Type": "application/json"})
        _check(resp, f"{method} {url} {body}")
        if "name" in body and url.endswith("/workflows") and resp.status_code != 404:
            assert resp.status_code in (400, 422), f"{url} {body}: {resp.status_code}"


@pytest.mark.e2e
def test_lone_surrogates_and_nul_in_every_json_route_are_4xx(client, org, worker, mailbox):
    # Given real rows behind every route: a workflow, a paused run with an approval link
    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "customer"))
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    token = factories.approval_token(mailbox.wait_for(ana)[0])
    # When every JSON route gets lone surrogates and NUL
    for method, path in ROUTES:
        if method not in JSON_METHODS:
            continue
        real = wf["id"] if "/workflows/" in path else token if "/approvals/" in path else execution_id
        _send_all(client, org, method, path.replace("{id}", real, 1).replace("{id}", "not-a-uuid"))
    _send_all(client, org, "POST", "/api/v1/workflows")
    # Then the approval is still pending and decidable: nothing half-applied
    decided = client.simulate_post(f"/api/v1/approvals/{token}/decision", json={"decision": "approved"})
    assert decided.status_code == 200, decided.text


def test_api_and_pages_send_the_security_headers(client, org):
    api = client.simulate_get("/api/v1/workflows", headers=org.headers)
    error = client.simulate_get("/api/v1/nope")
    assert api.headers["X-Content-Type-Options"] == "nosniff" == error.headers["X-Content-Type-Options"]
    for path in ("/approvals/some-token", "/runs/00000000-0000-0000-0000-000000000000"):
        page = client.simulate_get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        # the run viewer allows its inline blocks by hash; the approval page has none, only its own files
        assert ("script-src 'sha256-" in csp or "script-src 'self'" in csp) and "connect-src 'self'" in csp


# --- the real web process: chunked and stalled bodies -----------------------------------------------

@pytest.fixture(scope="module")
def quick_web(services, logs_dir):
    """A gunicorn web process that cuts a stalled body off after 2 seconds."""
    port = free_port()
    process = start_web(logs_dir, port, env={"BODY_READ_TIMEOUT_SECONDS": "2"})
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), 60, message="web health")
    process.port = port
    yield process
    process.stop()


def _raw(port, head, body_parts=(), pause=0.0, timeout=15, wait_for_close=True):
    """Send a raw HTTP/1.1 request; return (status, response bytes, seconds until answered, server closed).

    `wait_for_close=False` skips waiting (up to 5 s) to see whether the server closes the connection: None.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    started = time.monotonic()
    try:
        sock.sendall(head)
        for part in body_parts:
            sock.sendall(part)
            if select.select([sock], [], [], pause)[0]:
                break  # the server answered (and stops reading): stop sending
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and _complete(data):
                break
        answered = time.monotonic() - started
        if not wait_for_close:
            return int(data.split(b" ", 2)[1]), data, answered, None
        try:
            sock.settimeout(5)
            closed = sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except socket.timeout:
            closed = False
        return int(data.split(b" ", 2)[1]), data, answered, closed
    finally:
        sock.close()


def _complete(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":")[1])
    return False


def _chunked(body, size=65536):
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return parts + [b"0\r\n\r\n"]


def _head(org, path, extra):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {org.token}",
             f"X-Organization-ID: {org.id}", "Content-Type: application/json", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_chunked_body_is_read(quick_web, org):
    body = json.dumps({"name": "chunked", "nodes": [{"node_type": "webhook", "label": "deal"}]}).encode()
    status, data, _, _ = _raw(quick_web.port, _head(org, "/api/v1/workflows", ["Transfer-Encoding: chunked"]),
                              _chunked(body, 16), wait_for_close=False)
    assert status == 201, data[:500]
    assert b'"name": "chunked"' in data or b'"name":"chunked"' in data


def test_a_chunked_body_over_one_mebibyte_is_413(quick_web, org):
    body = json.dumps({"name": "x" * (5 * 1024 * 1024 // 2), "nodes": []}).encode()
    status, data, _, _ = _raw(quick_web.port, _head(org, "/api/v1/workflows", ["Transfer-Encoding: chunked"]),
                              _chunked(body), wait_for_close=False)
    assert status == 413, data[:500]
    assert b"payload_too_large" in data


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_client_that_stalls_its_body_is_cut_off(quick_web, org, framing):
    # Given a client that announces a body and then stops sending
    extra = ["Content-Length: 1000"] if framing == "content-length" else ["Transfer-Encoding: chunked"]
    first = b'{"name": "' if framing == "content-length" else b'a\r\n{"name": "'
    # When it holds the connection
    status, data, seconds, closed = _raw(quick_web.port, _head(org, "/api/v1/workflows", extra), [first],
                                         pause=0, timeout=20)
    # Then the server answers 408 after the body timeout and closes the connection, well before minutes
    assert status == 408, data[:500]
    assert 1.5 <= seconds < 10, seconds
    assert b"request_timeout" in data and closed
    # and the web process keeps serving
    assert http_ok(f"http://127.0.0.1:{quick_web.port}/health")


def test_a_slow_drip_body_is_cut_off_too(quick_web, org):
    head = _head(org, "/api/v1/workflows", ["Content-Length: 200"])
    status, _, seconds, closed = _raw(quick_web.port, head, [b" "] * 12, pause=0.5, timeout=20)
    assert status == 408 and seconds < 10 and closed


# --- the pages in Chromium under their CSP ---------------------------------------------------------

@pytest.mark.e2e
def test_the_approval_and_sandbox_pages_work_in_chromium_under_their_csp(client, org, worker, mailbox,
                                                                         web_server):
    from tests.browser import chromium

    ana = emails(org, "ana")
    wf = approval_workflow(client, org, [ana], emails(org, "customer"))
    execution_id = factories.start(client, org, wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, execution_id, "paused")
    token = factories.approval_token(mailbox.wait_for(ana)[0])

    signer = signers_of(org, "bia")[0]
    signed_wf = signature_workflow(client, org, [signer], emails(org, "customer2"))
    signed_run = factories.start(client, org, signed_wf["id"], sample.trigger_data())
    factories.wait_for_status(client, org, signed_run, "signing")
    sign_url = sign_links(client, org, signed_run)[signer]

    with chromium() as page:
        # When the approver opens the link and approves
        page.open(f"{web_server.base}/approvals/{token}")
        page.wait_for("return document.querySelectorAll('#documents .document').length", lambda n: n >= 1,
                      message="approval page lists the documents")
        page.evaluate("document.getElementById('approve').click()")
        page.wait_for("return document.getElementById('result').textContent", lambda t: "approved" in t,
                      message="approval decided from the page")
        assert [e for e in page.console_errors() if "favicon.ico" not in e] == []
        # And the signer opens the sandbox page and signs
        page.open(sign_url)
        page.wait_for("return document.getElementById('actions').hidden", lambda hidden: hidden is False,
                      message="the signing page offers Sign")
        page.evaluate("document.getElementById('sign').click()")
        page.wait_for("return document.getElementById('notice').textContent", lambda t: "signed" in t,
                      message="signed from the sandbox page")
        assert [e for e in page.console_errors() if "favicon.ico" not in e] == []
    assert factories.wait_for_status(client, org, execution_id)["status"] == "completed"
    assert factories.wait_for_status(client, org, signed_run)["status"] == "completed"
