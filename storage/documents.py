"""A run's documents, stored in PostgreSQL, each with a kind.

`generated` documents come from render steps (one per format); `signed` and
`audit_trail` ones come back from a signature provider. A signed version
supersedes its original: `for_execution` (what later save, delivery and
signature steps use) leaves superseded originals out, `all_of` (what the API
and the viewer list) keeps every document.
"""
import hashlib

from storage.models import GeneratedDocument

KINDS = ("generated", "signed", "audit_trail")
PDF = "application/pdf"
UNIQUE = [GeneratedDocument.execution, GeneratedDocument.node_id, GeneratedDocument.kind,
          GeneratedDocument.content_type]


def save_generated(*, organization_id, execution_id, node_id, name, content_type, content, is_preview=False,
                   kind="generated", source_document_id=None, superseded=False):
    """Store the (execution, node, kind, content type) document, replacing an earlier attempt's."""
    values = {
        "organization_id": organization_id, "execution": execution_id, "node_id": node_id,
        "name": name, "content_type": content_type, "content": content, "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(), "is_preview": is_preview, "kind": kind,
        "source_document_id": source_document_id, "superseded": superseded,
    }
    keys = ("execution", "node_id", "kind", "content_type", "superseded")
    document_id = (GeneratedDocument.insert(**values)
                   .on_conflict(conflict_target=UNIQUE, update={k: v for k, v in values.items() if k not in keys})
                   .execute())
    return str(document_id)


def store_signed(original, *, node_id, kind, name, content, content_type=PDF):
    """Store a signed PDF or audit trail of `original`; a signed PDF supersedes it."""
    document_id = save_generated(organization_id=original.organization_id, execution_id=original.execution_id,
                                 node_id=node_id, name=name, content_type=content_type, content=content, kind=kind,
                                 source_document_id=original.id, is_preview=original.is_preview)
    if kind == "signed":
        GeneratedDocument.update(superseded=True).where(GeneratedDocument.id == original.id).execute()
    return document_id


def mark_stored(document_id, *, storage, path=None, url=None, external_id=None):
    (GeneratedDocument.update(storage=storage, path=path, url=url, external_id=external_id)
     .where(GeneratedDocument.id == document_id).execute())


def all_of(execution_id):
    """Every document of the run, originals and signed versions, oldest first."""
    return list(GeneratedDocument.select().where(GeneratedDocument.execution == execution_id)
                .order_by(GeneratedDocument.created_at, GeneratedDocument.id))


def for_execution(execution_id):
    """The run's current documents: a signed version stands in for its original."""
    return list(GeneratedDocument.select().where((GeneratedDocument.execution == execution_id)
                                                 & ~GeneratedDocument.superseded)
                .order_by(GeneratedDocument.created_at, GeneratedDocument.id))


def to_sign(execution_id):
    """The document a signature step sends: the latest generated PDF, else the latest document."""
    current = [d for d in for_execution(execution_id) if d.kind == "generated"]
    pdfs = [d for d in current if d.content_type == PDF]
    return (pdfs or current or [None])[-1]


def latest(execution_id, *, storage=None):
    """The run's most recent current document (stored in `storage` when given), or None."""
    query = GeneratedDocument.select().where((GeneratedDocument.execution == execution_id)
                                             & ~GeneratedDocument.superseded)
    if storage:
        query = query.where(GeneratedDocument.storage == storage)
    return query.order_by(GeneratedDocument.created_at.desc(), GeneratedDocument.id.desc()).first()


def get(document_id, organization_id):
    return GeneratedDocument.get_or_none((GeneratedDocument.id == document_id)
                                         & (GeneratedDocument.organization_id == organization_id))


def copy_to(document, execution_id):
    """Copy a document into another execution (a retry reusing its step)."""
    return save_generated(organization_id=document.organization_id, execution_id=execution_id,
                          node_id=document.node_id, name=document.name, content_type=document.content_type,
                          content=bytes(document.content), is_preview=document.is_preview, kind=document.kind,
                          superseded=document.superseded)


def for_node(execution_id, node_id):
    return list(GeneratedDocument.select().where((GeneratedDocument.execution == execution_id)
                                                 & (GeneratedDocument.node_id == node_id)))
