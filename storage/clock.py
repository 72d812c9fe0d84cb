"""Work done by the clock: tick dedupe, stuck-run lookup, stream retention."""
import datetime

from peewee import IntegrityError

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


def stuck_executions(older_than_seconds, limit=100):
    """Runs that should be moving but made no hop progress for too long."""
    before = utcnow() - datetime.timedelta(seconds=older_than_seconds)
    return list(Execution.select(Execution.id)
                .where(Execution.status.in_(ACTIVE_WORK) & (Execution.last_progress_at < before)
                       & Execution.admitted_at.is_null(False))  # deferred runs: actors/timers.py
                .order_by(Execution.last_progress_at).limit(limit))


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


__all__ = ["claim_tick", "stuck_executions", "trim_streams", "events"]
