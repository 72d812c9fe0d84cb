"""Work done by the clock: tick dedupe, stuck-run lookup, stream retention."""
import datetime

from peewee import Case, IntegrityError

from storage import events
from storage.db import database
from storage.models import ClockTick, Execution, utcnow
from storage.runstate import TERMINAL

ACTIVE_WORK = ("queued", "running", "sending", "sent", "signed", "ready")


def claim_tick(job, moment):
    """Return True for the first clock process that claims this minute of `job`."""
    tick = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M")
    try:
        with database.atomic():
            ClockTick.create(job=job, tick=tick)
        return True
    except IntegrityError:
        return False


def stuck_executions(older_than_seconds, limit=100, after=None):
    """One page, by id after `after`, of runs that should be moving but made no hop progress.

    A run re-driven within the window is left out, so one pass sees each
    stuck run once and a re-drive has time to show progress.
    """
    before = utcnow() - datetime.timedelta(seconds=older_than_seconds)
    query = (Execution.select(Execution.id, Execution.status, Execution.redrive_count, Execution.redriven_at,
                              Execution.last_progress_at)
             .where(Execution.status.in_(ACTIVE_WORK) & (Execution.last_progress_at < before)
                    # a queued run not yet admitted is deferred, not stuck: admission starts it
                    & (Execution.admitted_at.is_null(False) | (Execution.status != "queued"))
                    & (Execution.redriven_at.is_null() | (Execution.redriven_at < before))))
    if after is not None:
        query = query.where(Execution.id > after)
    return list(query.order_by(Execution.id).limit(limit))


def gave_up(execution, redrive_max):
    """True when the run was re-driven `redrive_max` times with no progress since the first of them."""
    no_progress = execution.redriven_at is not None and execution.last_progress_at <= execution.redriven_at
    return no_progress and execution.redrive_count >= redrive_max


def record_redrives(execution_ids):
    """Count one re-drive of each run; the count restarts when the run progressed since the last one."""
    if not execution_ids:
        return 0
    return (Execution.update(
        redrive_count=Case(None, [((Execution.redriven_at.is_null()
                                    | (Execution.last_progress_at > Execution.redriven_at)), 1)],
                           Execution.redrive_count + 1),
        redriven_at=utcnow())
        .where(Execution.id.in_(list(execution_ids))).execute())


def trim_streams(redis, maxlen, ttl):
    """Trim every run stream to MAXLEN; give ended runs' streams their TTL."""
    trimmed = expired = 0
    for key in redis.scan_iter(match="docg:exec:*", count=500):
        redis.xtrim(key, maxlen=maxlen, approximate=True)
        trimmed += 1
        if redis.ttl(key) == -1:
            execution_id = key.decode().rsplit(":", 1)[-1]
            row = Execution.get_or_none(Execution.id == execution_id)
            if row is None or row.status in TERMINAL:
                ended = row.completed_at if row and row.completed_at else utcnow()
                remaining = ttl - int((utcnow() - ended).total_seconds())
                if remaining <= 0:
                    redis.delete(key)
                else:
                    redis.expire(key, remaining)
                expired += 1
    for key in redis.scan_iter(match="docg:org:*", count=500):
        redis.xtrim(key, maxlen=maxlen * 10, approximate=True)
    return trimmed, expired


__all__ = ["claim_tick", "stuck_executions", "gave_up", "record_redrives", "trim_streams", "events"]
