"""Apply verified Stripe events to the runs that created their sessions."""
import dramatiq

from integrations.stripe import payments


@dramatiq.actor(queue_name="waits", max_retries=20, min_backoff=500)
def apply_stripe_delivery(delivery_id):
    payments.apply_delivery(delivery_id)
