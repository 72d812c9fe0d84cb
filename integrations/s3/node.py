"""Save a run's generated documents to S3 or DigitalOcean Spaces.

Each object is uploaded inside `ctx.once`, so a redelivered hop does not
upload again; its key is `prefix/<document id prefix>-<name>`, the same
shape the local folder node uses for file names. S3 has no idempotency key:
a repeated PUT of the same key and bytes leaves the same object.
"""
from urllib.parse import quote

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.errors import InvalidConfig
from integrations.s3.client import CANNED_ACLS, S3Client, parse_folder
from storage import documents

ENDPOINTS = ("HEAD https://{bucket}.s3.{region}.amazonaws.com/", "PUT https://{bucket}.s3.{region}.amazonaws.com/{key}",
             "GET https://s3.{region}.amazonaws.com/ (connection test)")


def client_for(handle, correlation_id=None):
    if handle.provider.key != "s3":
        raise InvalidConfig("Choose an S3 connection for this step.",
                            f"connection provider is {handle.provider.key}", code="connection_error")
    return S3Client.for_credentials(handle.credentials, timeout=handle.settings.http_timeout,
                                    correlation_id=correlation_id)


def _acl(config):
    acl = config.get("acl") or None
    if acl and acl not in CANNED_ACLS:
        raise InvalidConfig(f"Unknown ACL {acl!r}; use one of {', '.join(CANNED_ACLS)}.", f"acl {acl!r}",
                            code="invalid_config")
    return acl


def content_disposition(value, name):
    """`attachment` or `inline` get the file name added; any other value is sent as given."""
    if not value:
        return None
    if value in ("attachment", "inline"):
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
        return f"{value}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return str(value)


def check_folder(config, pctx, node_id):
    """Preflight for an s3:// folder: keys usable, bucket reachable and writable by them."""
    folder = str(config.get("folder") or "")
    if "{{" in folder or "{{" in str(config.get("connection_id") or ""):
        return []
    location = parse_folder(folder)
    _acl(config)
    client = client_for(handle_for(config.get("connection_id"), pctx.organization_id, pctx.settings))
    client.head_bucket(location.bucket)
    return []


def upload_documents(ctx, folder):
    """Upload every document of the run to `folder` (s3://bucket/prefix); return the node output."""
    location = parse_folder(folder)
    acl = _acl(ctx.config)
    client = client_for(ctx.connection(), ctx.correlation_id)
    stored = []
    for document in documents.for_execution(ctx.execution_id):
        key = location.key_for(f"{str(document.id)[:8]}-{document.name}")

        def put(_idempotency_key, document=document, key=key):
            obj = client.put_object(
                location.bucket, key, bytes(document.content), content_type=document.content_type, acl=acl,
                content_disposition=content_disposition(ctx.config.get("content_disposition"), document.name),
                metadata={"docg-execution-id": ctx.execution_id, "docg-document-id": str(document.id),
                          "docg-sha256": document.sha256 or ""})
            return {"key": obj.key, "url": obj.url, "etag": obj.etag, "version_id": obj.version_id}

        result = ctx.once(f"s3_put:{document.id}", put)
        documents.mark_stored(document.id, storage="s3", url=result["url"], path=result["key"],
                              external_id=result.get("version_id"))
        stored.append({"document_id": str(document.id), "name": document.name, **result})
    first = stored[0] if stored else {}
    return {"bucket": location.bucket, "prefix": location.prefix, "keys": [s["key"] for s in stored],
            "documents": stored, "url": first.get("url"), "path": first.get("key"),
            "document_id": first.get("document_id"), "name": first.get("name")}


class S3Storage(Action):
    """Upload the run's documents to an S3 bucket (AWS, Spaces, any S3 API)."""

    key = "s3-storage"
    name = "Save to S3 / Spaces"
    phase = "save"
    description = "Uploads every document generated so far in the run to s3://bucket/prefix."
    fields = {"folder": {"type": "string", "description": "s3://bucket/prefix"},
              "connection_id": {"type": "string"},
              "acl": {"enum": list(CANNED_ACLS)},
              "content_disposition": {"type": "string", "description": "attachment, inline or a full header value"}}
    outputs = ("bucket", "prefix", "keys", "documents", "url", "path", "document_id", "name")
    endpoints = ENDPOINTS

    def check(self, config, ctx, node_id):
        return check_folder(config, ctx, node_id)

    def run(self, ctx):
        return Result(output=upload_documents(ctx, ctx.config.get("folder")))
