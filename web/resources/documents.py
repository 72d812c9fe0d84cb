"""A run's documents (generated, signed, audit trails, previews) and their download."""
from storage import documents, executions
from web.errors import NotFoundError


def serialize(document):
    return {"id": str(document.id), "node_id": str(document.node_id), "name": document.name,
            "content_type": document.content_type, "size": document.size, "sha256": document.sha256,
            "is_preview": document.is_preview, "kind": document.kind,
            "source_document_id": str(document.source_document_id) if document.source_document_id else None,
            "superseded": document.superseded, "storage": document.storage, "path": document.path,
            "url": document.url, "created_at": document.created_at.isoformat(),
            "download_url": f"/api/v1/executions/{document.execution_id}/documents/{document.id}"}


class ExecutionDocuments:
    auth = "stream"

    def on_get(self, req, resp, execution_id):
        execution = executions.get(execution_id, req.context.organization_id)
        resp.media = {"documents": [serialize(d) for d in documents.all_of(execution.id)]}


class ExecutionDocument:
    auth = "stream"

    def on_get(self, req, resp, execution_id, document_id):
        execution = executions.get(execution_id, req.context.organization_id)
        document = next((d for d in documents.all_of(execution.id) if str(d.id) == document_id), None)
        if document is None:
            raise NotFoundError("Document not found.", f"document {document_id}")
        resp.content_type = document.content_type
        resp.downloadable_as = document.name
        resp.data = bytes(document.content)
