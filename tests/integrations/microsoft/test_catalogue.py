"""The Microsoft provider, its three apps and their actions, as the API shows them."""
from integrations.base import load_apps


def test_one_provider_serves_word_powerpoint_and_outlook(client, org):
    apps = {app["key"]: app for app in client.simulate_get("/api/v1/apps", headers=org.headers).json["apps"]}

    for key, phase, more in (("microsoft-word", "render", ["onedrive-share-link"]),
                             ("microsoft-powerpoint", "render", []),
                             ("outlook", "delivery", ["outlook-create-draft"])):
        action, *others = apps[key]["actions"]
        assert (apps[key]["provider"], apps[key]["auth_type"], action["key"], action["phase"]) == (
            "microsoft", "oauth2", key, phase)
        assert [(other["key"], other["phase"]) for other in others] == [(k, "delivery") for k in more]
        assert all(endpoint.split(" ")[1].startswith("https://graph.microsoft.com/v1.0/")
                   for a in apps[key]["actions"] for endpoint in a["endpoints"])
    assert "template_item_id" in apps["microsoft-word"]["actions"][0]["fields"]
    assert {"type", "scope", "expires_in_days", "item_id"} <= set(apps["microsoft-word"]["actions"][1]["fields"])
    provider = load_apps().providers["microsoft"]
    assert provider.oauth.scopes == ["offline_access", "Files.ReadWrite", "Mail.Send", "Mail.ReadWrite", "User.Read"]
    assert provider.oauth.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"


def test_the_connection_test_reads_the_signed_in_user(client, org, graph, connect):
    connection_id = connect(graph.credentials())

    resp = client.simulate_post(f"/api/v1/connections/{connection_id}/test", headers=org.headers)

    assert resp.status_code == 200, resp.text
    assert resp.json["detail"] == {"id": "87d349ed-44d7-43e1-9a83", "displayName": "Ana Souza",
                                   "userPrincipalName": "ana@acme.onmicrosoft.com", "mail": "ana@acme.example"}
    assert graph.calls() == [("GET", "/me")]
