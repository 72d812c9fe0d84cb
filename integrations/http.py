"""One way to talk HTTP: a session with timeouts, safe retries and errors mapped.

Every request carries `X-Correlation-ID`. Only idempotent methods are retried
by the transport (429 and 5xx, honouring Retry-After); creating calls rely on
an idempotency key instead. A client whose provider documents a PATCH as
idempotent (it sets the given fields) may pass `retry_methods` to add it.
Failures become IntegrationError subclasses so the pipeline can tell a
transient failure from a permanent one.
"""
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from integrations.errors import AuthExpired, BadResponse, PermissionDenied, RateLimited, Timeout, Unavailable

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Session(requests.Session):
    """requests.Session with a default timeout and the correlation header."""

    def __init__(self, *, correlation_id=None, timeout=15.0, retries=3, user_agent="DocG/1.0",
                 retry_methods=IDEMPOTENT):
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = user_agent
        if correlation_id:
            self.headers["X-Correlation-ID"] = str(correlation_id)
        retry = Retry(total=retries, backoff_factor=0.3, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=retry_methods, respect_retry_after_header=True, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=10)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        try:
            return super().request(method, url, **kwargs)
        except requests.Timeout as ex:
            raise Timeout(message_tech=f"{method} {url}: {ex}") from ex
        except requests.ConnectionError as ex:
            raise Unavailable(message_tech=f"{method} {url}: {ex}") from ex


def raise_for_status(response, *, what="request"):
    """Map an error response to the IntegrationError a caller can act on."""
    status = response.status_code
    if status < 400:
        return response
    detail = f"{response.request.method} {response.url} -> {status}: {response.text[:500]}"
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
