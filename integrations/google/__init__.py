"""Google: one OAuth2 account behind five apps (Docs, Slides, Drive, Forms, Gmail).

The "google" Provider signs in with Google's OAuth 2.0 web-server flow
(https://developers.google.com/identity/protocols/oauth2/web-server):
`access_type=offline` and `prompt=consent` so Google returns a refresh
token every time. Its `test` reads `GET /drive/v3/about?fields=user`
(https://developers.google.com/drive/api/reference/rest/v3/about/get).

Modules: client.py (API roots and the `base_url` override that points every
Google API at one server, error mapping), drive.py, documents.py (Docs and
Slides merge), render.py (google-docs, google-slides), save.py
(google-drive), share.py (google-drive-share), forms.py (google-forms trigger),
gmail.py (gmail delivery), gmail_draft.py (gmail-create-draft, which needs
the gmail.compose scope).
"""
import uuid

from integrations.base import App, OAuth, Provider

SCOPES = [f"https://www.googleapis.com/auth/{scope}"
          for scope in ("drive", "documents", "presentations", "forms.responses.readonly", "gmail.send",
                        "gmail.compose")]


def account(handle):
    """Describe the signed-in Google account (the connection test)."""
    from integrations.google.drive import Drive

    user = Drive.for_connection(handle, f"connection-test-{uuid.uuid4()}").about()
    return {"account": user.get("emailAddress"), "name": user.get("displayName")}


def provider():
    return Provider(
        key="google", name="Google", auth_type="oauth2", default_base_url="https://www.googleapis.com", test=account,
        oauth=OAuth(authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
                    token_url="https://oauth2.googleapis.com/token", scopes=SCOPES,
                    client_id_setting="google_client_id", client_secret_setting="google_client_secret",
                    extra_authorize_params={"access_type": "offline", "prompt": "consent",
                                            "include_granted_scopes": "true"}))


def register(registry):
    from integrations.google import drive, forms
    from integrations.google.gmail import GmailSend
    from integrations.google.gmail_draft import GmailCreateDraft
    from integrations.google.render import GoogleDocs, GoogleSlides
    from integrations.google.save import GoogleDriveSave
    from integrations.google.share import GoogleDriveShare

    registry.register_provider(provider())
    apps = [
        App(key="google-docs", name="Google Docs", auth_type="oauth2", provider="google", actions=[GoogleDocs()],
            dynamic={"templates": drive.lister(drive.DOCUMENT), "folders": drive.folders},
            description="Fill Google Docs templates and export them as PDF or .docx."),
        App(key="google-slides", name="Google Slides", auth_type="oauth2", provider="google",
            actions=[GoogleSlides()], dynamic={"templates": drive.lister(drive.PRESENTATION), "folders": drive.folders},
            description="Fill Google Slides templates and export them as PDF or .pptx."),
        App(key="google-drive", name="Google Drive", auth_type="oauth2", provider="google",
            actions=[GoogleDriveSave(), GoogleDriveShare()],
            dynamic={"folders": drive.folders, "templates": drive.templates},
            description="Save the run's documents to a Google Drive folder and share them."),
        App(key="google-forms", name="Google Forms", auth_type="oauth2", provider="google",
            actions=[forms.GoogleFormsTrigger()], triggers=["google-forms"],
            dynamic={"forms": forms.forms, "questions": forms.questions},
            description="Start a run from a Google Forms response."),
        App(key="gmail", name="Gmail", auth_type="oauth2", provider="google",
            actions=[GmailSend(), GmailCreateDraft()],
            description="Send the run's documents from a Gmail account, or leave them in a draft to review."),
    ]
    for app in apps:
        registry.register(app)
