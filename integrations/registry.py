"""The registry of apps, actions and providers, filled by each app package.

Separate from integrations/base.py so connections can look a provider up
without importing the app framework (and the framework can use connections).
"""
import importlib


class Registry:
    """Node types to actions, filled by each app package's `register()`."""

    def __init__(self):
        self.apps = {}
        self.actions = {}
        self.providers = {}

    def register(self, app):
        self.apps[app.key] = app
        for action in app.actions:
            self.actions[action.key] = action

    def register_provider(self, provider):
        self.providers[provider.key] = provider

    def action(self, node_type):
        return self.actions.get(node_type)

    def phase_of(self, node_type):
        action = self.actions.get(node_type)
        return action.phase if action else None


registry = Registry()


#: every package whose `register(registry)` adds apps, in catalogue order
INSTALLED = ("integrations.local", "integrations.signatures", "integrations.hubspot", "integrations.google",
             "integrations.microsoft", "integrations.s3", "integrations.ai", "integrations.stripe")


def load_apps():
    """Register every app shipped with DocG (idempotent)."""
    if registry.apps:
        return registry
    for name in INSTALLED:
        importlib.import_module(name).register(registry)
    return registry
