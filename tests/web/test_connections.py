"""Connections: secrets never returned, OAuth2 sign-in, key rotation."""
from urllib.parse import parse_qs, urlparse

import pytest

from integrations.base import OAuth, Provider, load_apps
from storage import connections, fields
from storage.crypto import Keyring, generate_key
from storage.models import Connection


@pytest.fixture
def oauth_provider(httpserver):
    """A provider whose authorization server is a local HTTP server."""
    registry = load_apps()
    provider = Provider(key="test-oauth", name="Test OAuth", auth_type="oauth2", oauth=OAuth(
        authorize_url="https://login.example/authorize", token_url=httpserver.url_for("/token"), scopes=["read"],
        client_id_setting="hubspot_client_id", client_secret_setting="hubspot_client_secret"))
    registry.register_provider(provider)
    yield httpserver
    registry.providers.pop("test-oauth")


def test_api_key_connections_never_show_their_secrets(client, org, other_org):
    body = {"provider": "zapsign", "name": "ZapSign prod",
            "credentials": {"api_token": "zs-secret-token", "webhook_secret": "zs-hook-secret"}}
    created = client.simulate_post("/api/v1/connections", json=body, headers=org.headers)
    assert created.status_code == 201 and "zs-secret-token" not in created.text and "zs-hook" not in created.text
    assert created.json["webhook_path"] == f"/api/v1/webhooks/signature/zapsign/{created.json['id']}"
    assert created.json["webhook_secret_set"] is True
    listed = client.simulate_get("/api/v1/connections", headers=org.headers)
    assert [c["id"] for c in listed.json["connections"]] == [created.json["id"]]
    assert "zs-secret-token" not in listed.text and "credentials" not in listed.text and "zs-hook" not in listed.text
    url = f"/api/v1/connections/{created.json['id']}"
    assert client.simulate_get(url, headers=other_org.headers).status_code == 404
    assert client.simulate_delete(url, headers=org.headers).status_code == 204
    assert client.simulate_get(url, headers=org.headers).status_code == 404
    assert client.simulate_post("/api/v1/connections", json={**body, "provider": "nope"},
                                headers=org.headers).status_code == 404


def test_oauth_sign_in_uses_a_signed_single_use_state(client, org, oauth_provider, services, monkeypatch):
    import dataclasses

    monkeypatch.setattr(services, "settings", dataclasses.replace(services.settings, hubspot_client_id="cid",
                                                                  hubspot_client_secret="csecret"))
    import falcon.testing

    from web.app import create_app

    app = falcon.testing.TestClient(create_app(services))
    oauth_provider.expect_request("/token", method="POST").respond_with_json(
        {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "bearer"})

    start = app.simulate_get("/api/v1/connections/oauth/test-oauth/start", headers=org.headers)
    query = parse_qs(urlparse(start.json["authorize_url"]).query)
    assert query["client_id"] == ["cid"] and query["response_type"] == ["code"]
    state = query["state"][0]

    done = app.simulate_get("/api/v1/connections/oauth/test-oauth/callback", params={"code": "c-1", "state": state})
    assert done.status_code == 201 and done.json["auth_type"] == "oauth2" and "at-1" not in done.text
    token_call = oauth_provider.log[-1][0]
    assert token_call.form["grant_type"] == "authorization_code" and token_call.form["client_secret"] == "csecret"
    stored = Connection.get_by_id(done.json["id"])
    assert str(stored.organization_id) == org.id and stored.credentials["refresh_token"] == "rt-1"

    replay = app.simulate_get("/api/v1/connections/oauth/test-oauth/callback", params={"code": "c-1", "state": state})
    assert replay.status_code == 422 and replay.json["error"]["code"] == "oauth.invalid_state"
    forged = app.simulate_get("/api/v1/connections/oauth/test-oauth/callback",
                              params={"code": "c", "state": state[:-2] + "xx"})
    assert forged.status_code == 422


def test_key_rotation_re_encrypts_every_secret(org, db, services):
    import base64

    from storage.crypto import derive_key

    old = fields.keyring()
    row = connections.create(org.id, provider="zapsign", auth_type="api_key", credentials={"api_token": "t-1"})
    old_entry = services.settings.encryption_key or (
        "derived:" + base64.urlsafe_b64encode(derive_key(services.settings.secret_key)).decode().rstrip("="))
    new_entry = generate_key()
    try:
        # Given a new first key, old rows still decrypt
        fields.configure(Keyring.from_config(f"{new_entry},{old_entry}", "unused"))
        assert Connection.get_by_id(row.id).credentials == {"api_token": "t-1"}

        # When keys are rotated, every old row is rewritten with the new key
        assert connections.rotate_keys() >= 1
        assert connections.rotate_keys() == 0
        raw = db.execute_sql("SELECT credentials, key_id FROM data_source_connections WHERE id = %s",
                             (row.id,)).fetchone()
        new_kid = new_entry.split(":")[0]
        assert raw[0].startswith(f"v1.{new_kid}.") and raw[1] == new_kid

        # Then the new key alone reads it
        fields.configure(Keyring.from_config(new_entry, "unused"))
        assert Connection.get_by_id(row.id).credentials == {"api_token": "t-1"}
    finally:
        # NOTE: reseal with the suite's key: rotate_keys rewrote every row (other tests' approvals and node
        # secrets too), and no later test or worker has the temporary key
        fields.configure(Keyring.from_config(f"{old_entry},{new_entry}", "unused"))
        connections.rotate_keys()
        fields.configure(old)
