"""The app framework: App, Action, Result, NodeContext and the registry.

An App (seeds: "Como Adicionar Novo App") groups actions that share an auth
type. Each Action is one node type with a phase; `run(ctx)` does the node's
work and returns a Result. The pipeline never knows which provider it runs.
"""
import dataclasses
import importlib
from typing import Any, Callable, Optional

from integrations.connections import handle_for

PHASES = ("trigger", "render", "save", "delivery", "approval", "signature")


@dataclasses.dataclass
class Result:
    """What a node produced; `wait` describes a pause for the outside world."""

    output: dict
    wait: Optional[dict] = None


@dataclasses.dataclass
class NodeContext:
    """Everything a node may use, handed in by the pipeline."""

    execution_id: str
    organization_id: str
    workflow_id: str
    correlation_id: str
    node_id: str
    node_type: str
    label: str
    position: int
    config: dict
    run: dict
    settings: Any
    dry_run: bool = False
    services: Any = None

    def connection(self, connection_id=None):
        """The node's connection (its config's `connection_id`), ready to call the provider."""
        return handle_for(connection_id or self.config.get("connection_id"), self.organization_id, self.settings)

    def http(self, connection_id=None):
        """A provider session: auth header, refresh on expiry, correlation id, timeouts."""
        return self.connection(connection_id).session(self.correlation_id)

    def once(self, effect: str, perform: Callable[..., dict], *, on_unknown: str = "resend",
             staged: bool = False) -> dict:
        """Perform an external effect at most once per (execution, node, effect).

        `on_unknown` says what a redelivered attempt does when an earlier one
        died mid-effect: `resend` (same idempotency key) or `review`
        (storage.errors.OutcomeUnknown is raised); see storage/ledger.py for `staged`.
        """
        return self.services.ledger.once(self.execution_id, self.node_id, effect, perform, on_unknown=on_unknown,
                                         staged=staged)

    @property
    def idempotency_key(self):
        return f"{self.execution_id}:{self.node_id}"


class Action:
    """One node type. Subclasses set key, name, phase and implement run()."""

    key = ""
    name = ""
    phase = ""
    description = ""
    #: JSON Schema properties of the node's config (the catalogue shows them)
    fields: dict = {}
    #: keys of the output later nodes may use as {{step.<label>.<key>}}
    outputs: tuple = ()
    #: the provider endpoints the action calls, for docs/apps.md ("POST https://...")
    endpoints: tuple = ()
    #: OAuth scopes the action needs; preflight blocks when the connection was granted fewer
    scopes: tuple = ()
    #: config keys that name DocG rows by id (key -> "template"/"connection"), checked when a workflow is saved
    references: dict = {"connection_id": "connection"}

    def run(self, ctx: NodeContext) -> Result:
        raise NotImplementedError

    def check(self, config: dict, ctx, node_id) -> list:
        """Return preflight Issues for this node's config (raise IntegrationError for one)."""
        return []

    def resolve_config(self, config: dict, run: dict) -> dict:
        """Return the config with its `{{variables}}` filled from the run (an override escapes per format)."""
        from integrations import variables

        return variables.resolve(config, run)


@dataclasses.dataclass
class OAuth:
    """How an app's OAuth2 authorization-code flow and token refresh work."""

    authorize_url: str
    token_url: str
    scopes: list
    #: settings attribute names holding the client id and secret
    client_id_setting: str
    client_secret_setting: str
    extra_authorize_params: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Provider:
    """An account a connection signs in to (one Google account serves five apps).

    `auth_type` is oauth2, api_key or bearer. `auth_header` builds the auth
    headers from a connection's credentials (default: `Bearer <token>`).
    `test` makes one cheap authenticated call with a ConnectionHandle and
    returns a small dict describing the account.
    """

    key: str
    name: str
    auth_type: str
    oauth: Optional[OAuth] = None
    default_base_url: str = ""
    auth_header: Optional[Callable[[dict], dict]] = None
    test: Optional[Callable[[Any], dict]] = None


@dataclasses.dataclass
class App:
    """One app of the catalogue (seeds: "Como Adicionar Novo App").

    `provider` names the Provider its connections sign in to (None for apps
    that need no account). `dynamic` maps a name to fn(handle, params) ->
    list of {value, label} options (for example HubSpot properties).
    """

    key: str
    name: str
    auth_type: str
    actions: list = dataclasses.field(default_factory=list)
    triggers: list = dataclasses.field(default_factory=list)
    dynamic: dict = dataclasses.field(default_factory=dict)
    webhooks: list = dataclasses.field(default_factory=list)
    provider: Optional[str] = None
    description: str = ""


# NOTE: kept importable from here; the registry lives in integrations/registry.py
from integrations.registry import INSTALLED, Registry, load_apps, registry  # noqa: E402,F401
