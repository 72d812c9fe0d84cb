"""Warning-level preflight checks: what may go wrong but does not block a run.

Each check looks at one node's config (trigger variables already resolved)
and returns `Issue`s with severity `warning`. They run after the node's own
check, for every node type, so a new node gets them without code of its own:

- `template.large_file`: the template is larger than PREFLIGHT_LARGE_TEMPLATE_BYTES;
- `template.default_used`: a template field has no value in the data but a default;
- `delivery.external_recipient`: an address outside the organization's email domains (when set);
- `approval.short_expiry` / `signature.short_expiry`: the wait ends in less than a business day;
- `delivery.insecure_url`: a webhook URL that is plain http.
"""
import functools
import io
import re
from urllib.parse import urlparse

import peewee

from integrations.errors import IntegrationError

#: NOTE: a business day here is 24 hours: a person asked in the evening still has a working day to answer.
BUSINESS_DAY_HOURS = 24
DEFAULTED = re.compile(r"{{-?\s*([A-Za-z_][\w.]*)\s*\|\s*default\b")
RECIPIENT_KEYS = ("to", "cc", "approvers")


def _issue(code, domain, human, tech, node_id):
    from integrations.preflight import Issue

    return Issue(code, domain, human, tech, node_id, "warning")


@functools.lru_cache(maxsize=32)
def template_defaults(content):
    """Names the template gives a default (`{{ name | default('…') }}`) in its text."""
    from docxtpl import DocxTemplate

    try:
        doc = DocxTemplate(io.BytesIO(content))
        doc.init_docx()
        xml = doc.patch_xml(doc.get_xml())
    except Exception:  # noqa: BLE001 - not a .docx: the node's own check reports it
        return frozenset()
    return frozenset(DEFAULTED.findall(re.sub(r"<[^>]+>", "", xml)))


def _root(path):
    head, _, rest = path.partition(".")
    return rest.split(".", 1)[0].split("[", 1)[0] if head == "trigger" and rest else head.split("[", 1)[0]


def defaulted_roots(report, content):
    """Top-level names every use of which in the template has a default (so missing data is no block).

    `report` is template_checks.inspect(content).
    """
    defaults = template_defaults(content)
    uses = {}
    for path in report.fields:
        uses.setdefault(_root(path), []).append(path)
    return {root for root, paths in uses.items() if all(p in defaults for p in paths)}


def _has_value(name, trigger):
    head, _, rest = name.partition(".")
    if head == "step":
        return True  # an earlier step's output; checked by unresolved_variables
    value = trigger
    for part in (rest if head == "trigger" else name).split("."):
        if not isinstance(value, dict) or value.get(part) in (None, ""):
            return False
        value = value[part]
    return True


def _template_warnings(config, ctx, node_id):
    from integrations.local.docx import prepared_template

    if not config.get("template_id"):
        return []
    try:
        template, prepared = prepared_template(config["template_id"], ctx.organization_id, ctx.settings)
    except (IntegrationError, ValueError, peewee.DataError):
        return []  # the node's own check reports a missing template
    issues = []
    limit = ctx.settings.preflight_large_template_bytes
    if template.size > limit:
        issues.append(_issue("template.large_file", "template",
                             f"The template is larger than {limit // (1024 * 1024) or 1} MB; rendering may be slow.",
                             f"Template size: {template.size / (1024 * 1024):.1f}MB", node_id))
    defaulted = sorted(n for n in template_defaults(prepared.content) if not _has_value(n, ctx.trigger))
    if defaulted:
        issues.append(_issue("template.default_used", "template",
                             f"These template fields have no value and will use their default: {', '.join(defaulted)}.",
                             f"defaulted template variables without data: {defaulted}", node_id))
    return issues


def _addresses(config):
    found = []
    for key in RECIPIENT_KEYS:
        value = config.get(key)
        found += [value] if isinstance(value, str) else [v for v in value or () if isinstance(v, str)]
    found += [s.get("email") for s in config.get("signers") or () if isinstance(s, dict)
              and isinstance(s.get("email"), str)]
    return [a.strip() for a in found if "@" in a and "{{" not in a]


def _recipient_warnings(config, ctx, node_id):
    from storage.tenancy import email_domains

    addresses = _addresses(config)
    if not addresses:
        return []
    if ctx.email_domains is None:
        ctx.email_domains = email_domains(ctx.organization_id)
    domains = set(ctx.email_domains)
    if not domains:
        return []
    outside = sorted({a for a in addresses if a.rsplit("@", 1)[1].lower() not in domains})
    if not outside:
        return []
    return [_issue("delivery.external_recipient", "delivery",
                   f"These addresses are outside your organization ({', '.join(sorted(domains))}): "
                   f"{', '.join(outside)}.", f"recipients outside email_domains: {outside}", node_id)]


def _hours(value, scale):
    try:
        return float(value) * scale
    except (TypeError, ValueError):
        return None


def _expiry_warnings(node, config, node_id):
    phase = node["phase"]
    if phase == "approval":
        hours, code, what = _hours(config.get("timeout_hours", 72), 1), "approval.short_expiry", "approval"
    elif phase == "signature":
        hours, code, what = _hours(config.get("expires_in_days", 7), 24), "signature.short_expiry", "signature"
    else:
        return []
    if hours is None or not 0 < hours < BUSINESS_DAY_HOURS:
        return []
    return [_issue(code, "delivery" if what == "approval" else "signature",
                   f"The {what} request expires in {hours:g} hours, less than a business day.",
                   f"{what} expiry {hours:g}h < {BUSINESS_DAY_HOURS}h", node_id)]


def _url_warnings(config, node_id):
    url = config.get("url")
    if not isinstance(url, str) or "{{" in url or urlparse(url).scheme != "http":
        return []
    return [_issue("delivery.insecure_url", "delivery",
                   "The webhook URL is plain http: the data travels unencrypted. Use https.",
                   f"url scheme http: {url[:200]}", node_id)]


def check(node, config, ctx):
    """Every warning for one node; `config` has the trigger's variables resolved."""
    node_id = node["node_id"]
    return [*_template_warnings(config, ctx, node_id), *_recipient_warnings(config, ctx, node_id),
            *_expiry_warnings(node, config, node_id), *_url_warnings(config, node_id)]
