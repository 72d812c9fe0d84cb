"""Waits: settle approvals and signatures, expire them, apply webhooks.

`settle()` looks at a wait's decisions and resumes or fails the run; every
path (a decision, a webhook, the expiry message, the sweep, the hop that
just paused) calls it, and the compare-and-set in storage/waits.py makes
the resume happen once. These actors run on the `waits` queue.
"""
import datetime
import logging

import dramatiq

import settings as settings_module
from actors import flow, timers
from actors.broker import services
from integrations.signatures import providers
from integrations.signatures.sandbox import deliver, sent_notifications
from storage import approvals, logs, runstate, signatures, steps, waits
from storage.errors import StorageError
from storage.events import EventBatch
from storage.models import Execution, utcnow
from telemetry import tracing

log = logging.getLogger("docg.waits")


class WaitEnded(StorageError):
    """A wait ended badly: rejected, declined or expired."""

    def __init__(self, message_human, message_tech, *, code, run_fields=None):
        super().__init__(message_human, message_tech, code=code)
        self.run_fields = run_fields or {}


def _waiting(execution_id, node_id):
    execution = Execution.get_or_none(Execution.id == execution_id)
    if execution is not None:  # this message's log lines and span name the run it acts on
        settings_module.correlation_id.set(str(execution.correlation_id))
        tracing.annotate(**{"docg.correlation_id": execution.correlation_id, "docg.execution_id": execution.id})
    step = waits.step_at(execution_id, node_id) if execution else None
    if step is None or not waits.is_waiting_at(execution, step):
        return None, None
    return execution, step


def settle(execution_id, node_id):
    """Resume or fail the run if its wait at `node_id` is decided."""
    execution, step = _waiting(execution_id, node_id)
    if execution is None:
        return None
    if step.phase == "approval":
        return _settle_approval(execution, step)
    return _settle_signature(execution, step)


def _settle_approval(execution, step, *, timed_out=False):
    rows = approvals.of_node(execution.id, step.node_id)
    result = "approved" if timed_out and rows and rows[0].auto_approve_on_timeout else approvals.outcome(rows)
    if timed_out and result is None:
        result = "expired"
    if result == "approved":
        reason = "approved on timeout" if timed_out else "approved"
        output = {"outcome": "approved", "timed_out": timed_out, "decisions": approvals.decisions(rows)}
        if waits.resume(execution.id, step.node_id, output, reason=reason):
            approvals.close_pending(execution.id, step.node_id, "expired" if timed_out else "revoked")
            flow.advance(execution.id)
            return "resumed"
    elif result in ("rejected", "expired"):
        rejected = [a for a in rows if a.status == "rejected"]
        if rejected:
            who = ", ".join(f"{a.approver_email}" + (f" ({a.comment})" if a.comment else "") for a in rejected)
            error = WaitEnded(f"Rejected by {who}.", f"approval rejected by {[a.approver_email for a in rejected]}",
                              code="approval.rejected")
        else:
            error = WaitEnded("Nobody approved before the deadline.", "approval expired", code="approval.expired")
        expired = [a.approver_email for a in rows if a.status == "pending"] if result == "expired" else []
        notices = [("approval.decided", {"node_id": str(step.node_id), "approver": email, "decision": "expired",
                                         "comment": None, "pending": []}) for email in expired]
        if steps.fail(execution, step, error, events=notices):
            approvals.close_pending(execution.id, step.node_id, "expired" if result == "expired" else "revoked")
            return "failed"
    return None


