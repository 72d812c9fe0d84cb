"""Traces and metrics shared by every process (web, worker, clock).

`telemetry` sits between `storage` and the processes: it may read
`storage` (the clock's gauges) and imports neither `actors` nor `web`, so
both can use it. `tracing` wires OpenTelemetry (off unless an OTLP
endpoint is configured); `metrics` holds the Prometheus instruments, the
per-role exposition servers and the scrape-time collectors.
"""
import os
import sys


def process_role(argv=None):
    """Name this process's role from its command line: worker, clock or web.

    NOTE: dramatiq forks its worker processes from its CLI and periodiq runs
    in its own CLI, so argv[0] names the role without another variable.
    """
    argv = sys.argv if argv is None else argv
    head = os.path.basename(argv[0] if argv else "")
    if "periodiq" in head:
        return "clock"
    if "dramatiq" in head or (head == "__main__.py" and "dramatiq" in (argv[0] or "")):
        return "worker"
    return "web"
