"""Microsoft 365: Word and PowerPoint templates in OneDrive, mail through Outlook.

One provider, `microsoft`, signs in through the Microsoft identity platform
(v2.0 endpoints, `common` tenant: work/school and personal accounts) and
serves three apps whose keys are their node types: `microsoft-word`,
`microsoft-powerpoint` (render) and `outlook` (delivery). `offline_access`
is what makes the token endpoint return a refresh token.

Docs: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
https://learn.microsoft.com/graph/permissions-reference (Files.ReadWrite,
Mail.Send, User.Read), https://learn.microsoft.com/graph/api/user-get (GET /me).
"""
from integrations.base import App, OAuth, Provider
from integrations.microsoft.graph import Graph
from integrations.microsoft.office import MicrosoftPowerPoint, MicrosoftWord
from integrations.microsoft.outlook import Outlook

LOGIN = "https://login.microsoftonline.com/common/oauth2/v2.0"


def account(handle):
    """The connection test: who the token belongs to (GET /me)."""
    return Graph(handle.session()).me()


def register(registry):
    registry.register_provider(Provider(
        key="microsoft", name="Microsoft", auth_type="oauth2",
        oauth=OAuth(authorize_url=f"{LOGIN}/authorize", token_url=f"{LOGIN}/token",
                    scopes=["offline_access", "Files.ReadWrite", "Mail.Send", "User.Read"],
                    client_id_setting="microsoft_client_id", client_secret_setting="microsoft_client_secret"),
        default_base_url="https://graph.microsoft.com/v1.0", test=account))
    for key, name, action in (("microsoft-word", "Microsoft Word", MicrosoftWord()),
                              ("microsoft-powerpoint", "Microsoft PowerPoint", MicrosoftPowerPoint()),
                              ("outlook", "Outlook", Outlook())):
        registry.register(App(key=key, name=name, auth_type="oauth2", actions=[action], provider="microsoft",
                              description=action.description))
