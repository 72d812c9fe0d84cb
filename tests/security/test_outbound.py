"""Outbound calls to tenant-chosen addresses go through the guard (integrations/outbound.py).

Real sockets and real servers on loopback. The in-process tests pass an
explicit Policy; the end-to-end ones run a real `dramatiq` worker whose
OUTBOUND_ALLOW lists only a redirector, never the receivers.
"""
import dataclasses
import socket

import pytest

from integrations.errors import BadResponse, OutboundBlocked, Unavailable
from integrations.http import Session, raise_for_status
from integrations.outbound import Policy, why_refused
from tests import factories
from tests.security.receivers import Receiver

REFUSED_HOSTS = ["127.0.0.1", "127.0.0.2", "localhost", "127.1", "2130706433", "0x7f000001", "0.0.0.0",
                 "169.254.169.254", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "224.0.0.1",
                 "240.0.0.1", "255.255.255.255", "[::1]", "[::ffff:127.0.0.1]", "[fe80::1]", "[fc00::1]"]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def strict(entries=()):
    return Session(timeout=3, retries=0, policy=Policy(entries))


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(receiver, host):
    with pytest.raises(OutboundBlocked) as refused:
        strict().post(f"http://{host}:{receiver.port}/hook", data=b"{}")
    assert refused.value.code == "outbound.blocked" and not refused.value.retryable
    assert "OUTBOUND_ALLOW" in refused.value.message_human
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/_x",
                                 "dict://127.0.0.1:11211/stat", "redis://127.0.0.1:6379/0", "//127.0.0.1/x",
                                 "jar:http://x/!/", "http://"])
def test_only_http_and_https_may_be_called(url):
    with pytest.raises(OutboundBlocked):
        strict(["127.0.0.1"]).get(url)


def test_the_allow_list_opens_exactly_what_it_names(receiver):
    other = Receiver()
    try:
        assert strict([f"127.0.0.1:{receiver.port}"]).get(f"{receiver.url}/a").status_code == 200
        with pytest.raises(OutboundBlocked):
            strict([f"127.0.0.1:{receiver.port}"]).get(f"{other.url}/b")
        assert strict(["127.0.0.0/8"]).get(f"{other.url}/c").status_code == 200
        assert strict(["localhost"]).get(f"http://localhost:{other.port}/d").status_code == 200
        assert other.requests and [r["path"] for r in other.requests] == ["/c", "/d"]
    finally:
        other.close()


def test_every_redirect_hop_is_checked_again(receiver):
    # Given an allowed address that redirects to one that is not
    redirector = Receiver(redirect_to=f"{receiver.url}/internal")
    try:
        # When DocG calls the allowed address
        with pytest.raises(OutboundBlocked):
            strict([f"127.0.0.1:{redirector.port}"]).post(f"{redirector.url}/hook", data=b"{}")
        # Then the redirect target received nothing
        assert len(redirector.requests) == 1 and receiver.requests == []
    finally:
        redirector.close()


def test_redirects_are_followed_a_few_times_only():
    loop = Receiver()
    loop.redirect_to = f"{loop.url}/again"
    try:
        with pytest.raises(BadResponse) as error:
            strict(["127.0.0.1"]).get(f"{loop.url}/start")
        assert "redirects" in error.value.message_tech and len(loop.requests) == 4
    finally:
        loop.close()


def test_error_texts_carry_neither_url_credentials_nor_remote_bodies():
    leaky = Receiver(status=500, body=b'{"internal": "db-password=hunter2"}')
    try:
        with pytest.raises(Unavailable) as failed:
            raise_for_status(strict(["127.0.0.1"]).get(f"http://alice:pa55word@127.0.0.1:{leaky.port}/x?api_key=k-123"))
        with pytest.raises(OutboundBlocked) as refused:
            strict().get(f"http://alice:pa55word@127.0.0.1:{leaky.port}/x?api_key=k-123")
        port = socket.socket()
        port.bind(("127.0.0.1", 0))
        closed = port.getsockname()[1]
        port.close()
        with pytest.raises(Unavailable) as unreachable:
            strict(["127.0.0.1"]).get(f"http://alice:pa55word@127.0.0.1:{closed}/x?api_key=k-123")
    finally:
        leaky.close()
    for error in (failed.value, refused.value, unreachable.value):
        text = f"{error.message_human} {error.message_tech} {error}"
        assert "pa55word" not in text and "k-123" not in text and "hunter2" not in text, text
    assert "500" in failed.value.message_tech


def test_the_address_kinds_are_named():
    assert why_refused("169.254.169.254") == "link-local"
    assert why_refused("::ffff:10.1.2.3") == "private"
    assert why_refused("8.8.8.8") is None