def _settle_signature(execution, step):
    request = signatures.of_node(execution.id, step.node_id)
    result = signatures.outcome(request) if request else None
    if result == "signed":
        if request.documents_state in (None, "fetching"):
            from actors.signed import fetch_signed_documents

            if signatures.claim_fetch(request.id):
                fetch_signed_documents.send(str(request.id))
            return "fetching-signed-documents"
        stored = request.signed_documents or {}
        output = {"envelope_id": request.envelope_id, "provider": request.provider,
                  "signed_at": utcnow().isoformat(), "signers": request.signers_status, **stored}
        if stored.get("signed_document_id"):
            output["document_id"] = stored["signed_document_id"]
        events = [("signature.completed", {"envelope_id": request.envelope_id, "signed_at": output["signed_at"],
                                           **stored})]
        if waits.resume(execution.id, step.node_id, output, reason="all signers signed", events=events):
            flow.advance(execution.id)
            return "resumed"
    elif result in ("declined", "expired"):
        declined = [email for email, s in request.signers_status.items() if s == "declined"]
        error = (WaitEnded(f"{', '.join(declined)} declined to sign.", f"declined by {declined}",
                           code="signature.declined", run_fields={"signature_state": "declined"}) if declined else
                 WaitEnded("The signature request expired before everyone signed.", "signature expired",
                           code="signature.expired", run_fields={"signature_state": "expired"}))
        notices = [("signature.expired", {"envelope_id": request.envelope_id})] if result == "expired" else []
        if steps.fail(execution, step, error, events=notices):
            if result == "expired":
                _audit(execution.id, "signature.expired", envelope_id=request.envelope_id)
                _cancel_at_provider(request, execution)
            return "failed"
    return None


def _cancel_at_provider(request, execution):
    try:
        client = providers.build(request.provider, settings=services.settings,
                                 correlation_id=str(execution.correlation_id),
                                 credentials=_credentials(request))
        client.cancel_envelope(request.envelope_id)
    except Exception as ex:  # noqa: BLE001 - the run is already failed; the provider expires it too
        logs.write(execution, "warn", "signature", logs.text("signature.withdraw_failed"), repr(ex))


def _credentials(request):
    if not request.connection_id:
        return None
    from storage.models import Connection

    connection = Connection.get_or_none(Connection.id == request.connection_id)
    return connection.credentials if connection else None


def _emit(execution_id, event_type, data):
    batch = EventBatch()
    with batch.atomic():
        batch.add(Execution.get_by_id(execution_id), event_type, data)
    batch.flush()


def _audit(execution_id, action, *, actor=("system", None), **metadata):
    from storage import audit

    execution = Execution.get_by_id(execution_id)
    audit.record(execution.organization_id, action, actor_type=actor[0], actor_id=actor[1],
                 target_type="signature" if action.startswith("signature") else "approval",
                 execution_id=execution.id, correlation_id=execution.correlation_id, metadata=metadata)


def announcement(step, wait):
    """The events that announce a wait, written with the pause itself."""
    if wait["kind"] == "approval":
        return [("approval.requested", {"node_id": str(step.node_id), "approvers": wait["pending"],
                                        "strategy": wait["strategy"], "expires_at": wait["expires_at"]})]
    return [("signature.requested", {"envelope_id": wait["envelope_id"], "signers": wait["pending"],
                                     "provider": wait["provider"]})]


def wait_started(execution, step, wait):
    """Right after a hop paused (and announced it): schedule expiry, catch early answers."""
    if wait["kind"] != "approval":
        _audit(execution.id, "signature.requested", envelope_id=wait["envelope_id"], provider=wait["provider"],
               signers=wait["pending"])
        for delivery_id in signatures.pending_deliveries(wait["provider"], wait["envelope_id"]):
            apply_delivery(delivery_id)
        if wait["provider"] == "sandbox":
            for notification in sent_notifications(wait["envelope_id"]):
                sandbox_notify.send(notification)
            sandbox_invite.send(wait["envelope_id"])
    delay_ms = timers.expiry_delay_ms(datetime.datetime.fromisoformat(wait["expires_at"]), utcnow())
    if delay_ms is not None:  # a far deadline is fired by actors/timers.py from PostgreSQL
        expire_wait.send_with_options(args=(str(execution.id), str(step.node_id)), delay=delay_ms)
    settle(execution.id, step.node_id)


def decide(approval, decision, comment=None):
    """Record one approver's decision (CAS) and settle the wait; False if not pending."""
    from storage import audit

    batch = EventBatch()
    with batch.atomic():
        runstate.lock(approval.execution_id)  # the run first, as cancel takes it before the approvals
        if not approvals.decide(approval, decision, comment):
            return False
        execution = Execution.get_by_id(approval.execution_id)
        audit.record(execution.organization_id, "approval.decided", actor_type="user",
                     actor_id=approval.approver_email, target_type="approval", target_id=approval.id,
                     execution_id=execution.id, correlation_id=execution.correlation_id,
                     metadata={"decision": decision, "comment": comment})

        def still_pending():
            return [a.approver_email for a in approvals.of_node(execution.id, approval.node_id)
                    if a.status == "pending"]

        pending = waits.refresh_pending(execution.id, approval.node_id, still_pending)
        if pending is None:
            pending = still_pending()
        batch.add(execution, "approval.decided", {"node_id": str(approval.node_id),
                                                  "approver": approval.approver_email, "decision": decision,
                                                  "comment": comment, "pending": pending})
    batch.flush()
    settle(execution.id, approval.node_id)
    return True


