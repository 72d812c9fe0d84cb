"""E-signature providers behind one interface (ClickSign, ZapSign, sandbox)."""
from integrations.base import App, Provider


def _webhooks(provider):
    """The account-wide URL and the per-connection one (verified with the connection's own secret)."""
    base = f"POST /api/v1/webhooks/signature/{provider}"
    return [base, base + "/{connection_id}"]


def _token_header(credentials):
    return {}  # the signature clients put their own auth header on each call


def register(registry):
    from integrations.signatures.node import ClickSignSignatures, RequestSignatures, ZapSignSignatures

    registry.register_provider(Provider(key="clicksign", name="ClickSign", auth_type="api_key",
                                        default_base_url="https://app.clicksign.com/api/v3",
                                        auth_header=_token_header))
    registry.register_provider(Provider(key="zapsign", name="ZapSign", auth_type="api_key",
                                        default_base_url="https://api.zapsign.com.br", auth_header=_token_header))
    registry.register(App(key="signature-sandbox", name="Signature sandbox", auth_type="none",
                          actions=[RequestSignatures()], webhooks=["POST /api/v1/webhooks/signature/sandbox"],
                          description="Signs documents inside DocG, with no account (for trials and tests)."))
    registry.register(App(key="clicksign", name="ClickSign", auth_type="api_key", provider="clicksign",
                          actions=[ClickSignSignatures()], webhooks=_webhooks("clicksign")))
    registry.register(App(key="zapsign", name="ZapSign", auth_type="api_key", provider="zapsign",
                          actions=[ZapSignSignatures()], webhooks=_webhooks("zapsign")))
