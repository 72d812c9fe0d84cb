"""Timestamped HMAC signatures (Stripe's scheme), for the webhooks that use it.

`t=<unix time>,v1=<hex>[,v1=<hex>...]`: each v1 is HMAC-SHA256 of
`"<t>.<raw body>"` keyed with the shared secret. Several v1 values may
appear while a secret is rolled; one match is enough. The timestamp must be
within `tolerance` seconds of now either way, so a captured request cannot
be replayed later; the receiver remembers the signatures it accepted inside
that window so it cannot be replayed sooner either.
Used by the DocG trigger webhook (`X-DocG-Signature`) and Stripe
(`Stripe-Signature`).
"""
import hashlib
import hmac
import time

DEFAULT_TOLERANCE = 300
SCHEME = "v1"


def parse_header(sig_header):
    """Return (timestamp or None, [v1 signatures]) from a signature header."""
    timestamp, signatures = None, []
    for item in str(sig_header or "").split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if name == "t" and timestamp is None:
            try:
                timestamp = int(value)
            except ValueError:
                return None, []
        elif name == SCHEME and value:
            signatures.append(value.strip())
    return timestamp, signatures


def compute_signature(payload: bytes, timestamp: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def header_value(payload: bytes, secret: str, timestamp=None) -> str:
    """The `t=...,v1=...` header a sender puts on `payload` (now, by default)."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},{SCHEME}={compute_signature(payload, timestamp, secret)}"


def matching_signature(payload: bytes, sig_header: str, secret: str):
    """(timestamp, the v1 that matches) or (timestamp, None)."""
    timestamp, signatures = parse_header(sig_header)
    if timestamp is None or not secret:
        return timestamp, None
    expected = compute_signature(payload, timestamp, secret).encode()
    match = next((c for c in signatures if hmac.compare_digest(expected, c.encode("utf-8", "replace"))), None)
    return timestamp, match


def signature_problem(payload: bytes, sig_header: str, secret: str, tolerance=DEFAULT_TOLERANCE, now=None,
                      header="signature"):
    """Why the signature does not hold (a short text), or None when it does."""
    if not secret:
        return "no webhook secret configured"
    timestamp, signatures = parse_header(sig_header)
    if timestamp is None:
        return f"no timestamp in the {header} header"
    if not signatures:
        return f"no {SCHEME} signature in the {header} header"
    if matching_signature(payload, sig_header, secret)[1] is None:
        return "no signature matches the payload"
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return f"timestamp {timestamp} is more than {tolerance}s from now"
    return None
