"""A local server that speaks the parts of Stripe's v1 API DocG uses.

It reads form-encoded bodies with bracketed keys the way Stripe does,
checks the Bearer key, validates Checkout Session parameters with Stripe's
error bodies, honours `Idempotency-Key` (a retry with the same key and
parameters replays the saved answer with `Idempotent-Replayed: true`;
different parameters are an `idempotency_error`; requests refused before
the endpoint runs, such as validation errors and rate limits, are not
saved), and builds webhook events signed like Stripe signs them.
"""
import dataclasses
import hashlib
import hmac
import json
import re
import time
import uuid
from urllib.parse import parse_qsl

from werkzeug import Response
from werkzeug.datastructures import Headers

FORM = "application/x-www-form-urlencoded"


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    headers: Headers
    form: list

    @property
    def params(self):
        return nest(self.form)


def nest(pairs):
    """Decode `a[b][0][c]=v` pairs into nested dicts and lists."""
    root = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def error(status, kind, message, *, code=None, param=None, headers=None):
    body = {"error": {"type": kind, "message": message}}
    if code:
        body["error"]["code"] = code
    if param:
        body["error"]["param"] = param
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers or {})


class FakeStripe:
    def __init__(self, httpserver, key="sk_test_docg_51Fake"):
        self.server, self.key = httpserver, key
        self.requests, self.sessions, self.saved, self.failures = [], {}, {}, []
        httpserver.expect_request(re.compile("^/v1/")).respond_with_handler(self._handle)

    @property
    def base_url(self):
        return self.server.url_for("").rstrip("/")

    def fail_next(self, status, kind, message, **options):
        """Refuse the next request before the endpoint runs (a limiter or an outage)."""
        self.failures.append((status, kind, message, options))

    def creations(self):
        return [seen for seen in self.requests if (seen.method, seen.path) == ("POST", "/v1/checkout/sessions")]

    def _handle(self, request):
        seen = Seen(request.method, request.path, Headers(request.headers),
                    parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
        self.requests.append(seen)
        if seen.headers.get("Authorization") != f"Bearer {self.key}":
            return error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****else")
        if self.failures:
            status, kind, message, options = self.failures.pop(0)
            return error(status, kind, message, **options)
        if (seen.method, seen.path) == ("GET", "/v1/balance"):
            balance = {"object": "balance", "livemode": False, "pending": [{"amount": 0, "currency": "brl"}],
                       "available": [{"amount": 0, "currency": "brl", "source_types": {"card": 0}}]}
            return Response(json.dumps(balance), content_type="application/json")
        if (seen.method, seen.path) == ("POST", "/v1/checkout/sessions"):
            return self._idempotent(seen, self._create_session)
        return error(404, "invalid_request_error", f"Unrecognized request URL ({seen.method}: {seen.path}).")

    def _idempotent(self, seen, endpoint):
        key = seen.headers.get("Idempotency-Key")
        if key and key in self.saved:
            form, status, body = self.saved[key]
            if form != seen.form:
                return error(400, "idempotency_error",
                             "Keys for idempotent requests can only be used with the same parameters they were first "
                             f"used with. Try using a key other than '{key}' if you meant to execute a different "
                             "request.")
            return Response(body, status=status, content_type="application/json",
                            headers={"Idempotent-Replayed": "true", "Idempotency-Key": key})
        if seen.headers.get("Content-Type", "").split(";")[0] != FORM:
            return error(400, "invalid_request_error", "Invalid request: the body must be form-encoded.")
        response = endpoint(seen)
        if key and response.status_code < 400:
            self.saved[key] = (seen.form, response.status_code, response.get_data(as_text=True))
            response.headers["Idempotency-Key"] = key
        return response

    def _create_session(self, seen):
        params = seen.params
        if params.get("mode") not in ("payment", "subscription", "setup"):
            return error(400, "invalid_request_error", "Missing required param: mode.", code="parameter_missing",
                         param="mode")
        if not params.get("success_url"):
            return error(400, "invalid_request_error", "Missing required param: success_url.",
                         code="parameter_missing", param="success_url")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            return error(400, "invalid_request_error", "You must specify either `line_items` or `mode: setup`.",
                         code="parameter_missing", param="line_items")
        total, currency = 0, None
        for index, item in enumerate(items):
            where = f"line_items[{index}]"
            if item.get("price"):
                if not item["price"].startswith("price_"):
                    return error(400, "invalid_request_error", f"No such price: '{item['price']}'",
                                 code="resource_missing", param=f"{where}[price]")
                amount, currency = 1000, "brl"
            else:
                data = item.get("price_data") or {}
                for field in ("currency", "unit_amount"):
                    if not data.get(field):
                        param = f"{where}[price_data][{field}]"
                        return error(400, "invalid_request_error", f"Missing required param: {param}.",
                                     code="parameter_missing", param=param)
                if not (data.get("product_data") or {}).get("name") and not data.get("product"):
                    return error(400, "invalid_request_error",
                                 f"Missing required param: {where}[price_data][product_data][name].",
                                 code="parameter_missing", param=f"{where}[price_data][product_data][name]")
                if not data["unit_amount"].isdigit():
                    return error(400, "invalid_request_error", f"Invalid integer: {data['unit_amount']}",
                                 code="parameter_invalid_integer", param=f"{where}[price_data][unit_amount]")
                amount, currency = int(data["unit_amount"]), data["currency"]
            total += amount * int(item.get("quantity") or 1)
        session_id = f"cs_test_{uuid.uuid4().hex}"
        session = {"id": session_id, "object": "checkout.session", "mode": params["mode"], "status": "open",
                   "payment_status": "unpaid", "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                   "amount_total": total, "amount_subtotal": total, "currency": currency,
                   "customer_email": params.get("customer_email"),
                   "client_reference_id": params.get("client_reference_id"), "metadata": params.get("metadata", {}),
                   "success_url": params["success_url"], "cancel_url": params.get("cancel_url"),
                   "created": int(time.time()), "expires_at": int(time.time()) + 86400, "livemode": False,
                   "payment_intent": None}
        self.sessions[session_id] = session
        return Response(json.dumps(session), content_type="application/json",
                        headers={"Request-Id": f"req_{uuid.uuid4().hex[:14]}"})

    def event(self, session_id, event_type="checkout.session.completed", **changes):
        """The event Stripe sends about one of its sessions (paid, unless changed)."""
        session = {**self.sessions[session_id], "status": "complete", "payment_status": "paid",
                   "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
                   "customer_details": {"email": self.sessions[session_id]["customer_email"]}, **changes}
        return {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "api_version": "2024-06-20",
                "created": int(time.time()), "data": {"object": session}, "livemode": False, "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None}, "type": event_type}


def signed(event, secret, *, timestamp=None, extra_secrets=()):
    """The raw body and Stripe-Signature header Stripe would send for `event`."""
    body = json.dumps(event, indent=2).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    signatures = [hmac.new(s.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
                  for s in (*extra_secrets, secret)]
    header = ",".join([f"t={timestamp}", *(f"v1={s}" for s in signatures), "v0=" + "0" * 64])
    return body, header