def test_a_connection_base_url_and_its_test_call_go_through_the_guard(services, broker, org, receiver):
    """A tenant's AI connection pointing at an internal address: the test call is refused, 422, nothing sent."""
    import falcon.testing

    from web.app import create_app

    strict_services = dataclasses.replace(services, settings=dataclasses.replace(services.settings,
                                                                                  outbound_allow=()))
    client = falcon.testing.TestClient(create_app(strict_services, broker=broker))
    for base_url in (receiver.url, "http://169.254.169.254/latest/meta-data"):
        created = client.simulate_post("/api/v1/connections", headers=org.headers, json={
            "provider": "openai", "name": "mine", "credentials": {"api_key": "sk-test", "base_url": base_url}})
        assert created.status_code == 201, created.text
        tested = client.simulate_post(f"/api/v1/connections/{created.json['id']}/test", headers=org.headers)
        assert tested.status_code == 422 and tested.json["error"]["code"] == "outbound.blocked", tested.text
        assert "sk-test" not in tested.text
    assert receiver.requests == []


def test_an_s3_endpoint_on_an_internal_address_is_refused():
    from integrations.s3.client import build_boto_client

    with pytest.raises(OutboundBlocked):
        build_boto_client({"access_key_id": "a", "secret_access_key": "b",
                           "endpoint_url": "http://169.254.169.254"}, policy=Policy())


# --- end to end: the outgoing-webhook node on a real worker -------------------------------------------

@pytest.fixture(scope="module")
def hosts():
    """A receiver no worker may reach, and an allowed redirector that points at it."""
    target = Receiver()
    redirector = Receiver(redirect_to=f"{target.url}/internal")
    yield target, redirector
    target.close()
    redirector.close()


@pytest.fixture(scope="module")
def strict_worker(services, mailbox, logs_dir, hosts):
    from tests.support import start_worker

    process = start_worker(logs_dir, env={"OUTBOUND_ALLOW": f"127.0.0.1:{hosts[1].port}"})
    yield process
    process.stop()


@pytest.mark.e2e
@pytest.mark.parametrize("via_redirect", [False, True], ids=["direct", "redirect"])
def test_an_outgoing_webhook_to_a_loopback_port_not_allowed_fails_once_and_sends_nothing(
        client, org, strict_worker, hosts, via_redirect):
    target, redirector = hosts
    url = f"{redirector.url}/hook" if via_redirect else f"{target.url}/hook"
    before = len(target.requests)
    # Given a workflow whose webhook points (directly or by redirect) at an address that is not allowed
    wf = factories.workflow(client, org, [
        {"node_type": "webhook", "label": "deal"},
        {"node_type": "outgoing-webhook", "label": "notify", "config": {"url": url, "secret": "s3cret"}}])
    # When it runs on the real worker
    execution_id = factories.start(client, org, wf["id"], {"cpf": "123.456.789-00"})
    state = factories.wait_for_status(client, org, execution_id)
    # Then the step fails for good with outbound.blocked, on its first attempt, and nothing was received
    steps = factories.steps(client, org, execution_id)
    assert state["status"] == "failed", state
    assert steps[1]["error_code"] == "outbound.blocked" and steps[1]["attempt"] == 1, steps[1]
    assert "OUTBOUND_ALLOW" in state["last_error_human"]
    assert len(target.requests) == before
    assert "s3cret" not in str(state) + str(steps)
    assert "123.456.789-00" not in strict_worker.log()


def test_https_through_the_pinned_connection_still_verifies_the_host_name(tmp_path):
    """The socket goes to the checked address, and TLS still checks the certificate against the URL's host."""
    import datetime
    import http.server
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2040, 1, 1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port, ca = server.server_address[1], str(tmp_path / "cert.pem")
    try:
        assert strict(["localhost"]).get(f"https://localhost:{port}/", verify=ca).text == "ok"
        with pytest.raises(Unavailable) as mismatch:
            strict(["127.0.0.1"]).get(f"https://127.0.0.1:{port}/", verify=ca)
        assert "SSL" in mismatch.value.message_tech
        with pytest.raises(OutboundBlocked):
            strict().get(f"https://localhost:{port}/", verify=ca)
    finally:
        server.shutdown()
        server.server_close()


def test_docg_may_call_its_own_public_address_and_nothing_else_nearby(services, receiver):
    """The sandbox provider posts to PUBLIC_BASE_URL; `docg up` runs that on localhost."""
    own = dataclasses.replace(services.settings, outbound_allow=(), public_base_url=receiver.url)
    policy = Policy.from_settings(own)
    assert Session(timeout=3, retries=0, policy=policy).get(f"{receiver.url}/api").status_code == 200
    neighbour = Receiver()
    try:
        with pytest.raises(OutboundBlocked):
            Session(timeout=3, retries=0, policy=policy).get(f"{neighbour.url}/api")
    finally:
        neighbour.close()
