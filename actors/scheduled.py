"""periodiq jobs: expiry sweep, reminders, stuck-run reaper, stranded webhooks, event relay, stream trimming.

periodiq has no lock, so every job first claims its tick in `clock_ticks`
(job, minute in UTC); a second clock process finds the tick taken and does
nothing. Each actor is the claim plus a plain function that does the work.
"""
import logging

import dramatiq
import pendulum
from periodiq import cron

from actors import flow
from actors.broker import services
from integrations.errors import RunStuck
from storage import clock
from storage import steps as step_state
from storage.models import Execution
from telemetry import metrics

log = logging.getLogger("docg.clock")

STRANDED_AFTER_SECONDS = 60


def _claimed(job):
    return clock.claim_tick(job, pendulum.now("UTC"))


def tick(job, work):
    """Run `work` if this process claims the job's tick; True if it ran.

    The actors return nothing (Dramatiq has no result backend here); what a
    tick did goes to the log.
    """
    if not _claimed(job):
        return False
    log.info("clock job %s: %s", job, work())
    return True


def redrive_stuck(older_than=None, *, page=100):
    """Re-drive every run that should be moving but made no hop progress; return how many.

    Pages through all of them by id, records each re-drive, and fails a run
    re-driven REDRIVE_MAX times without progress with `run.stuck`, so poisoned
    runs neither come back for ever nor keep healthy ones waiting.
    """
    settings = services.settings
    older_than = settings.reaper_stuck_seconds if older_than is None else older_than
    count, after = admit_deferred(), None
    while True:
        stuck = clock.stuck_executions(older_than, limit=page, after=after)
        if not stuck:
            return count
        after = stuck[-1].id
        redriven = []
        for execution in stuck:
            if clock.gave_up(execution, settings.redrive_max):
                try:
                    step_state.fail_run(Execution.get_by_id(execution.id), RunStuck(
                        message_tech=f"re-driven {execution.redrive_count} times without progress (REDRIVE_MAX)"))
                except Exception as ex:  # noqa: BLE001 - the next pass tries again; the others go on now
                    log.warning("failing stuck run %s failed: %s: %s", execution.id, type(ex).__name__, ex)
                continue
            redriven.append(execution.id)
        clock.record_redrives(redriven)
        if redriven:
            metrics.instruments().redrives.inc(len(redriven))
        for execution_id in redriven:
            try:
                flow.advance(execution_id)
            except Exception as ex:  # noqa: BLE001 - one run's trouble must not starve the others
                log.warning("re-drive of %s failed: %s: %s", execution_id, type(ex).__name__, ex)
        count += len(stuck)


def admit_deferred():
    """Start deferred runs of every organization with free slots (fair share)."""
    from storage import admission

    return sum(flow.release_slots(org) for org in admission.waiting_organizations())


def expire_overdue():
    """Safety net for the delayed expiry messages: expire what is overdue."""
    from actors import waits
    from storage import approvals, signatures

    overdue = approvals.expired_waits() + signatures.expired_waits()
    for execution_id, node_id in overdue:
        waits.expire(execution_id, node_id)
    return len(overdue)


def settle_stranded_waits(older_than=STRANDED_AFTER_SECONDS):
    """Settle waits whose answer was recorded but not acted on (crash or Redis
    failure between the answer's commit and the settle)."""
    from actors import waits
    from storage import waits as wait_state

    stranded = wait_state.stranded(older_than)
    for execution_id, node_id in stranded:
        waits.settle(execution_id, node_id)
    return len(stranded)


def resend_stranded_webhooks(older_than=STRANDED_AFTER_SECONDS):
    """Re-send verified webhooks whose apply message never left (Redis was down)."""
    from actors.payments import apply_stripe_delivery
    from actors.waits import apply_signature_delivery
    from integrations.signatures import providers
    from storage import deliveries

    senders = {"stripe": apply_stripe_delivery, **{name: apply_signature_delivery for name in providers.PROVIDERS}}
    stranded = deliveries.unapplied(senders, older_than)
    for delivery_id, provider in stranded:
        senders[provider].send(delivery_id)
    return len(stranded)


def send_reminders():
    """Email approvers who have not decided after `reminder_hours` (once each), and
    sandbox signers who have not signed (every `reminder_hours`, a few times)."""
    from integrations.local.approval import approval_message
    from integrations.local.email import smtp_send
    from storage import approvals

    sent = 0
    for approval in approvals.reminders_due():
        if not approval.token_ciphertext or not approvals.claim_reminder(approval):
            continue
        message = approval_message(services.settings, approval, approval.token_ciphertext, reminder=True)
        smtp_send(services.settings.smtp_url, message)
        sent += 1
    return sent + remind_signers()


def remind_signers():
    from integrations.signatures import sandbox_mail
    from integrations.signatures.sandbox import remind_due

    return remind_due(sandbox_mail.sender(services.settings))


def relay_events():
    """Publish outbox events a crash or a Redis outage kept from their streams.

    NOTE: never further back than REDIS_STREAM_TTL, or it would bring back
    the streams of ended runs that retention let expire.
    """
    settings = services.settings
    return services.events.relay_leftovers(min(settings.outbox_relay_window, settings.redis_stream_ttl))


def trim_streams():
    settings = services.settings
    return clock.trim_streams(services.redis, settings.redis_stream_maxlen, settings.redis_stream_ttl)


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def reap_stuck_runs():
    tick("reap_stuck_runs", redrive_stuck)


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def sweep_expired_waits():
    tick("sweep_expired_waits", expire_overdue)


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def settle_waits():
    tick("settle_waits", settle_stranded_waits)


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def resend_webhooks():
    tick("resend_webhooks", resend_stranded_webhooks)


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def send_approval_reminders():
    tick("send_approval_reminders", send_reminders)


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def relay_event_leftovers():
    tick("relay_event_leftovers", relay_events)


@dramatiq.actor(periodic=cron("*/5 * * * *"), queue_name="clock", max_retries=0)
def trim_event_streams():
    tick("trim_event_streams", trim_streams)
