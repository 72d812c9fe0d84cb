"""AI: the `ai` node and API-key connections to OpenAI, Anthropic and Google Gemini.

Connections are created with `{"provider": "openai" | "anthropic" | "google-ai",
"credentials": {"api_key": "..."}}` (OpenAI also takes `organization` and
`project`). Testing a connection lists the models its key may use.
"""
from integrations.base import App, Provider


def _test(client_class):
    def test(handle):
        models = client_class(handle.session(), timeout=handle.settings.http_timeout).models()
        return {"models": len(models), "sample": [m.id for m in models[:5]]}

    return test


def register(registry):
    from integrations.ai import anthropic_messages, gemini, openai_chat
    from integrations.ai.node import AiText, model_options

    for key, module, client in (("openai", openai_chat, openai_chat.OpenAIClient),
                                ("anthropic", anthropic_messages, anthropic_messages.AnthropicClient),
                                ("google-ai", gemini, gemini.GeminiClient)):
        registry.register_provider(Provider(key=key, name=module.NAME, auth_type="api_key",
                                            default_base_url=module.BASE_URL, auth_header=module.auth_header,
                                            test=_test(client)))
    registry.register(App(key="ai", name="AI", auth_type="api_key", actions=[AiText()],
                          dynamic={"models": model_options},
                          description="Fill variables with an LLM's answer: OpenAI, Anthropic or Google Gemini "
                                      "(connections: openai, anthropic, google-ai)."))
