"""One thin actor per phase; each runs one hop of the pipeline."""
import dramatiq

from actors import pipeline
from actors.broker import services

HOP_OPTIONS = {
    "queue_name": "pipeline",
    "max_retries": services.settings.hop_max_retries,
    "min_backoff": 500,
    "max_backoff": 60_000,
    "time_limit": services.settings.hop_time_limit_ms,
}


@dramatiq.actor(**HOP_OPTIONS)
def trigger_hop(envelope):
    pipeline.run_hop(envelope, phase="trigger")


@dramatiq.actor(**HOP_OPTIONS)
def render_hop(envelope):
    pipeline.run_hop(envelope, phase="render")


@dramatiq.actor(**HOP_OPTIONS)
def save_hop(envelope):
    pipeline.run_hop(envelope, phase="save")


@dramatiq.actor(**HOP_OPTIONS)
def delivery_hop(envelope):
    pipeline.run_hop(envelope, phase="delivery")


@dramatiq.actor(**HOP_OPTIONS)
def approval_hop(envelope):
    pipeline.run_hop(envelope, phase="approval")


@dramatiq.actor(**HOP_OPTIONS)
def signature_hop(envelope):
    pipeline.run_hop(envelope, phase="signature")


pipeline.HOPS.update(trigger=trigger_hop, render=render_hop, save=save_hop, delivery=delivery_hop,
                     approval=approval_hop, signature=signature_hop)


@dramatiq.actor(**HOP_OPTIONS)
def preflight_hop(envelope):
    pipeline.run_preflight(envelope)


pipeline.HOPS["preflight"] = preflight_hop
