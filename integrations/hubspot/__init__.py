"""HubSpot: OAuth2 connections, the CRM record trigger and the write-back actions.

OAuth (https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/guide):
users install the app at https://app.hubspot.com/oauth/authorize; codes and
refresh tokens are exchanged at POST https://api.hubapi.com/oauth/v1/token
(form-encoded: grant_type, client_id, client_secret, refresh_token). Access
tokens live 30 minutes, so most runs refresh first. The write scopes and
`files` serve the actions (actions.py); a connection made before they were
asked for gets a 403 naming the missing scope, which says to reconnect.
"""
from integrations.base import App, OAuth, Provider

SCOPES = ["oauth", "files"] + [f"crm.objects.{kind}.{access}" for kind in ("deals", "contacts", "companies")
                               for access in ("read", "write")]


def test_connection(handle):
    """Describe the portal and user a connection's token belongs to."""
    from integrations.hubspot.client import HubSpotClient

    info = HubSpotClient(handle.session()).token_info(handle.access_token())
    return {"hub_id": info.hub_id, "hub_domain": info.hub_domain, "user": info.user, "scopes": info.scopes}


def register(registry):
    from integrations.hubspot.actions import HubSpotAttachDocument, HubSpotUpdateRecord
    from integrations.hubspot.trigger import HubSpotTrigger, object_options, pipeline_options, property_options

    registry.register_provider(Provider(
        key="hubspot", name="HubSpot", auth_type="oauth2", default_base_url="https://api.hubapi.com",
        oauth=OAuth(authorize_url="https://app.hubspot.com/oauth/authorize",
                    token_url="https://api.hubapi.com/oauth/v1/token", scopes=SCOPES,
                    client_id_setting="hubspot_client_id", client_secret_setting="hubspot_client_secret"),
        test=test_connection))
    registry.register(App(
        key="hubspot", name="HubSpot", auth_type="oauth2", provider="hubspot", triggers=["hubspot"],
        actions=[HubSpotTrigger(), HubSpotUpdateRecord(), HubSpotAttachDocument()],
        dynamic={"properties": property_options, "pipelines": pipeline_options, "objects": object_options},
        description="Start documents from HubSpot CRM deals, contacts and companies, and write the results back."))
