"""Prometheus metrics of every process, and where each process serves them.

| process | port | what |
|---|---|---|
| web | `/metrics` on `PORT` (admin token) | runs by status, queue depth, SSE streams open |
| worker (`dramatiq`) | `WORKER_METRICS_PORT` | hops by phase and outcome, hop duration, retries, dead letters, reaper re-drives, deferred messages |
| clock (`periodiq`) | `CLOCK_METRICS_PORT` | runs by status, waits due, queue depth and oldest message age, dead-letter queue size, outbox lag, runs past retention |

A worker group is several processes forked by the dramatiq CLI; they write
their counters to one multiprocess directory (`VAR_DIR/metrics/worker-<pid
of the dramatiq main process>`) and a fork process of the same CLI serves
the sum. Cluster-wide gauges read from PostgreSQL and Redis come from the
single clock process only, so replicas of the worker do not repeat them.
"""
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

log = logging.getLogger("docg.metrics")

#: what a hop can end with (pipeline outcomes, plus `error` when it raised and `skipped`)
HOP_OUTCOMES = ("done", "waiting", "failed", "stale", "ignored", "claimed-elsewhere", "lost-race", "stopped",
                "error", "skipped")
HOP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_instruments = None
_lock = threading.Lock()
_outcome = threading.local()


def worker_metrics_dir(var_dir, main_pid=None):
    return Path(var_dir) / "metrics" / f"worker-{main_pid or os.getppid()}"


def prepare(role, settings):
    """Point prometheus_client at the worker group's multiprocess directory.

    Must run before `prometheus_client` is first imported in the process
    (it picks its value store at import time).
    """
    if role != "worker" or not settings.worker_metrics_port:
        return None
    directory = worker_metrics_dir(settings.var_dir)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


class Instruments:
    """The counters and histograms processes update as work happens."""

    def __init__(self):
        from prometheus_client import Counter, Histogram

        self.hops = Counter("docg_hops_total", "Hops run, by phase and outcome", ["phase", "outcome"])
        self.hop_seconds = Histogram("docg_hop_duration_seconds", "Wall time of one hop", ["phase"],
                                     buckets=HOP_BUCKETS)
        self.retries = Counter("docg_message_retries_total", "Messages re-enqueued for a retry", ["actor"])
        self.dead_letters = Counter("docg_dead_letters_total", "Messages dead-lettered after their last retry",
                                    ["queue", "actor"])
        self.redrives = Counter("docg_reaper_redrives_total", "Runs the stuck-run reaper re-drove")
        self.deferred = Counter("docg_messages_deferred_total",
                                "Messages left for a compatible worker (unsupported envelope version)")
        self.retention_deleted = Counter("docg_retention_deleted_runs_total", "Ended runs deleted by retention")
        self.retention_deleted.inc(0)
        self.redrives.inc(0)
        self.deferred.inc(0)


def instruments():
    global _instruments
    with _lock:
        if _instruments is None:
            _instruments = Instruments()
    return _instruments


def note_outcome(outcome):
    """Record what the hop in hand did (read by the worker's metrics middleware)."""
    _outcome.value = outcome


def take_outcome(default):
    value = getattr(_outcome, "value", None) or default
    _outcome.value = None
    return value


def serve_worker_metrics():
    """Dramatiq fork function: serve the worker group's summed counters.

    Runs in a process the dramatiq CLI forks next to its workers; it removes
    the directories of worker groups whose main process is gone.
    """
    import http.server

    import settings as settings_module

    settings = settings_module.load(start_embedded=False)
    directory = worker_metrics_dir(settings.var_dir)
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_dirs(directory.parent)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(directory))
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    try:
        server = http.server.ThreadingHTTPServer(("0.0.0.0", settings.worker_metrics_port), Handler)
    except OSError as ex:  # NOTE: the workers go on without metrics; dramatiq ignores a fork that exits
        log.warning("worker metrics not served: port %s: %s", settings.worker_metrics_port, ex)
        return 1
    log.info("worker metrics on port %s", settings.worker_metrics_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()
    return 0


def _remove_stale_dirs(parent):
    from storage.embedded import pid_alive

    for path in parent.glob("worker-*"):
        pid = path.name.partition("-")[2]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def serve_clock_metrics(settings, broker, redis=None):
    """Serve the cluster gauges from the clock process on CLOCK_METRICS_PORT."""
    if not settings.clock_metrics_port:
        return None
    from prometheus_client import REGISTRY, start_http_server

    from telemetry.collectors import ClusterCollector

    try:
        server, _ = start_http_server(settings.clock_metrics_port, addr="0.0.0.0")
    except OSError as ex:  # NOTE: the clock's job is scheduling; it goes on without its metrics
        log.warning("clock metrics not served: port %s: %s", settings.clock_metrics_port, ex)
        return None
    REGISTRY.register(ClusterCollector(broker, settings, redis))
    log.info("clock metrics on port %s", settings.clock_metrics_port)
    return server


def oldest_message_age(client, namespace, queue_name, now_ms=None):
    """Seconds the message at the head of a Redis queue has waited (0 when empty)."""
    head = client.lindex(f"{namespace}:{queue_name}", 0)
    if head is None:
        return 0.0
    raw = client.hget(f"{namespace}:{queue_name}.msgs", head)
    if raw is None:
        return 0.0
    try:
        stamp = json.loads(raw)["message_timestamp"]
    except (ValueError, KeyError, TypeError):
        return 0.0
    now_ms = now_ms or time.time() * 1000
    return max(0.0, (now_ms - stamp) / 1000)
