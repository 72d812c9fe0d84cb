"""A node that does nothing, for the bench only: what DocG's bookkeeping costs per hop.

`bench.pipeline` runs a workflow of five of these next to the raw chain and
the real local workflow. It is not shipped as a user node: it is not part of
any app (`registry.apps`, the catalogue the API lists, never sees it) and it
exists only in processes that import this module, which are the bench and its
worker (`dramatiq actors bench.rawchain`); a web process never does.
"""
from integrations.base import Action, Result
from integrations.registry import load_apps

KEY = "bench-noop"


class NoOp(Action):
    """Return an empty output at once."""

    key = KEY
    name = "Bench no-op"
    # NOTE: the trigger phase, because it is the plainest: no dry-run stop, no
    # "sending" status, and no audit row (render/save/delivery nodes add one).
    phase = "trigger"
    references = {}

    def run(self, ctx):
        return Result(output={})


def register():
    """Add the no-op to the action table only (idempotent); return its node type."""
    registry = load_apps()
    registry.actions.setdefault(KEY, NoOp())
    return KEY


def workflow(count=5):
    """The JSON body of a workflow of `count` no-op nodes."""
    return {"name": "bench no-op", "description": f"{count} × {KEY}",
            "nodes": [{"node_type": KEY, "label": f"noop{i + 1}", "config": {}} for i in range(count)]}
