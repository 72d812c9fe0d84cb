"""Liveness of the web process and what it depends on."""
import falcon

from actors.broker import ping as broker_ping
from storage.db import database


def _check(probe):
    try:
        probe()
        return "ok"
    except Exception as ex:  # noqa: BLE001 - any failure is reported, not raised
        return f"error: {type(ex).__name__}"


class Health:
    auth = "public"

    def __init__(self, redis, broker):
        self.redis, self.broker = redis, broker

    def on_get(self, req, resp):
        checks = {
            "db": _check(lambda: database.execute_sql("SELECT 1")),
            "redis": _check(self.redis.ping),
            "broker": _check(lambda: broker_ping(self.broker)),
        }
        healthy = all(v == "ok" for v in checks.values())
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.media = {"status": "ok" if healthy else "degraded", **checks}


class SseHealth:
    auth = "public"

    def __init__(self, redis):
        self.redis = redis

    def on_get(self, req, resp):
        redis_state = _check(self.redis.ping)
        resp.status = falcon.HTTP_200 if redis_state == "ok" else falcon.HTTP_503
        resp.media = {"status": "ok" if redis_state == "ok" else "degraded", "redis": redis_state, "mode": "streams"}
