"""Fetch a file from a provider's short-lived download link.

ClickSign's links last 5 minutes, ZapSign's 60: a link is used at once, and
any failure (an expired link answers 403 at the storage service, a reset
connection, a 5xx) is retryable, since the next attempt asks the provider
for a fresh link. The link is pre-signed, so no credentials are sent.
"""
from integrations.errors import IntegrationError, OutboundBlocked, Unavailable
from integrations.http import raise_for_status
from integrations.outbound import safe_url

MAX_BYTES = 50 * 1024 * 1024


def download(http, url, *, what, timeout):
    """Return the bytes at `url`; raise a retryable error on any failure."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise Unavailable(f"The {what} is not ready yet; DocG will try again.",
                          f"no download link: {safe_url(url) if isinstance(url, str) else type(url).__name__}")
    try:
        response = raise_for_status(http.get(url, timeout=timeout, stream=True), what=what)
        content = response.raw.read(MAX_BYTES + 1, decode_content=True)
    except OutboundBlocked:
        raise  # NOTE: a link to an address DocG may not call stays refused; asking again will not help
    except IntegrationError as ex:
        raise Unavailable(f"The {what} could not be downloaded; DocG will try again.", ex.message_tech) from ex
    if len(content) > MAX_BYTES:
        raise Unavailable(f"The {what} is larger than {MAX_BYTES // (1024 * 1024)} MiB.", f"{safe_url(url)} too large",
                          retryable=False)
    if not content.startswith(b"%PDF"):
        raise Unavailable(f"The {what} is not a PDF yet; DocG will try again.", f"{safe_url(url)}: not a PDF")
    return content
