"""Read every environment variable once, in one table, with defaults.

`load()` is the only way to get configuration; nothing reads the environment
at import time, and nothing here starts anything. With no `DATABASE_URL` /
`REDIS_URL` the callers start the embedded default under `VAR_DIR`
(`storage.embedded.with_servers`).
"""
import contextvars
import dataclasses
import json
import logging
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _csv(value):
    return tuple(v.strip() for v in str(value).split(",") if v.strip())


#: name, default, parser, what it is for
TABLE = [
    ("PORT", "8000", int, "port the web process binds to"),
    ("DATABASE_URL", "", str, "PostgreSQL URL; empty starts the embedded server"),
    ("REDIS_URL", "", str, "Redis URL; empty starts the embedded server"),
    ("SECRET_KEY", "dev-insecure-secret-change-me", str, "signs stream tokens and OAuth state"),
    ("ENCRYPTION_KEY", "", str, "kid:base64key[,kid:key...] for credentials; first one writes"),
    ("ADMIN_TOKEN", "", str, "bearer token for /ops (dashboard, metrics); empty disables /ops"),
    ("PUBLIC_BASE_URL", "", str, "base of links sent to people; empty means http://localhost:$PORT"),
    ("REDIS_STREAM_MAXLEN", "1000", int, "approximate MAXLEN of each run's event stream"),
    ("REDIS_STREAM_TTL", "86400", int, "seconds a run's stream lives after the run ends"),
    ("SMTP_URL", "smtp://localhost:1025", str, "smtp://[user:pass@]host:port[?starttls=1] for the email node; unset, "
                                                "`docg up` starts a mail catcher (see /ops/mail)"),
    ("SMTP_FROM", "docg@localhost", str, "From address of emails sent by runs"),
    ("STORAGE_ROOT", "", str, "root for relative storage folders; empty means VAR_DIR/files"),
    ("VAR_DIR", str(ROOT / "var"), str, "where embedded servers and local files live"),
    ("DB_POOL_SIZE", "20", int, "max PostgreSQL connections per process"),
    ("DB_POOL_IDLE", "20", int, "PostgreSQL connections a process keeps open while idle; one returned beyond "
                                "these is closed"),
    ("BROKER_NAMESPACE", "docg", str, "Redis key namespace of the Dramatiq broker"),
    ("BROKER_HEARTBEAT_MS", "10000", int, "a worker silent this long is dead; its messages are redelivered"),
    ("BROKER_MAINTENANCE_CHANCE", "20000", int, "Redis broker: out of a million broker commands, how many also put "
                                                "back the messages of dead workers"),
    ("HOP_TIME_LIMIT_MS", "300000", int, "a node that runs longer is interrupted and retried"),
    ("HOP_MAX_RETRIES", "5", int, "retries of a hop failing with a transient error"),
    ("HOP_CHAIN_MS", "1000", int, "a worker runs a run's next nodes in the same message until this much time "
                                  "has passed (0: one node per message)"),
    ("REDIS_POOL_SIZE", "20", int, "max pooled Redis connections per process, for the app and again for the "
                                    "broker (SSE's one reader comes on top)"),
    ("REDIS_POOL_TIMEOUT", "5", float, "seconds a caller waits for a free pooled Redis connection before an error"),
    ("WEB_CONCURRENCY", "2", int, "gunicorn worker processes of the web role (Heroku sets it per dyno size)"),
    ("WEB_CONNECTIONS", "2000", int, "gunicorn worker_connections: open connections per web worker"),
    ("SSE_HEARTBEAT_SECONDS", "15", float, "idle seconds between SSE heartbeat comments"),
    ("SSE_MAX_STREAMS", "0", int, "open SSE streams per web worker, then 503; 0 means 90% of WEB_CONNECTIONS"),
    ("SSE_CLIENT_BUFFER", "10000", int, "live events queued for one slow SSE client; past it its stream ends and "
                                        "the reconnect replays"),
    ("SSE_RETRY_MS", "3000", int, "reconnect delay the `retry:` hint of every SSE stream asks its client for"),
    ("SSE_HUB_BLOCK_MS", "5000", int, "milliseconds one quiet XREAD of a web process's SSE reader waits before "
                                      "it reads again"),
    ("CLICKSIGN_WEBHOOK_SECRET", "", str, "HMAC secret of ClickSign webhooks (Content-Hmac)"),
    ("ZAPSIGN_WEBHOOK_SECRET", "", str, "value ZapSign sends in the webhook secret header"),
    ("SIGNATURE_SANDBOX_URL", "", str, "where sandbox signers open their links; empty means PUBLIC_BASE_URL"),
    ("HUBSPOT_CLIENT_ID", "", str, "OAuth client of the HubSpot app"),
    ("HUBSPOT_CLIENT_SECRET", "", str, "OAuth client secret of the HubSpot app"),
    ("GOOGLE_CLIENT_ID", "", str, "OAuth client of the Google apps (Docs, Slides, Drive, Forms, Gmail)"),
    ("GOOGLE_CLIENT_SECRET", "", str, "OAuth client secret of the Google apps"),
    ("MICROSOFT_CLIENT_ID", "", str, "OAuth client of the Microsoft apps (Word, PowerPoint, Outlook)"),
    ("MICROSOFT_CLIENT_SECRET", "", str, "OAuth client secret of the Microsoft apps"),
    ("STRIPE_WEBHOOK_SECRET", "", str, "whsec_... secret that signs Stripe webhooks"),
    ("LOG_LEVEL", "INFO", str, "level of the JSON log lines every process writes"),
    ("HTTP_TIMEOUT", "15", float, "seconds for every outbound HTTP call"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "", str, "OTLP/HTTP collector base URL for traces; empty turns tracing off"),
    ("OTEL_SERVICE_NAME", "docg", str, "service.name of exported spans (the process role is appended)"),
    ("WORKER_METRICS_PORT", "9191", int, "Prometheus port of a worker (`dramatiq`) process group; 0 disables"),
    ("CLOCK_METRICS_PORT", "9192", int, "Prometheus port of the clock (`periodiq`) process; 0 disables"),
    ("RETENTION_DAYS", "90", int, "days an ended run is kept, for organizations without their own retention_days"),
    ("AUDIT_RETENTION_DAYS", "2557", int, "days the audit trail is kept; older monthly partitions are dropped whole"),
    ("RETENTION_BATCH", "50", int, "runs the retention job deletes per transaction"),
    ("DOCG_EMBEDDED", "", _bool, "set by `docg up`/`docg demo` for the processes they start on the embedded "
                                 "servers; not for hand use"),
    ("WEBHOOK_TOLERANCE_SECONDS", "300", int, "a signed trigger webhook whose timestamp is further from now is "
                                                "refused (401)"),
    ("BODY_READ_TIMEOUT_SECONDS", "15", float, "a request body not fully received in this time is cut off "
                                                "(408, connection closed)"),
    ("OUTBOUND_ALLOW", "", _csv, "host, host:port or CIDR (comma-separated) that tenant-chosen URLs may reach "
                                 "although private/loopback; empty by default"),
    ("DOCG_PROFILE", "", str, "dev allows the change-me secrets anywhere; empty allows them on the embedded default "
                              "only; any other profile refuses to start with them"),
    ("PDF_CONVERSIONS_PER_PROCESS", "2", int, "LibreOffice conversions one worker process runs at once; more wait"),
    ("PDF_TIMEOUT_SECONDS", "60", float, "a LibreOffice conversion running longer is killed (and retried)"),
    ("SIGNED_FETCH_RETRIES", "8", int, "attempts to download a signed PDF and audit trail before the run goes on "
                                       "without them"),
    ("DEFAULT_LOCALE", "en", str, "locale (en or pt-BR) of organizations created without one"),
    ("TEMPLATE_RENDER_TIMEOUT_S", "10", float, "seconds one tenant template may take to render (template.timeout)"),
    ("TEMPLATE_MAX_OUTPUT_BYTES", "20971520", int, "bytes one rendered template may produce (template.too_large)"),
    ("TEMPLATE_CACHE_BYTES", "67108864", int, "bytes of checked, compiled template versions a process keeps (0: none)"),
    ("TEMPLATE_LOCALE", "pt_BR", str, "default locale of the template filters (currency, number, date, words)"),
    ("BROKER_URL", "", str, "amqp://user:pass@host:5672/vhost runs the pipeline on RabbitMQ; empty uses REDIS_URL"),
    ("ORG_MAX_INFLIGHT", "4", int, "runs of one organization moving at once; more wait queued (0 means no limit)"),
    ("TIMER_TICK_SECONDS", "5", int, "how often the clock fires due wait expiries and reminders"),
    ("REDRIVE_MAX", "5", int, "times the reaper re-drives a run that makes no progress before it fails it with run.stuck"),
    ("REAPER_STUCK_SECONDS", "120", int, "seconds without hop progress after which the reaper re-drives a run"),
    ("OUTBOX_RELAY_WINDOW", "3600", int, "seconds back the clock looks for run events PostgreSQL holds but Redis lacks"),
    ("DOCG_FAULT", "", str, "test hook only: name of a crash point where the process exits (e.g. after_commit)"),
    ("PREFLIGHT_LARGE_TEMPLATE_BYTES", "10485760", int, "template size above which preflight warns"),
]


