"""The `stripe` node: create a Stripe Checkout Session (a payment link) for the run.

The session carries the run's ids in `metadata` and `client_reference_id`,
so the `checkout.session.completed` webhook can be tied back to the run.
It is created inside `ctx.once` with the ledger key as Stripe's
`Idempotency-Key`: a retried or redelivered hop gets the same session.
"""
import dataclasses

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.errors import AuthExpired, IntegrationError, InvalidConfig, MissingRequiredField
from integrations.local.email import invalid_emails
from integrations.stripe.client import StripeClient

MODES = ("payment", "subscription")
EFFECT = "checkout_session"


def _pending(value):
    return isinstance(value, str) and "{{" in value


def _positive_int(value, what):
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise InvalidConfig(f"{what} must be a whole number above zero (amounts are in cents: 12500 is 125.00).",
                            f"{what}={value!r}", code="invalid_config")
    return value


def _currency(value, where):
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise InvalidConfig(f"{where}: the currency must be a three-letter ISO code such as brl or usd.",
                            f"currency={value!r}", code="invalid_config")
    return value.strip().lower()


def _line_item(item, index):
    """One `price_data` line item; values still holding {{variables}} are checked at run time."""
    where = f"Line item {index + 1}"
    if not isinstance(item, dict) or not item.get("name"):
        raise MissingRequiredField(f"{where} needs a name.", f"line_items[{index}] has no name")
    currency, amount, quantity = item.get("currency"), item.get("amount"), item.get("quantity", 1)
    return {"price_data": {"currency": currency if _pending(currency) else _currency(currency, where),
                           "unit_amount": amount if _pending(amount) else _positive_int(amount, f"{where} amount"),
                           "product_data": {"name": str(item["name"])[:250]}},
            "quantity": quantity if _pending(quantity) else _positive_int(quantity, f"{where} quantity")}


def _url(config, name, required):
    value = config.get(name)
    if not value:
        if required:
            raise MissingRequiredField(f"Fill in {name}: where Stripe sends the customer after paying.",
                                       f"{name} missing")
        return None
    if not _pending(value) and not str(value).startswith(("https://", "http://")):
        raise InvalidConfig(f"{name} must be an http(s) address.", f"{name}={value!r}", code="delivery.invalid_url")
    return str(value)


def _items(config):
    items = []
    if config.get("price_id"):
        quantity = config.get("quantity", 1)
        items.append({"price": str(config["price_id"]),
                      "quantity": quantity if _pending(quantity) else _positive_int(quantity, "quantity")})
    line_items = config.get("line_items") or []
    if _pending(line_items):
        return line_items  # the whole list comes from a variable: checked when the step runs
    if not isinstance(line_items, list):
        raise InvalidConfig("line_items must be a list of {name, amount, currency, quantity}.",
                            f"line_items={type(line_items).__name__}", code="invalid_config")
    items.extend(_line_item(item, i) for i, item in enumerate(line_items))
    if not items:
        raise MissingRequiredField("Add the line items to charge, or a Stripe price_id.", "no line_items, no price_id")
    return items


def checkout_params(config, *, execution_id, node_id, organization_id, workflow_id):
    """The Checkout Session parameters for a node's (resolved) config."""
    mode = config.get("mode") or "payment"
    if mode not in MODES:
        raise InvalidConfig(f"mode must be one of {', '.join(MODES)}.", f"mode={mode!r}", code="invalid_config")
    email = config.get("customer_email")
    if email and not _pending(email) and invalid_emails([email]):
        raise InvalidConfig(f"Invalid customer email: {email}.", f"customer_email={email!r}",
                            code="delivery.invalid_email")
    raw = config.get("metadata") or {}
    if not isinstance(raw, dict) and not _pending(raw):
        raise InvalidConfig("metadata must be an object of short texts.", f"metadata={raw!r}", code="invalid_config")
    metadata = {str(k)[:40]: str(v)[:500] for k, v in (raw.items() if isinstance(raw, dict) else ())}
    metadata.update(docg_execution_id=execution_id, docg_node_id=node_id, docg_organization_id=organization_id,
                    docg_workflow_id=workflow_id)
    params = {"mode": mode, "success_url": _url(config, "success_url", True),
              "cancel_url": _url(config, "cancel_url", False), "line_items": _items(config),
              "customer_email": email or None, "client_reference_id": execution_id, "metadata": metadata}
    if mode == "payment":
        params["payment_intent_data"] = {"metadata": {"docg_execution_id": execution_id}}
    return params


def _client(handle, correlation_id=None):
    if handle.provider.key != "stripe":
        raise InvalidConfig("Choose a Stripe connection for this step.",
                            f"connection provider is {handle.provider.key}", code="connection_error")
    return StripeClient(handle.session(correlation_id))


class StripeCheckout(Action):
    """Create a Stripe Checkout Session; later steps can send its `url`."""

    key = "stripe"
    name = "Stripe payment link"
    phase = "delivery"
    description = "Creates a Stripe Checkout Session and outputs its payment URL."
    fields = {"connection_id": {"type": "string"}, "mode": {"enum": list(MODES)},
              "line_items": {"type": "array", "items": {"type": "object", "properties": {
                  "name": {"type": "string"}, "amount": {"type": "integer", "description": "in cents"},
                  "currency": {"type": "string"}, "quantity": {"type": "integer"}}}},
              "price_id": {"type": "string"}, "quantity": {"type": "integer"},
              "customer_email": {"type": "string"}, "success_url": {"type": "string"},
              "cancel_url": {"type": "string"}, "metadata": {"type": "object"}}
    outputs = ("session_id", "url", "payment_status", "status", "amount_total", "currency", "expires_at")
    endpoints = ("POST https://api.stripe.com/v1/checkout/sessions", "GET https://api.stripe.com/v1/balance")

    def check(self, config, ctx, node_id):
        from integrations.preflight import Issue

        checkout_params(config, execution_id="preflight", node_id=str(node_id), organization_id=ctx.organization_id,
                        workflow_id="preflight")
        if _pending(config.get("connection_id")):
            return []
        client = _client(handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings))
        try:
            client.balance()
        except AuthExpired:
            raise
        except IntegrationError as error:
            if error.code == "permission_denied":
                return []  # a restricted key may create sessions without reading the balance
            return [Issue(error.code, "delivery", "Stripe could not be checked before the run.",
                          error.message_tech, node_id, "warning")]
        return []

    def run(self, ctx):
        params = checkout_params(ctx.config, execution_id=ctx.execution_id, node_id=ctx.node_id,
                                 organization_id=ctx.organization_id, workflow_id=ctx.workflow_id)
        client = _client(ctx.connection(), ctx.correlation_id)

        def create(idempotency_key):
            session = client.create_checkout_session(params, idempotency_key=idempotency_key)
            return {"session_id": session.id, **{k: v for k, v in dataclasses.asdict(session).items() if k != "id"}}

        session = ctx.once(EFFECT, create)
        return Result(output=session)
