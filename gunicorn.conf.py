"""gunicorn settings for the web process (gevent: many long-lived SSE streams)."""
import settings

_settings = settings.load()
settings.refuse_insecure(_settings)  # NOTE: here, in the arbiter: a worker that exits on boot is only respawned
bind = f"0.0.0.0:{_settings.port}"
worker_class = "gevent"
workers = _settings.web_concurrency
worker_connections = _settings.web_connections
timeout = 30
graceful_timeout = 10
keepalive = 5
# NOTE: gunicorn 27 opens a control socket at one path per user; parallel web processes
# (two suites, several test servers) would fight over it, and nothing here uses it.
control_socket_disable = True
accesslog = "-"
logger_class = "web.access_log.RedactingLogger"  # no approval, signing or stream tokens in the log
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(B)s,"ms":%(M)s,"request_id":"%({x-request-id}o)s"}'


def post_fork(server, worker):
    """Let psycopg2 yield to other greenlets while it waits on PostgreSQL."""
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()


def post_worker_init(worker):
    """On SIGTERM, tell SSE clients to reconnect elsewhere, then stop as gunicorn does."""
    import signal
    import threading

    from web import drain

    stop = worker.handle_exit
    if "ggevent" in type(worker).__module__:
        import gevent

        spawn = gevent.spawn  # NOTE: blocking calls are not allowed in gevent's signal callback
    else:
        def spawn(target):
            threading.Thread(target=target, daemon=True).start()

    def handle_exit(sig, frame):
        spawn(drain.begin)
        stop(sig, frame)

    signal.signal(signal.SIGTERM, handle_exit)
