"""Local nodes: a full run with no cloud account (docx, folder, SMTP, webhooks)."""
from integrations.base import App
from integrations.local.approval import HumanInLoop, ReviewDocuments
from integrations.local.docx import LocalDocx
from integrations.local.email import SmtpEmail
from integrations.local.folder import FolderStorage
from integrations.local.webhooks import OutgoingWebhook, WebhookTrigger


def register(registry):
    registry.register(App(key="webhook", name="Webhook", auth_type="none",
                          actions=[WebhookTrigger(), OutgoingWebhook()], triggers=["webhook"],
                          webhooks=["POST /api/v1/webhooks/triggers/{workflow_id}"]))
    registry.register(App(key="local", name="Local documents", auth_type="none",
                          actions=[LocalDocx(), FolderStorage()]))
    registry.register(App(key="email", name="Email (SMTP)", auth_type="none", actions=[SmtpEmail()]))
    registry.register(App(key="approval", name="Human approval", auth_type="none",
                          actions=[ReviewDocuments(), HumanInLoop()]))
