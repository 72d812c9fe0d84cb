"""Signature nodes: send the run's document for e-signature, then wait."""
import dataclasses

from integrations.base import Action, Result
from integrations.errors import InvalidConfig
from integrations.local.email import invalid_emails
from integrations.signatures import providers
from storage import documents, signatures
from storage.models import Connection, Execution, Organization


def signers_of(config):
    signers = config.get("signers") or []
    if not isinstance(signers, list) or not signers:
        raise InvalidConfig("Add at least one signer.", "signers is empty", code="signature.no_signers")
    cleaned = []
    for signer in signers:
        if not isinstance(signer, dict) or not signer.get("email"):
            raise InvalidConfig("Each signer needs a name and an email.", f"bad signer {signer!r}",
                                code="signature.invalid_signer")
        cleaned.append({"name": str(signer.get("name") or signer["email"]), "email": str(signer["email"]).strip()})
    bad = invalid_emails([s["email"] for s in cleaned])
    if bad:
        raise InvalidConfig(f"Invalid signer email: {', '.join(bad)}.", f"invalid: {bad}", code="signature.invalid_signer")
    return cleaned


def order_options(config):
    """Validate `sequential` and `reminder_hours`; return them as create_envelope options."""
    sequential = config.get("sequential", False)
    if not isinstance(sequential, bool):
        raise InvalidConfig("sequential must be true or false.", f"sequential={sequential!r}")
    reminder = config.get("reminder_hours")
    if reminder is not None:
        if isinstance(reminder, bool) or not isinstance(reminder, (int, float)) or not 0 < reminder <= 24 * 60:
            raise InvalidConfig("reminder_hours must be a number of hours between 0 and 1440.",
                                f"reminder_hours={reminder!r}")
        reminder = float(reminder)
    return {"sequential": sequential, "reminder_hours": reminder}


def credentials_for(config, organization_id):
    if not config.get("connection_id"):
        return None
    connection = Connection.get_or_none((Connection.id == config["connection_id"])
                                        & (Connection.organization == organization_id)
                                        & Connection.deleted_at.is_null())
    if connection is None:
        raise InvalidConfig("The signature connection no longer exists.", "connection not found",
                            code="connection_error")
    if connection.status != "active":
        raise InvalidConfig("The signature connection must be reconnected.", f"connection status {connection.status}",
                            code="oauth_expired")
    return connection.credentials


class RequestSignatures(Action):
    """Create an envelope with the run's latest document; wait for every signer."""

    key = "request-signatures"
    name = "Request signatures"
    phase = "signature"
    provider = None
    fields = {"provider": {"enum": list(providers.PROVIDERS)}, "signers": {"type": "array"},
              "expires_in_days": {"type": "number"}, "connection_id": {"type": "string"},
              "sequential": {"type": "boolean"}, "reminder_hours": {"type": "number"}}

    def check(self, config, ctx, node_id):
        from integrations.preflight import Issue

        name = self.provider or config.get("provider", "sandbox")
        providers.provider_class(name)
        signers_of(config)
        order_options(config)
        if name != "sandbox" and not config.get("connection_id"):
            raise InvalidConfig(f"Connect a {name} account first.", "connection_id missing",
                                code="connection_error")
        credentials = credentials_for(config, ctx.organization_id)
        if "render" not in ctx.earlier_phases:
            raise InvalidConfig("There is no document to sign; add a render step before this one.",
                                "no render step before the signature step", code="signature.no_document")
        if not providers.webhook_secret(name, ctx.settings, credentials):
            return [Issue("signature.webhook_unverifiable", "signature",
                          f"{name} webhooks cannot be verified: set the connection's webhook secret.",
                          f"no webhook_secret on the connection and {name.upper()}_WEBHOOK_SECRET is empty",
                          node_id, "warning")]
        return []

    def run(self, ctx):
        name = self.provider or ctx.config.get("provider", "sandbox")
        signers = signers_of(ctx.config)
        document = documents.to_sign(ctx.execution_id)
        if document is None:
            raise InvalidConfig("There is no document to sign; add a render step before this one.",
                                "no generated documents", code="signature.no_document")
        options = order_options(ctx.config)
        organization = Organization.get_by_id(ctx.organization_id)
        options.update(locale=organization.locale, sender=organization.name)
        expires_at = signatures.expires_in(ctx.config.get("expires_in_days", 7))
        client = providers.build(name, settings=ctx.settings, correlation_id=ctx.correlation_id,
                                 credentials=credentials_for(ctx.config, ctx.organization_id))

        def create(key):
            ref = client.create_envelope(name=document.name, document=bytes(document.content),
                                         content_type=document.content_type, signers=signers,
                                         expires_at=expires_at, idempotency_key=key, **options)
            return {"envelope_id": ref.envelope_id, "signers": [dataclasses.asdict(s) for s in ref.signers]}

        envelope = ctx.once("signature_envelope", create)
        request = signatures.record_request(Execution.get_by_id(ctx.execution_id), ctx.node_id, provider=name,
                                            envelope_id=envelope["envelope_id"], signers=envelope["signers"],
                                            expires_at=expires_at, connection_id=ctx.config.get("connection_id"))
        emails = [s["email"].lower() for s in envelope["signers"]]
        wait = {"kind": "signature", "provider": name, "envelope_id": envelope["envelope_id"], "pending": emails,
                "expires_at": request.expires_at.isoformat()}
        return Result(output={"envelope_id": envelope["envelope_id"], "provider": name, "document_id": str(document.id),
                              "signers": [{"email": s["email"], "name": s["name"], "sign_url": s.get("sign_url")}
                                          for s in envelope["signers"]]}, wait=wait)


class ClickSignSignatures(RequestSignatures):
    key, name, provider = "clicksign", "ClickSign signatures", "clicksign"


class ZapSignSignatures(RequestSignatures):
    key, name, provider = "zapsign", "ZapSign signatures", "zapsign"
