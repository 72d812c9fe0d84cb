"""Bring the signed original back once every signer signed.

`_settle_signature` (actors/waits.py) sends `fetch_signed_documents` once
(it claims the request's `documents_state` as "fetching"; a fetch silent
for ten minutes may be claimed again by a later settle). The actor asks the provider for
the signed PDF and its audit trail, stores them as documents of the run
(`kind` signed / audit_trail; the signed PDF supersedes the original, so
later save and delivery steps use it), emits `signature.documents_stored`
and settles the wait, which then resumes the run. A failed download is
retried with backoff (links expire: each attempt asks for fresh ones) up to
SIGNED_FETCH_RETRIES attempts; after that the run goes on with the original
and says so in its logs. Every step is idempotent: documents are upserts per
(execution, node, kind, type) and the state is set once.
"""
import logging

import dramatiq
from dramatiq.middleware import CurrentMessage

from actors.broker import services
from integrations.errors import IntegrationError
from integrations.signatures import providers
from storage import audit, documents, logs, signatures, waits
from storage.events import EventBatch
from storage.models import Execution, GeneratedDocument, SignatureRequest

log = logging.getLogger("docg.signed")
EXTENSIONS = {"application/pdf": ".pdf", "application/json": ".json"}


MAX_ATTEMPTS = 50


@dramatiq.actor(queue_name="waits", max_retries=MAX_ATTEMPTS, min_backoff=500, max_backoff=60_000)
def fetch_signed_documents(request_id):
    log.info("signed documents of request %s: %s", request_id, collect(request_id))


def collect(request_id):
    """Fetch and store the signed files of a request (once), then settle its wait."""
    from actors.waits import settle

    request = SignatureRequest.get_or_none(SignatureRequest.id == request_id)
    if request is None:
        return "unknown"
    if request.documents_state in (None, "fetching"):
        execution = Execution.get_by_id(request.execution_id)
        message = CurrentMessage.get_current_message()
        attempt = (message.options.get("retries", 0) if message else 0) + 1
        try:
            files = _client(request, execution).fetch_signed(request.envelope_id)
        except Exception as ex:  # noqa: BLE001 - a provider error or a bug: retry, then go on without them
            error = ex if isinstance(ex, IntegrationError) else IntegrationError(message_tech=repr(ex))
            if (error.retryable or not isinstance(ex, IntegrationError)) \
                    and attempt < min(services.settings.signed_fetch_retries, MAX_ATTEMPTS):
                logs.write(execution, "warn", "signature", logs.text("signature.documents_retrying"),
                           f"attempt {attempt}: {error}")
                raise
            _give_up(request, execution, error, attempt)
        else:
            _store(request, execution, files)
    return settle(request.execution_id, request.node_id) or "settled"


def _client(request, execution):
    from actors.waits import _credentials

    return providers.build(request.provider, settings=services.settings,
                           correlation_id=str(execution.correlation_id), credentials=_credentials(request))


def _original(request):
    step = waits.step_at(request.execution_id, request.node_id)
    document_id = (step.data_out or {}).get("document_id") if step else None
    found = GeneratedDocument.get_or_none(GeneratedDocument.id == document_id) if document_id else None
    return found or documents.to_sign(request.execution_id)


def _store(request, execution, files):
    original = _original(request)
    stem = original.name.rsplit(".", 1)[0] if original else "document"
    stored = {}
    if files.signed:
        stored["signed_document_id"] = documents.store_signed(
            original, node_id=request.node_id, kind="signed", name=f"{stem} (signed).pdf", content=files.signed)
    if files.audit_trail:
        name = f"{stem} (audit trail){EXTENSIONS.get(files.audit_trail_type, '')}"
        stored["audit_trail_document_id"] = documents.store_signed(
            original, node_id=request.node_id, kind="audit_trail", name=name, content=files.audit_trail,
            content_type=files.audit_trail_type)
    if not signatures.set_documents_state(request.id, "stored", stored):
        return
    batch = EventBatch()
    batch.add(execution, "signature.documents_stored", {"envelope_id": request.envelope_id, **stored})
    logs.write(execution, "ok", "signature", logs.text("signature.documents_stored"),
               f"{request.provider} envelope {request.envelope_id}: {stored}")
    audit.record(execution.organization_id, "signature.documents_stored", actor_type="system",
                 target_type="signature", target_id=request.id, execution_id=execution.id,
                 correlation_id=execution.correlation_id, metadata={"provider": request.provider, **stored})
    batch.flush()


def _give_up(request, execution, error, attempt):
    if signatures.set_documents_state(request.id, "unavailable", {}):
        logs.write(execution, "error", "signature", logs.text("signature.documents_unavailable"),
                   f"after {attempt} attempt(s): {error}")
