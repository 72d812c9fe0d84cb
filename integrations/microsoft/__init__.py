"""Microsoft 365: Word and PowerPoint templates in OneDrive, mail through Outlook.

One provider, `microsoft`, signs in through the Microsoft identity platform
(v2.0 endpoints, `common` tenant: work/school and personal accounts) and
serves three apps named after their first node type: `microsoft-word`
(render, plus `onedrive-share-link`, a link to the uploaded file),
`microsoft-powerpoint` (render) and `outlook` (delivery, plus
`outlook-create-draft`). `offline_access` is what makes the token endpoint
return a refresh token; Mail.ReadWrite is what creating a draft needs.

Docs: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
https://learn.microsoft.com/graph/permissions-reference (Files.ReadWrite,
Mail.Send, Mail.ReadWrite, User.Read), https://learn.microsoft.com/graph/api/user-get (GET /me).
"""
from integrations.base import App, OAuth, Provider
from integrations.microsoft.graph import Graph
from integrations.microsoft.office import MicrosoftPowerPoint, MicrosoftWord
from integrations.microsoft.outlook import Outlook
from integrations.microsoft.outlook_draft import OutlookCreateDraft
from integrations.microsoft.share import OneDriveShareLink

LOGIN = "https://login.microsoftonline.com/common/oauth2/v2.0"


def account(handle):
    """The connection test: who the token belongs to (GET /me)."""
    return Graph(handle.session()).me()


def register(registry):
    registry.register_provider(Provider(
        key="microsoft", name="Microsoft", auth_type="oauth2",
        oauth=OAuth(authorize_url=f"{LOGIN}/authorize", token_url=f"{LOGIN}/token",
                    scopes=["offline_access", "Files.ReadWrite", "Mail.Send", "Mail.ReadWrite", "User.Read"],
                    client_id_setting="microsoft_client_id", client_secret_setting="microsoft_client_secret"),
        default_base_url="https://graph.microsoft.com/v1.0", test=account))
    for key, name, actions in (("microsoft-word", "Microsoft Word", [MicrosoftWord(), OneDriveShareLink()]),
                               ("microsoft-powerpoint", "Microsoft PowerPoint", [MicrosoftPowerPoint()]),
                               ("outlook", "Outlook", [Outlook(), OutlookCreateDraft()])):
        registry.register(App(key=key, name=name, auth_type="oauth2", actions=actions, provider="microsoft",
                              description=actions[0].description))
