"""Resolve `{{trigger.path}}` and `{{step.<label or node id>.path}}` in config.

A string that is exactly one variable takes the value's own type (a list
stays a list); variables inside longer text are formatted into it. Every
variable that does not resolve is collected and reported at once.
"""
import re

from integrations.errors import UnresolvedVariables

VARIABLE = re.compile(r"\{\{\s*((?:trigger|step)(?:\.[^{}\s.]+)+|trigger)\s*\}\}")
MISSING = _MISSING = object()


def lookup(run, dotted):
    """Return the value at `dotted` in the run context, or _MISSING."""
    head, *rest = dotted.split(".")
    if head == "trigger":
        value = run.get("trigger", {})
    else:
        if not rest:
            return _MISSING
        key, *rest = rest
        steps = run.get("steps", {})
        label = run.get("step_ids", {}).get(key, key)
        value = steps.get(label, _MISSING)
    for part in rest:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def find(value):
    """Yield every variable name used anywhere in `value`."""
    if isinstance(value, str):
        yield from (m.group(1) for m in VARIABLE.finditer(value))
    elif isinstance(value, dict):
        for item in value.values():
            yield from find(item)
    elif isinstance(value, list):
        for item in value:
            yield from find(item)


def unresolved(value, run):
    return sorted({name for name in find(value) if lookup(run, name) is _MISSING})


def resolve(value, run, *, escape=None):
    """Return `value` with every variable replaced; raise UnresolvedVariables.

    `escape` (e.g. html.escape for an HTML e-mail body) is applied to each
    value put into text; the text written around variables is left alone.
    """
    missing = unresolved(value, run)
    if missing:
        raise UnresolvedVariables([f"{{{{{name}}}}}" for name in missing])
    return _resolve(value, run, escape)


def _resolve(value, run, escape=None):
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value.strip())
        if whole and escape is None:
            return lookup(run, whole.group(1))
        text = _text if escape is None else (lambda found: escape(_text(found)))
        return VARIABLE.sub(lambda m: text(lookup(run, m.group(1))), value)
    if isinstance(value, dict):
        return {key: _resolve(item, run, escape) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, run, escape) for item in value]
    return value


def _text(value):
    return "" if value is None else str(value)


def resolve_partial(value, run):
    """Replace the variables that resolve now; leave the others as written."""
    if isinstance(value, str):
        whole = VARIABLE.fullmatch(value.strip())
        if whole:
            found = lookup(run, whole.group(1))
            return value if found is _MISSING else found
        return VARIABLE.sub(lambda m: m.group(0) if lookup(run, m.group(1)) is _MISSING
                            else _text(lookup(run, m.group(1))), value)
    if isinstance(value, dict):
        return {key: resolve_partial(item, run) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_partial(item, run) for item in value]
    return value


def has_variables(value):
    return next(find(value), None) is not None
