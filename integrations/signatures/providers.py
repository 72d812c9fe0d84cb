"""Build the signature provider a node or a webhook names."""
from integrations.errors import InvalidConfig

PROVIDERS = ("sandbox", "clicksign", "zapsign")


def provider_class(name):
    if name == "sandbox":
        from integrations.signatures.sandbox import SandboxProvider

        return SandboxProvider
    if name == "clicksign":
        from integrations.signatures.clicksign import ClickSignProvider

        return ClickSignProvider
    if name == "zapsign":
        from integrations.signatures.zapsign import ZapSignProvider

        return ZapSignProvider
    raise InvalidConfig(f"Unknown signature provider {name!r}.", f"provider={name!r}", code="signature.unknown_provider")


def build(name, *, settings, correlation_id=None, credentials=None):
    """Return a provider client; cloud providers need a connection's credentials."""
    cls = provider_class(name)
    if name == "sandbox":
        base = (settings.signature_sandbox_url or settings.public_base_url).rstrip("/")
        return cls(public_url=base, webhook_url=f"{settings.public_base_url.rstrip('/')}/api/v1/webhooks/signature/sandbox",
                   pdf_timeout=settings.pdf_timeout_seconds, pdf_concurrency=settings.pdf_conversions_per_process)
    if not credentials:
        raise InvalidConfig(f"Connect a {name} account first.", f"{name} needs connection_id",
                            code="signature.no_connection")
    options = {"token": credentials.get("access_token") or credentials.get("api_token") or credentials.get("token"),
               "correlation_id": correlation_id, "timeout": settings.http_timeout}
    if credentials.get("base_url"):
        options["base_url"] = credentials["base_url"]
    return cls(**options)


def webhook_secret(name, settings, credentials=None):
    """The secret that verifies `name`'s webhooks: the connection's own, else the account-wide setting."""
    if credentials and credentials.get("webhook_secret"):
        return credentials["webhook_secret"]
    return {"sandbox": settings.sandbox_webhook_secret, "clicksign": settings.clicksign_webhook_secret,
            "zapsign": settings.zapsign_webhook_secret}.get(name, "")