@dataclasses.dataclass(frozen=True)
class Settings:
    port: int
    database_url: str
    redis_url: str
    secret_key: str
    encryption_key: str
    admin_token: str
    public_base_url: str
    redis_stream_maxlen: int
    redis_stream_ttl: int
    smtp_url: str
    smtp_from: str
    storage_root: str
    var_dir: str
    db_pool_size: int
    db_pool_idle: int
    broker_namespace: str
    broker_heartbeat_ms: int
    hop_time_limit_ms: int
    hop_max_retries: int
    hop_chain_ms: int
    redis_pool_size: int
    redis_pool_timeout: float
    web_concurrency: int
    web_connections: int
    sse_heartbeat_seconds: float
    sse_max_streams: int
    sse_client_buffer: int
    clicksign_webhook_secret: str
    zapsign_webhook_secret: str
    signature_sandbox_url: str
    http_timeout: float
    log_level: str
    hubspot_client_id: str
    hubspot_client_secret: str
    google_client_id: str
    google_client_secret: str
    microsoft_client_id: str
    microsoft_client_secret: str
    stripe_webhook_secret: str
    otel_exporter_otlp_endpoint: str
    otel_service_name: str
    worker_metrics_port: int
    clock_metrics_port: int
    retention_days: int
    audit_retention_days: int
    retention_batch: int
    docg_embedded: bool
    webhook_tolerance_seconds: int
    body_read_timeout_seconds: float
    outbound_allow: tuple
    pdf_conversions_per_process: int
    pdf_timeout_seconds: float
    signed_fetch_retries: int
    docg_profile: str
    redrive_max: int
    reaper_stuck_seconds: int
    outbox_relay_window: int
    docg_fault: str
    default_locale: str
    template_render_timeout_s: float = 10.0
    template_max_output_bytes: int = 20971520
    template_locale: str = "pt_BR"
    template_cache_bytes: int = 67108864
    broker_url: str = ""
    org_max_inflight: int = 4
    timer_tick_seconds: int = 5
    preflight_large_template_bytes: int = 10485760
    sse_retry_ms: int = 3000
    sse_hub_block_ms: int = 5000
    broker_maintenance_chance: int = 20000

    @property
    def sandbox_webhook_secret(self):
        import hashlib
        import hmac

        return hmac.new(self.secret_key.encode(), b"docg-signature-sandbox", hashlib.sha256).hexdigest()

    @property
    def sse_stream_limit(self):
        """Open SSE streams one web worker admits; the rest of its slots stay for /health and the API."""
        return self.sse_max_streams or max(1, self.web_connections * 9 // 10)

    @property
    def files_root(self):
        return Path(self.storage_root or Path(self.var_dir) / "files")


def load(environ=None, *, start_embedded=False):
    """Build Settings from the environment (nothing else: no server is started here).

    `storage.embedded.with_servers(settings)` fills empty DATABASE_URL /
    REDIS_URL with embedded servers. NOTE: `start_embedded` is accepted for
    older callers and ignored.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for name, default, parse, _ in TABLE:
        values[name.lower()] = parse(environ.get(name) or default)
    values["public_base_url"] = values["public_base_url"] or f"http://localhost:{values['port']}"
    refuse_insecure_secrets(values)
    return Settings(**values)


#: the development defaults `insecure_secrets` refuses away from the embedded default
DEV_SECRET_KEY = "dev-insecure-secret-change-me"


def on_embedded_default(settings):
    """Whether this process runs on the embedded servers (no URL given, or started by `docg up`/`demo`)."""
    return settings.docg_embedded or (not settings.database_url and not settings.redis_url)


def insecure_secrets(settings):
    """What is left at a development default, when that is not allowed; empty when fine.

    Allowed with DOCG_PROFILE=dev (a try-out), and with no profile on the
    embedded default; refused on real servers or with any other profile.
    """
    if settings.docg_profile == "dev" or (not settings.docg_profile and on_embedded_default(settings)):
        return []
    problems = []
    if settings.secret_key == DEV_SECRET_KEY or not settings.secret_key:
        problems.append("SECRET_KEY is the development default; generate one with\n"
                        "    python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    if not settings.encryption_key:
        problems.append("ENCRYPTION_KEY is empty (credentials would be sealed with a key derived from SECRET_KEY); "
                        "generate one with\n    docg keys generate")
    return problems


class InsecureSettings(SystemExit):
    """Refuse to start with development secrets on real servers (or a production profile)."""


#: secrets that must not keep a placeholder value under a profile other than dev
GUARDED_SECRETS = ("SECRET_KEY", "ADMIN_TOKEN")


def refuse_insecure_secrets(values):
    """Raise InsecureSettings when a guarded secret says change-me under a profile other than dev (or none)."""
    if values["docg_profile"] in ("dev", ""):
        return
    weak = [name for name in GUARDED_SECRETS if "change-me" in values[name.lower()]]
    if weak:
        raise InsecureSettings(f"{', '.join(weak)} still contain 'change-me' and DOCG_PROFILE is "
                               f"{values['docg_profile']!r}: set real secrets (docg keys generate, or "
                               f"python -c 'import secrets; print(secrets.token_urlsafe(32))'), or set "
                               f"DOCG_PROFILE=dev for a local try-out")


def refuse_insecure(settings):
    """Stop the process (web, worker, clock) when `insecure_secrets` finds anything."""
    problems = insecure_secrets(settings)
    if problems:
        raise InsecureSettings("DocG refuses to start with development secrets on a real database or Redis:\n- "
                               + "\n- ".join(problems) + "\n(DOCG_PROFILE=dev allows them for a local try-out)")


def export_embedded(settings):
    """Put the resolved server URLs in os.environ so child processes share them."""
    if on_embedded_default(settings):
        os.environ["DOCG_EMBEDDED"] = "1"
    os.environ["DATABASE_URL"] = settings.database_url
    os.environ["REDIS_URL"] = settings.redis_url


#: the correlation id of the run being worked on, added to every log line
correlation_id = contextvars.ContextVar("correlation_id", default=None)
#: callables returning extra fields for every log line (telemetry adds trace_id/span_id)
log_field_hooks = []


def _without_message_bodies(args):
    """Log a Dramatiq message as `actor[message id]`: its arguments carry the run's data (personal data)."""
    def short(value):
        if hasattr(value, "message_id") and hasattr(value, "actor_name"):
            return f"{value.actor_name}[{value.message_id}]"
        return value

    if isinstance(args, tuple):
        return tuple(short(a) for a in args)
    if isinstance(args, dict):
        return {k: short(v) for k, v in args.items()}
    return args


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, correlation id."""

    converter = time.gmtime

    def format(self, record):
        record.args = _without_message_bodies(record.args)
        data = {"ts": f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
                "pid": record.process, "thread": record.threadName}
        correlation = getattr(record, "correlation_id", None) or correlation_id.get()
        if correlation:
            data["correlation_id"] = str(correlation)
        for hook in log_field_hooks:
            data.update(hook())
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging(level="INFO"):
    """Make every handler of the root logger write JSON lines (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(level)
