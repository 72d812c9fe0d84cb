"""Preflight: check a run before its first action (seed F2).

Domains: data (variables resolve, required fields), template (exists, tags
mapped), permissions (connections, folders), delivery (recipients, URLs),
signature (provider, signers, a document to sign). Each problem is an Issue
with a code from the recommended-actions table; `blocking` issues stop the
run in `needs_review`, warnings are shown and the run goes on.
"""
import dataclasses
import datetime

import peewee

from integrations import preflight_warnings, variables
from integrations.base import load_apps
from integrations.errors import IntegrationError

DOMAIN_OF_PREFIX = [("template.", "template"), ("delivery.", "delivery"), ("approval.", "delivery"),
                    ("signature.", "signature"), ("storage.", "permissions"), ("render.", "template")]
PERMISSION_CODES = {"permission_denied", "connection_error", "oauth_expired", "drive.insufficient_permissions",
                    "drive.folder_not_found", "drive.file_not_found", "oauth.missing_scope"}
GOOGLE = "https://www.googleapis.com/auth/"
#: a granted scope that includes others (compared after `_scope_name`)
COVERS = {"https://mail.google.com/": {f"{GOOGLE}gmail.send", f"{GOOGLE}gmail.compose"},
          f"{GOOGLE}gmail.modify": {f"{GOOGLE}gmail.send", f"{GOOGLE}gmail.compose"},
          f"{GOOGLE}gmail.compose": {f"{GOOGLE}gmail.send"},
          "files.readwrite.all": {"files.readwrite"}}


@dataclasses.dataclass
class Issue:
    code: str
    domain: str
    message_human: str
    message_tech: str
    node_id: str | None
    severity: str = "blocking"


@dataclasses.dataclass
class PreflightContext:
    """What a node's check may look at: the run's inputs, not its outputs."""

    organization_id: str
    trigger: dict
    settings: object
    earlier_phases: list
    earlier_labels: set
    correlation_id: str | None = None
    #: the organization's email_domains, read once per check by the first node with recipients
    email_domains: list | None = None


def domain_of(code):
    if code in PERMISSION_CODES:
        return "permissions"
    return next((domain for prefix, domain in DOMAIN_OF_PREFIX if code.startswith(prefix)), "data")


def from_error(error, node_id, severity="blocking"):
    return Issue(error.code, domain_of(error.code), error.message_human, error.message_tech, node_id, severity)


def _variable_issues(node, ctx):
    missing = []
    for name in sorted(set(variables.find(node["config"]))):
        head, _, rest = name.partition(".")
        if head == "trigger":
            if variables.lookup({"trigger": ctx.trigger}, name) is variables.MISSING:
                missing.append(name)
        elif rest.split(".", 1)[0] not in ctx.earlier_labels:
            missing.append(name)
    if not missing:
        return []
    names = ", ".join("{{" + m + "}}" for m in missing)
    return [Issue("unresolved_variables", "data", f"These variables have no value: {names}.",
                  f"unresolved in node config: {missing}", node["node_id"])]


def _scope_name(scope):
    """Compare scopes as Google and Microsoft write them (Graph may prefix its resource)."""
    return scope.strip().removeprefix("https://graph.microsoft.com/").lower()


def _scope_issues(action, config, ctx, node_id):
    """A blocking issue when the connection was granted fewer OAuth scopes than the action needs.

    Connections whose grant was not recorded (API keys, providers that do not
    say) are not judged here; the call itself will tell.
    """
    from storage.connections import granted_scopes

    if not action.scopes or not config.get("connection_id"):
        return []
    granted = granted_scopes(config["connection_id"], ctx.organization_id)
    if granted is None:
        return []
    have = {_scope_name(s) for s in granted}
    have |= {covered.lower() for s in have for covered in COVERS.get(s, ())}
    missing = [s for s in action.scopes if _scope_name(s) not in have]
    if not missing:
        return []
    return [Issue("oauth.missing_scope", "permissions",
                  f"Reconnect the account: it has not allowed DocG to {action.name.lower()} "
                  f"(missing permission {', '.join(missing)}).",
                  f"granted scopes {sorted(granted)} lack {missing}", node_id)]


def check(nodes, *, trigger, organization_id, settings, reused=(), correlation_id=None):
    """Check `nodes` (dicts: node_id, node_type, label, config, phase) before a run."""
    registry = load_apps()
    ctx = PreflightContext(organization_id=str(organization_id), trigger=trigger or {}, settings=settings,
                           earlier_phases=[], earlier_labels=set(), correlation_id=correlation_id)
    for node in reused:
        ctx.earlier_phases.append(node["phase"])
        ctx.earlier_labels.update({node["label"], str(node["node_id"])})
    issues = []
    for node in nodes:
        action = registry.action(node["node_type"])
        if action is None:
            issues.append(Issue("invalid_config", "data", f"Step type {node['node_type']!r} is not available.",
                                "unknown node_type", node["node_id"]))
            continue
        issues.extend(_variable_issues(node, ctx))
        config = variables.resolve_partial(node["config"] or {}, {"trigger": ctx.trigger})
        try:
            scope_issues = _scope_issues(action, config, ctx, node["node_id"])
            issues.extend(scope_issues or action.check(config, ctx, node["node_id"]))
            issues.extend(preflight_warnings.check(node, config, ctx))
        except IntegrationError as error:
            issues.append(from_error(error, node["node_id"]))
        except Exception as error:  # noqa: BLE001 - a check that breaks blocks the run in review, never queued for ever
            code = "invalid_data" if isinstance(error, peewee.DataError) else "internal_error"
            issues.append(Issue(code, "data", f"The step “{node['label']}” could not be checked.",
                                f"{type(error).__name__}: {error}", node["node_id"]))
        ctx.earlier_phases.append(node["phase"])
        ctx.earlier_labels.update({node["label"], str(node["node_id"])})
    return issues


def summary(issues):
    """The run state's preflight_summary (seed F1), with issues grouped by domain."""
    groups = {}
    for issue in issues:
        groups.setdefault(issue.domain, []).append(dataclasses.asdict(issue))
    return {"blocking_count": sum(i.severity == "blocking" for i in issues),
            "warning_count": sum(i.severity == "warning" for i in issues),
            "completed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(), "groups": groups}
