"""Due timers: fire wait expiries and approval reminders within seconds.

The deadlines live in PostgreSQL (`approvals.expires_at`, `reminder_hours`,
`signature_requests.expires_at`); no long broker delay holds them. periodiq
ticks once a minute, so `arm_timer_ticks` turns each minute into a train
of `fire_due_timers` messages delayed 0, T, 2T ... seconds
(T = `TIMER_TICK_SECONDS`): every broker delay stays under a minute.

NOTE: RabbitMQ redelivers a message its consumer holds past
`consumer_timeout` (30 minutes by default) and Dramatiq holds delayed
messages in the worker until due, so a two-day approval deadline as a
delayed message would loop; the Redis broker keeps delayed messages in
its own memory, not in PostgreSQL's backups. A message past its slot is
dropped (a later slot covers it). Each slot is claimed once in
`clock_ticks`, so any number of clock processes fire each slot once.
"""
import datetime
import logging

import dramatiq
import pendulum
from periodiq import cron
from peewee import IntegrityError

from actors.broker import services
from storage.db import database
from storage.models import ClockTick

log = logging.getLogger("docg.timers")

#: a broker delay up to this long is fine on every broker; longer waits go through the clock
SHORT_HORIZON_MS = 60_000


def slot_offsets(tick_seconds):
    """Seconds into the minute at which due timers are fired."""
    step = max(1, min(60, int(tick_seconds)))
    return list(range(0, 60, step))


def claim_slot(moment):
    """True for the first process that claims the timer slot at `moment` (to the second)."""
    slot = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    try:
        with database.atomic():
            ClockTick.create(job="fire_due_timers", tick=slot)
        return True
    except IntegrityError:
        return False


def fire_due():
    """Expire overdue waits and send due reminders; return what was done."""
    from actors import scheduled

    return {"expired": scheduled.expire_overdue(), "reminded": scheduled.send_reminders(),
            "admitted": scheduled.admit_deferred()}


def arm(minute, tick_seconds, now=None):
    """Send the train of slot messages for the rest of `minute`; return how many."""
    now = now or pendulum.now("UTC")
    sent = 0
    for offset in slot_offsets(tick_seconds):
        slot = minute.add(seconds=offset)
        delay_ms = int((slot - now).total_seconds() * 1000)
        if delay_ms > -tick_seconds * 1000:
            fire_due_timers.send_with_options(args=(slot.isoformat(),), delay=max(0, delay_ms))
            sent += 1
    return sent


def expiry_delay_ms(expires_at, now):
    """Broker delay for a wait's own expiry message, or None when the deadline is too far."""
    delay_ms = max(0, int((expires_at - now).total_seconds() * 1000)) + 500
    return delay_ms if delay_ms <= SHORT_HORIZON_MS else None


@dramatiq.actor(periodic=cron("* * * * *"), queue_name="clock", max_retries=0)
def arm_timer_ticks():
    from actors import scheduled

    minute = pendulum.now("UTC").start_of("minute")
    if scheduled.tick("arm_timer_ticks", lambda: None):
        arm(minute, services.settings.timer_tick_seconds)


@dramatiq.actor(queue_name="clock", max_retries=3, min_backoff=200)
def fire_due_timers(slot):
    moment = pendulum.parse(slot)
    if pendulum.now("UTC").diff(moment).in_seconds() > 60 or not claim_slot(moment):
        return
    log.info("timer slot %s: %s", slot, fire_due())
