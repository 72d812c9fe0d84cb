"""Generated documents: one per (execution, node), stored in PostgreSQL."""
import hashlib

from storage.models import GeneratedDocument


def save_generated(*, organization_id, execution_id, node_id, name, content_type, content, is_preview=False):
    """Store the document of this (execution, node), replacing an earlier attempt's."""
    values = {
        "organization_id": organization_id, "execution": execution_id, "node_id": node_id,
        "name": name, "content_type": content_type, "content": content, "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(), "is_preview": is_preview,
    }
    document_id = (GeneratedDocument.insert(**values)
                   .on_conflict(conflict_target=[GeneratedDocument.execution, GeneratedDocument.node_id],
                                update={k: v for k, v in values.items() if k not in ("execution", "node_id")})
                   .execute())
    return str(document_id)


def mark_stored(document_id, *, storage, path=None, url=None, external_id=None):
    (GeneratedDocument.update(storage=storage, path=path, url=url, external_id=external_id)
     .where(GeneratedDocument.id == document_id).execute())


def for_execution(execution_id):
    return list(GeneratedDocument.select().where(GeneratedDocument.execution == execution_id)
                .order_by(GeneratedDocument.created_at))


def latest(execution_id, *, storage=None):
    """The run's most recent document (stored in `storage` when given), or None."""
    query = GeneratedDocument.select().where(GeneratedDocument.execution == execution_id)
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
                          content=bytes(document.content), is_preview=document.is_preview)


def for_node(execution_id, node_id):
    return list(GeneratedDocument.select().where((GeneratedDocument.execution == execution_id)
                                                 & (GeneratedDocument.node_id == node_id)))
