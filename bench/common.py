"""What the benchmarks share: servers, the web process, revision, percentiles, docs sections."""
import datetime
import os
import platform
import re
import resource
import subprocess
import sys
import time
from urllib.parse import urlparse, urlunparse

from tests.support import ROOT, Process, free_port, http_ok, reachable, wait_until

DOCS = ROOT / "docs" / "benchmarks.md"


def with_database(url, name):
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def servers(var_dir, database, redis_db):
    """Return (database_url, redis_url): local servers when they answer, else the embedded ones."""
    from storage import embedded

    if reachable("127.0.0.1", 5432):
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        admin = with_database(embedded.ensure_postgres(var_dir), "postgres")
    embedded.create_database_if_missing(admin, database)
    if reachable("127.0.0.1", 6379):
        redis_url = f"redis://127.0.0.1:6379/{redis_db}"
    else:
        redis_url = f"{embedded.ensure_redis(var_dir)}?db={redis_db}"
    return with_database(admin, database), redis_url


def raise_fd_limit():
    """Lift the soft open-files limit to the hard one (the web process inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start_web(var_dir, app="web.wsgi:app", name="web", probe="/health"):
    """Start gunicorn with gunicorn.conf.py and 1 worker; return (process, base URL, worker pid)."""
    logs = var_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    web = Process(name, [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "1",
                         "--bind", f"127.0.0.1:{port}", app], logs, env={"PORT": str(port)}).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: web.proc.poll() is not None or (web.children() and http_ok(f"{base}{probe}")),
                   60, message=f"{name} on {base}")
    except AssertionError:
        web.stop()
        raise SystemExit(f"{name} did not come up:\n{web.log()[-3000:]}")
    if web.proc.poll() is not None:
        raise SystemExit(f"{name} exited early:\n{web.log()[-3000:]}")
    return web, base, web.children()[0]


def machine(services):
    """Describe the machine and servers in one line for the report."""
    import falcon
    import gevent
    import gunicorn

    with services.db.connection_context():
        postgres = services.db.execute_sql("SHOW server_version").fetchone()[0].split()[0]
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 30
    redis_server = f"{services.redis.info('server')['redis_version']} ({urlparse(services.settings.redis_url).scheme})"
    return (f"{os.cpu_count()} CPUs ({model or platform.machine()}), {memory} GiB, Python {platform.python_version()}, "
            f"gunicorn {gunicorn.__version__} + gevent {gevent.__version__}, Falcon {falcon.__version__}, "
            f"PostgreSQL {postgres}, Redis {redis_server}, open files {raise_fd_limit()}, "
            f"1-minute load average before the run {os.getloadavg()[0]:.1f}; "
            "load generator and server share the machine")


def revision():
    """Return `git describe --always --dirty` of the code measured, or "unknown"."""
    done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def stamp(command, argv, machine_line):
    return (f"`{' '.join([command, *argv])}` at `{revision()}` — {datetime.datetime.now():%Y-%m-%d %H:%M}, "
            f"{machine_line}.")


def write_section(name, text):
    """Replace our marked section of docs/benchmarks.md in one atomic rename.

    NOTE: other benchmarks own the rest of the file and may rewrite it at any
    time, so the file is read right before the rename and only the text
    between `<!-- {name}:start -->` and `<!-- {name}:end -->` changes.
    """
    current = _settled_docs()
    for section in ("sse", "api", name):
        if f"<!-- {section}:start -->" not in current:
            current = current.rstrip("\n") + f"\n\n<!-- {section}:start -->\n<!-- {section}:end -->\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = current.split(start, 1)
    tail = rest.split(end, 1)[1]
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    temporary = DOCS.with_name(f".{DOCS.name}.{os.getpid()}.tmp")
    temporary.write_text(f"{head}{start}\n{text}\n{end}{tail}")
    os.replace(temporary, DOCS)


def _settled_docs():
    """Read docs/benchmarks.md, waiting out a writer caught halfway (unbalanced section markers)."""
    for _ in range(20):
        text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
        opened = len(re.findall(r"<!-- (?:bench/pipeline: .*?|\w+:start) -->", text))
        closed = len(re.findall(r"<!-- (?:/bench/pipeline|\w+:end) -->", text))
        if text.strip() and opened == closed:
            return text
        time.sleep(0.25)
    raise SystemExit(f"{DOCS} stays half-written (unbalanced section markers); not touching it")


def percentile(values, q):
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)




def ms(value):
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"
