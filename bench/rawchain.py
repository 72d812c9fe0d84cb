"""Five no-op actors that pass one message down a chain: Dramatiq's floor.

`bench.pipeline` runs these in the same `dramatiq actors bench.rawchain`
worker processes as the DocG hops, on the same broker (`build_broker`, with
DocG's middleware, so every message also checks a pooled database connection
out and back in) and with the hop actors' options, on a queue of their own.
Each hop stamps when it started and when it handed off; the last one writes
the whole trace to a Redis hash, which is the chain's only side effect.
"""
import json
import time

import dramatiq

from actors import broker as docg_broker  # NOTE: installs DocG's broker before the actors below exist
from actors.phases import HOP_OPTIONS
from bench import noop, sqlcount

noop.register()  # NOTE: the no-op node exists only in the bench's processes, not in the shipped registry
sqlcount.install(docg_broker.services.db)  # counts only when DOCG_BENCH_SQL_COUNTS is set

QUEUE = "bench-rawchain"
OPTIONS = {**HOP_OPTIONS, "queue_name": QUEUE}


def results_key(batch):
    """Return the Redis hash where the runs of `batch` record their traces."""
    return f"{docg_broker.services.settings.broker_namespace}:rawchain:{batch}"


def start(batch, run_id):
    """Send the first hop of one chain run."""
    raw_hop_0.send(batch, run_id, time.time(), [])


def _pass_on(index, batch, run_id, created, trace):
    started = time.time()
    if index + 1 < len(HOPS):
        handed_off = time.time()
        HOPS[index + 1].send(batch, run_id, created, [*trace, [started, handed_off]])
        return
    done = time.time()
    record = {"created": created, "trace": [*trace, [started, done]], "completed": done}
    docg_broker.services.redis.hset(results_key(batch), run_id, json.dumps(record))


@dramatiq.actor(**OPTIONS)
def raw_hop_0(batch, run_id, created, trace):
    _pass_on(0, batch, run_id, created, trace)


@dramatiq.actor(**OPTIONS)
def raw_hop_1(batch, run_id, created, trace):
    _pass_on(1, batch, run_id, created, trace)


@dramatiq.actor(**OPTIONS)
def raw_hop_2(batch, run_id, created, trace):
    _pass_on(2, batch, run_id, created, trace)


@dramatiq.actor(**OPTIONS)
def raw_hop_3(batch, run_id, created, trace):
    _pass_on(3, batch, run_id, created, trace)


@dramatiq.actor(**OPTIONS)
def raw_hop_4(batch, run_id, created, trace):
    _pass_on(4, batch, run_id, created, trace)


HOPS = (raw_hop_0, raw_hop_1, raw_hop_2, raw_hop_3, raw_hop_4)
