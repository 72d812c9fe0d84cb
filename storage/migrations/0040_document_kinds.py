"""Documents have a kind (generated, signed, audit_trail); a render may keep several formats.

A node may now store one document per (kind, content type): a render kept
as .docx and .pdf, a signature step's signed PDF and audit trail. A signed
version supersedes the original it was made from, so later save and
delivery steps use the signed one.
"""

UP = """
ALTER TABLE generated_documents ADD COLUMN kind text NOT NULL DEFAULT 'generated';
ALTER TABLE generated_documents ADD COLUMN source_document_id uuid;
ALTER TABLE generated_documents ADD COLUMN superseded boolean NOT NULL DEFAULT false;
ALTER TABLE generated_documents DROP CONSTRAINT generated_documents_execution_id_node_id_key;
ALTER TABLE generated_documents ADD CONSTRAINT generated_documents_node_kind_type_key
    UNIQUE (execution_id, node_id, kind, content_type);
ALTER TABLE signature_requests ADD COLUMN documents_state text;
ALTER TABLE signature_requests ADD COLUMN signed_documents jsonb;
"""

DOWN = """
ALTER TABLE signature_requests DROP COLUMN IF EXISTS documents_state, DROP COLUMN IF EXISTS signed_documents;
DELETE FROM generated_documents WHERE kind <> 'generated';
DELETE FROM generated_documents a USING generated_documents b
    WHERE a.execution_id = b.execution_id AND a.node_id = b.node_id AND a.created_at < b.created_at;
ALTER TABLE generated_documents DROP CONSTRAINT IF EXISTS generated_documents_node_kind_type_key;
ALTER TABLE generated_documents ADD CONSTRAINT generated_documents_execution_id_node_id_key
    UNIQUE (execution_id, node_id);
ALTER TABLE generated_documents DROP COLUMN IF EXISTS kind, DROP COLUMN IF EXISTS source_document_id,
    DROP COLUMN IF EXISTS superseded;
"""


def up(db):
    db.execute_sql(UP)


def down(db):
    db.execute_sql(DOWN)
