"""A small Stripe API client: Checkout Sessions and the balance (for tests).

Stripe's v1 API takes form-encoded bodies with bracketed keys
(`line_items[0][price_data][currency]=brl`) and answers JSON; errors are
`{"error": {"type", "code", "message", "param"}}`. Creating calls carry an
`Idempotency-Key`: Stripe saves the first answer for a key and replays it
(with `Idempotent-Replayed: true`) for a retry with the same parameters.

Docs: https://docs.stripe.com/api/checkout/sessions/create,
https://docs.stripe.com/api/idempotent_requests, https://docs.stripe.com/api/errors,
https://docs.stripe.com/api/balance/balance_retrieve, https://docs.stripe.com/api/authentication.
NOTE: `Stripe-Should-Retry: false` on a 5xx means a retry cannot succeed
(the official clients honour it; stripe-python `_should_retry`), so such an
error is not retried.
"""
import dataclasses
from typing import Optional

from integrations.errors import (AuthExpired, BadResponse, IntegrationError, InvalidConfig, PermissionDenied,
                                 RateLimited, Unavailable)


@dataclasses.dataclass
class CheckoutSession:
    id: str
    url: Optional[str]
    status: Optional[str]
    payment_status: Optional[str]
    amount_total: Optional[int]
    currency: Optional[str]
    expires_at: Optional[int]
    livemode: bool

    @classmethod
    def from_api(cls, body):
        return cls(id=body["id"], url=body.get("url"), status=body.get("status"),
                   payment_status=body.get("payment_status"), amount_total=body.get("amount_total"),
                   currency=body.get("currency"), expires_at=body.get("expires_at"),
                   livemode=bool(body.get("livemode")))


def form_encode(params, prefix=None):
    """Encode nested dicts and lists the way Stripe reads them: a[b][0][c]=v."""
    pairs = []
    for key, value in params.items():
        pairs.extend(_encode(f"{prefix}[{key}]" if prefix else str(key), value))
    return pairs


def _encode(name, value):
    if value is None:
        return []
    if isinstance(value, dict):
        return form_encode(value, name)
    if isinstance(value, (list, tuple)):
        return [pair for index, item in enumerate(value) for pair in _encode(f"{name}[{index}]", item)]
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    return [(name, str(value))]


class StripeClient:
    """Stripe calls over an authenticated ProviderSession (Bearer key, correlation id, timeouts)."""

    def __init__(self, http):
        self.http = http

    def create_checkout_session(self, params, *, idempotency_key):
        response = self.http.post("/v1/checkout/sessions", data=form_encode(params),
                                  headers={"Idempotency-Key": idempotency_key})
        return CheckoutSession.from_api(checked(response, what="checkout session"))

    def balance(self):
        body = checked(self.http.get("/v1/balance"), what="balance")
        return {"livemode": bool(body.get("livemode")),
                "available": [{"amount": b.get("amount"), "currency": b.get("currency")}
                              for b in body.get("available", [])]}


def checked(response, *, what):
    """Return the JSON body of a success, or raise the mapped Stripe error."""
    if response.status_code < 400:
        try:
            return response.json()
        except ValueError as ex:
            raise BadResponse(f"Stripe answered the {what} request with something that is not JSON.",
                              f"{response.status_code} {response.reason}") from ex
    raise map_error(response, what=what)


def map_error(response, *, what):
    status = response.status_code
    try:
        error = (response.json() or {}).get("error") or {}
    except ValueError:
        error = {}
    kind, code, param = error.get("type") or "", error.get("code") or "", error.get("param") or ""
    message = error.get("message") or response.reason or ""
    detail = (f"{response.request.method} {response.request.path_url} -> {status} "
              f"type={kind} code={code} param={param} request_id={response.headers.get('Request-Id', '')}: {message}")
    if status == 401:
        return AuthExpired("Stripe refused the API key; reconnect Stripe with a valid secret key.", detail)
    if status == 403:
        return PermissionDenied("The Stripe key may not do this; use a key with permission for Checkout.", detail)
    if status == 429 or kind == "rate_limit_error":
        retry_after = response.headers.get("Retry-After")
        return RateLimited("Stripe is limiting requests; the step will be retried.", detail,
                           retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None)
    if status == 409:
        return RateLimited("Stripe is still busy with this same request; the step will be retried.", detail)
    if status >= 500 or kind == "api_error":
        should_retry = response.headers.get("Stripe-Should-Retry", "").lower() != "false"
        return Unavailable(f"Stripe failed to create the {what}; the step will be retried.", detail,
                           retryable=should_retry)
    if kind == "card_error":
        return IntegrationError(f"Stripe declined the payment: {message}", detail, code="stripe.card_error")
    if kind == "idempotency_error":
        return IntegrationError("Stripe refused a changed repeat of an earlier request.", detail,
                                code="stripe.idempotency_error")
    if kind == "invalid_request_error":
        field = f" ({param})" if param else ""
        return InvalidConfig(f"Stripe refused the {what}{field}: {message}", detail, code="stripe.invalid_request")
    return BadResponse(f"Stripe refused the {what} ({status}).", detail)
