"""One way to talk HTTP: a session with timeouts, safe retries and errors mapped.

Every request carries `X-Correlation-ID`. Only idempotent methods are retried
by the transport (429 and 5xx, honouring Retry-After); creating calls rely on
an idempotency key instead. A client whose provider documents a PATCH as
idempotent (it sets the given fields) may pass `retry_methods` to add it.
Failures become IntegrationError subclasses so the pipeline can tell a
transient failure from a permanent one.

Every session is guarded (integrations/outbound.py): only http(s), no
private or loopback address unless `OUTBOUND_ALLOW` lists it, at most
MAX_REDIRECTS redirects, each checked again, no proxy from the environment.
Error texts carry the method, the URL without credentials or query, and
the status and reason, never the remote body.
"""
import re

import requests
from urllib3.util.retry import Retry

from integrations import outbound
from integrations.errors import (AuthExpired, BadResponse, OutboundBlocked, PermissionDenied, RateLimited, Timeout,
                                 Unavailable)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Session(requests.Session):
    """requests.Session with a default timeout, the correlation header and the outbound guard.

    `policy` is the outbound Policy; by default it is read from OUTBOUND_ALLOW.
    """

    def __init__(self, *, correlation_id=None, timeout=15.0, retries=3, user_agent="DocG/1.0",
                 retry_methods=IDEMPOTENT, policy=None):
        super().__init__()
        self.timeout = timeout
        self.trust_env = False  # NOTE: a proxy from the environment would be checked instead of the target
        self.max_redirects = outbound.MAX_REDIRECTS
        self.headers["User-Agent"] = user_agent
        if correlation_id:
            self.headers["X-Correlation-ID"] = str(correlation_id)
        retry = Retry(total=retries, backoff_factor=0.3, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=retry_methods, respect_retry_after_header=True, raise_on_status=False,
                      redirect=False)
        self.policy = policy if policy is not None else outbound.Policy.from_settings()
        guarded = outbound.adapter(self.policy, max_retries=retry, pool_maxsize=10)
        self.adapters.clear()
        self.mount("http://", guarded)
        self.mount("https://", guarded)

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        where = f"{method} {outbound.safe_url(url)}"
        if str(url).split(":", 1)[0].lower() not in outbound.SCHEMES:
            raise OutboundBlocked("Only http:// and https:// addresses may be called.", f"{where}: scheme refused")
        try:
            return super().request(method, url, **kwargs)
        except OutboundBlocked as ex:
            raise OutboundBlocked(ex.message_human, f"{where}: {ex.message_tech}") from ex
        except requests.TooManyRedirects as ex:
            raise BadResponse("The address redirected too many times.",
                              f"{where}: more than {self.max_redirects} redirects") from ex
        except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
                requests.exceptions.MissingSchema) as ex:
            raise OutboundBlocked("Only http:// and https:// addresses may be called.",
                                  f"{where}: {type(ex).__name__}") from ex
        except requests.Timeout as ex:
            raise Timeout(message_tech=f"{where}: {type(ex).__name__}") from ex
        except requests.ConnectionError as ex:
            raise Unavailable(message_tech=f"{where}: {_cause(ex)}") from ex


def _cause(ex):
    """The innermost exception's class name (its text may repeat the URL and its query)."""
    names = [type(ex).__name__]
    for _ in range(8):
        if not (ex.__cause__ or ex.__context__ or getattr(ex, "reason", None)):
            break
        ex = ex.__cause__ or getattr(ex, "reason", None) or ex.__context__
        if not isinstance(ex, BaseException):
            break
        names.append(type(ex).__name__)
    return " <- ".join(dict.fromkeys(names))


def describe(response):
    """`METHOD url -> status reason`, without credentials, query or body."""
    return (f"{response.request.method} {outbound.safe_url(response.url)} -> "
            f"{response.status_code} {response.reason or ''}".rstrip())


_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def error_code(response):
    """` error=<code>` from a JSON error body's short code field (OAuth `error`, `status`, `code`), else "".

    Only an identifier-shaped value is taken, never free text from the body.
    """
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("error", "status", "code"):
        value = body.get(key)
        if isinstance(value, str) and _CODE.match(value):
            return f" error={value}"
    return ""


def raise_for_status(response, *, what="request"):
    """Map an error response to the IntegrationError a caller can act on."""
    status = response.status_code
    if status < 400:
        return response
    detail = describe(response)
    if status == 401:
        raise AuthExpired(message_tech=detail)
    if status == 403:
        raise PermissionDenied(message_tech=detail)
    if status == 429:
        retry_after = response.headers.get("Retry-After")
        raise RateLimited(message_tech=detail, retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)
    if status >= 500:
        raise Unavailable(f"The {what} failed on the provider's side; it will be retried.", detail)
    raise BadResponse(f"The {what} was refused ({status}).", detail)
