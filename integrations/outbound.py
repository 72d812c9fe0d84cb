"""The one door for HTTP calls to addresses a tenant chooses.

Every outbound `integrations.http.Session` connects through the guarded
connection classes below: the host is resolved at connect time, every
address is checked, and the socket is opened to the checked address itself
(so a DNS answer that changes between check and connect cannot point the
call somewhere else; TLS still verifies the certificate of the host name).
Loopback, private, link-local (169.254.169.254), shared, multicast,
reserved and unspecified addresses are refused unless `OUTBOUND_ALLOW`
lists them: comma-separated `host` (any port), `host:port` (`[v6]:port`)
or a CIDR network. A host entry matches the URL's host name or the address
it resolved to. Redirects go through the same connection classes, so each
hop is checked again.
NOTE: a refusal raises OutboundBlocked, which is not an OSError: urllib3 and
requests let it through untouched and the transport never retries it.
"""
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import _set_socket_options
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from integrations.errors import OutboundBlocked

SCHEMES = ("http", "https")
MAX_REDIRECTS = 3


def _address(text):
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


def why_refused(ip):
    """The kind of address `ip` is when a tenant may not reach it, else None."""
    ip = ipaddress.ip_address(ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind, test in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if test:
            return kind
    return None if ip.is_global else "non-public"


class Policy:
    """Which non-public destinations `OUTBOUND_ALLOW` opens (nothing by default)."""

    def __init__(self, entries=()):
        self.hosts, self.host_ports, self.networks = set(), set(), []
        for entry in entries:
            self._add(entry.strip().lower())

    @classmethod
    def from_settings(cls, settings=None):
        """OUTBOUND_ALLOW plus DocG's own addresses (PUBLIC_BASE_URL, SIGNATURE_SANDBOX_URL).

        NOTE: DocG calls itself (the sandbox signature provider posts its
        webhooks to PUBLIC_BASE_URL), and `docg up` runs on localhost: its own
        host:port is operator-chosen and already reachable by any tenant.
        """
        if settings is None:
            import settings as settings_module

            settings = settings_module.load()
        own = [getattr(settings, name, "") for name in ("public_base_url", "signature_sandbox_url")]
        return cls([*getattr(settings, "outbound_allow", ()), *(_host_port(url) for url in own if url)])

    def _add(self, entry):
        if not entry:
            return
        if "/" in entry:
            self.networks.append(ipaddress.ip_network(entry, strict=False))
            return
        host, port = entry, None
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = rest.removeprefix(":") or None
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        if port is None:
            self.hosts.add(host)
        else:
            self.host_ports.add((host, int(port)))

    def allows(self, host, port, ip):
        names = {host.lower().strip("[]"), str(ip)}
        if names & self.hosts or any((name, port) in self.host_ports for name in names):
            return True
        return any(ipaddress.ip_address(ip) in network for network in self.networks)

    def check(self, host, port, ip):
        """Raise OutboundBlocked when `ip` (what `host` resolved to) is off limits."""
        kind = why_refused(ip)
        if kind and not self.allows(host, port, ip):
            raise OutboundBlocked(
                f"DocG may not call {host}:{port}: it is a {kind} address ({ip}). "
                "An operator can allow it in OUTBOUND_ALLOW.", f"{host}:{port} -> {ip} is {kind}")


def _host_port(url):
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname or ""
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}" if host else ""


def check_url(url, policy):
    """Refuse a non-HTTP(S) URL, or a host that resolves to a refused address (for non-requests clients)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise OutboundBlocked("Only http:// and https:// addresses may be called.",
                              f"scheme {parts.scheme!r} of {safe_url(url)}")
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    for ip in _resolve(parts.hostname, port):
        policy.check(parts.hostname, port, ip)


def _resolve(host, port):
    literal = _address(host)
    if literal is not None:
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as ex:
        raise OSError(f"cannot resolve {host}") from ex
    return list(dict.fromkeys(info[4][0] for info in infos))


def safe_url(url):
    """`url` without credentials and without its query (which may carry keys)."""
    try:
        parts = urlsplit(str(url))
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))
    except ValueError:
        return "(unparseable url)"


class _Guarded:
    """Resolve, check every address, then connect to a checked one."""

    policy = Policy()

    def _new_conn(self):
        try:
            addresses = _resolve(self._dns_host, self.port)
        except OSError as ex:
            raise NameResolutionError(self.host, self, socket.gaierror(str(ex))) from ex
        for ip in addresses:
            self.policy.check(self.host, self.port, ip)
        error = None
        for ip in addresses:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                _set_socket_options(sock, self.socket_options)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect((ip, self.port))
                return sock
            except socket.timeout as ex:
                sock.close()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from ex
            except OSError as ex:
                error = ex
                sock.close()
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


def adapter(policy, **kwargs):
    """An HTTPAdapter whose connection pools open only guarded connections."""
    http_conn = type("GuardedHTTPConnection", (_Guarded, HTTPConnection), {"policy": policy})
    https_conn = type("GuardedHTTPSConnection", (_Guarded, HTTPSConnection), {"policy": policy})
    pools = {"http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
             "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kw):
            super().init_poolmanager(*args, **kw)
            self.poolmanager.pool_classes_by_scheme = pools

    return GuardedAdapter(**kwargs)