def expire(execution_id, node_id):
    """Apply the wait's timeout if its deadline has passed."""
    execution, step = _waiting(execution_id, node_id)
    if execution is None:
        return None
    if step.phase == "approval":
        rows = approvals.of_node(execution_id, node_id)
        if rows and all(a.expires_at and a.expires_at <= utcnow() for a in rows if a.status == "pending"):
            return _settle_approval(execution, step, timed_out=True)
        return None
    return _settle_signature(execution, step)


def apply_delivery(delivery_id):
    """Apply a stored signature notification and settle its wait.

    NOTE: its event is written in the transaction that applies it, so it
    cannot land after the terminal event of a run canceled meanwhile (a
    canceled request takes no notification, and emits nothing). It is
    relayed only once `current_step`'s pending list is refreshed, so a
    client that sees `signature.signed` reads who is still pending.
    """
    batch = EventBatch()
    with batch.atomic():
        request, payload, changed = signatures.apply_delivery(delivery_id)
        announce = request is not None and changed and payload["kind"] in ("sent", "viewed", "signed", "declined")
        if announce:
            batch.add(Execution.get_by_id(request.execution_id), f"signature.{payload['kind']}",
                      {"envelope_id": request.envelope_id, "signer": payload.get("signer_email")})
    if request is None:
        batch.flush()
        return None
    if announce:
        waits.refresh_pending(request.execution_id, request.node_id, lambda: signatures.unsigned(request.id))
    batch.flush()  # after the pending list: a client that sees the event reads the run's new pending list
    if announce and payload["kind"] in ("signed", "declined"):
        _audit(request.execution_id, f"signature.{payload['kind']}", actor=("webhook", request.provider),
               envelope_id=request.envelope_id, signer=payload.get("signer_email"))
    return settle(request.execution_id, request.node_id)


@dramatiq.actor(queue_name="waits", max_retries=20, min_backoff=500)
def expire_wait(execution_id, node_id):
    log.info("expiry of %s at node %s: %s", execution_id, node_id, expire(execution_id, node_id))


@dramatiq.actor(queue_name="waits", max_retries=20, min_backoff=500)
def apply_signature_delivery(delivery_id):
    log.info("signature delivery %s: %s", delivery_id, apply_delivery(delivery_id))


@dramatiq.actor(queue_name="waits", max_retries=10, min_backoff=1000)
def sandbox_notify(notification):
    """Deliver a sandbox provider webhook to our own endpoint, like a provider."""
    deliver(dict(notification), services.settings.sandbox_webhook_secret, timeout=services.settings.http_timeout)


@dramatiq.actor(queue_name="waits", max_retries=10, min_backoff=1000)
def sandbox_invite(envelope_id):
    """E-mail the sandbox signers whose turn came their signing link (once each)."""
    from integrations.signatures import sandbox_mail
    from integrations.signatures.sandbox import invite_due

    log.info("sandbox envelope %s: %s invitation(s)", envelope_id,
             invite_due(envelope_id, sandbox_mail.sender(services.settings)))


@dramatiq.actor(queue_name="waits", max_retries=10, min_backoff=1000)
def withdraw_signature_request(request_id):
    """Cancel an envelope at its provider after the run was canceled."""
    from storage.models import SignatureRequest

    request = SignatureRequest.get_or_none(SignatureRequest.id == request_id)
    if request is None:
        return
    execution = Execution.get_by_id(request.execution_id)
    client = providers.build(request.provider, settings=services.settings, correlation_id=str(execution.correlation_id),
                             credentials=_credentials(request))
    client.cancel_envelope(request.envelope_id)
    logs.write(execution, "ok", "signature", logs.text("signature.withdrawn"), request.envelope_id)
