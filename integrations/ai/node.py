"""The `ai` node: fill variables with an LLM's answer (OpenAI, Anthropic, Gemini).

The prompt is resolved like any config value, sent once, and the answer is
exposed as `{{step.<label>.text}}` (and under `output_key`). With `json` on,
the model is asked for one JSON object whose keys become variables of their
own (`{{step.<label>.risk}}`), also kept whole under `data`.

NOTE: a completion creates nothing durable, but it costs money: the call is
wrapped in the side-effect ledger so a redelivered hop reuses the recorded
answer instead of paying for a second one.
"""
import dataclasses
import json
import re

from integrations.ai.anthropic_messages import AnthropicClient
from integrations.ai.base import InvalidAnswer, json_object
from integrations.ai.gemini import GeminiClient
from integrations.ai.openai_chat import OpenAIClient
from integrations.base import Action, Result
from integrations.connections import ProviderSession, handle_for
from integrations.errors import InvalidConfig, MissingRequiredField, RateLimited, Unavailable
from integrations.preflight import from_error

#: config `provider` -> (connection provider key, client class, default model)
PROVIDERS = {
    "openai": ("openai", OpenAIClient, "gpt-4o-mini"),
    "anthropic": ("anthropic", AnthropicClient, "claude-haiku-4-5"),
    "google": ("google-ai", GeminiClient, "gemini-2.5-flash"),
}
ALIASES = {"gemini": "google", "google-ai": "google", "claude": "anthropic"}
BY_CONNECTION = {connection: name for name, (connection, _, _) in PROVIDERS.items()}
RESERVED = ("model", "provider", "usage", "data", "raw_text")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ai_handle(config, organization_id, settings):
    """Return (provider name, connection handle); the connection must be of that provider."""
    handle = handle_for(config.get("connection_id"), organization_id, settings)
    name = str(config.get("provider") or "").strip().lower()
    name = ALIASES.get(name, name) or BY_CONNECTION.get(handle.provider.key, "")
    if name not in PROVIDERS:
        raise InvalidConfig("Choose openai, anthropic or google as the AI provider.", f"provider={name!r}")
    if handle.provider.key != PROVIDERS[name][0]:
        raise InvalidConfig(f"Choose a {name} connection for this step.",
                            f"connection {config.get('connection_id')} is a {handle.provider.key} connection",
                            code="connection_error")
    return name, handle


def client_for(name, settings, session):
    return PROVIDERS[name][1](session, timeout=settings.http_timeout)


def prompt_of(config):
    prompt = config.get("prompt")
    if prompt in (None, "", [], {}):
        raise MissingRequiredField("Write the prompt for the AI step.", "prompt missing")
    return prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False, default=str)


def output_key_of(config):
    key = str(config.get("output_key") or "text")
    if not IDENTIFIER.match(key) or key in RESERVED:
        raise InvalidConfig(f"The output name {key!r} cannot be used; choose letters, digits and _ "
                            f"(not {', '.join(RESERVED)}).", f"output_key={key!r}")
    return key


def output_of(answer, provider, output_key, json_mode):
    text = answer["text"]
    if not text.strip():
        raise InvalidAnswer("The AI model gave an empty answer.",
                            f"finish_reason={answer.get('finish_reason')!r}")
    output = {"text": text, output_key: text, "model": answer["model"], "provider": provider,
              "usage": answer["usage"]}
    if json_mode:
        data = json_object(text)
        output.update({key: value for key, value in data.items() if key not in RESERVED})
        output.update(data=data, raw_text=text)
    return output


class AiText(Action):
    """Ask an LLM (OpenAI, Anthropic or Google Gemini) and keep its answer as variables."""

    key = "ai"
    name = "AI text"
    phase = "render"
    description = "Ask an LLM (OpenAI, Anthropic or Google Gemini) and keep its answer as variables."
    fields = {
        "provider": {"enum": list(PROVIDERS)},
        "connection_id": {"type": "string", "description": "an openai, anthropic or google-ai connection"},
        "model": {"type": "string", "description": "default: " + ", ".join(f"{p}: {m}" for p, (_, _, m)
                                                                          in PROVIDERS.items())},
        "prompt": {"type": "string", "description": "may use {{trigger.…}} and {{step.…}} variables"},
        "system": {"type": "string"},
        "output_key": {"type": "string", "default": "text"},
        "json": {"type": "boolean", "description": "ask for one JSON object; its keys become variables"},
        "max_tokens": {"type": "integer"},
        "temperature": {"type": "number"},
    }
    outputs = ("text", "model", "provider", "usage", "<output_key>", "data", "<each key of a JSON answer>")
    endpoints = ("POST https://api.openai.com/v1/chat/completions",
                 "POST https://api.anthropic.com/v1/messages",
                 "POST https://generativelanguage.googleapis.com/v1beta/models/{model}:generateContent",
                 "GET https://api.openai.com/v1/models/{model} (preflight)",
                 "GET https://api.anthropic.com/v1/models/{model_id} (preflight)",
                 "GET https://generativelanguage.googleapis.com/v1beta/models/{model} (preflight)")

    def run(self, ctx):
        config = ctx.config
        name, handle = ai_handle(config, ctx.organization_id, ctx.settings)
        prompt, output_key = prompt_of(config), output_key_of(config)
        json_mode = bool(config.get("json"))
        client = client_for(name, ctx.settings, handle.session(ctx.correlation_id))

        def ask(_idempotency_key):  # none of the three APIs takes an idempotency key
            completion = client.complete(model=config.get("model") or PROVIDERS[name][2], prompt=prompt,
                                         system=config.get("system") or None, json_mode=json_mode,
                                         max_tokens=config.get("max_tokens"), temperature=config.get("temperature"))
            return dataclasses.asdict(completion)

        answer = ctx.once("ai_completion", ask)
        return Result(output=output_of(answer, name, output_key, json_mode))

    def check(self, config, ctx, node_id):
        """Provider, prompt and connection; a model named outright must exist for the key."""
        prompt_of(config)
        output_key_of(config)
        name, handle = ai_handle(config, ctx.organization_id, ctx.settings)
        model = str(config.get("model") or PROVIDERS[name][2])
        if "{{" in model:
            return []
        session = ProviderSession(handle, timeout=ctx.settings.http_timeout, retries=0)
        try:
            client_for(name, ctx.settings, session).model(model)
        except (RateLimited, Unavailable) as error:
            return [from_error(error, node_id, "warning")]
        return []


def model_options(handle, params):
    """Dynamic data: the models the connection's key may use."""
    name = BY_CONNECTION.get(handle.provider.key)
    if name is None:
        raise InvalidConfig("Choose an OpenAI, Anthropic or Google AI connection.",
                            f"{handle.provider.key} connection", code="connection_error")
    client = client_for(name, handle.settings, handle.session())
    return [{"value": m.id, "label": m.label} for m in client.models()]
