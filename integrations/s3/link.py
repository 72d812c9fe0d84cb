"""The storage-s3-link node: a presigned GET URL for the run's saved object.

boto3's `generate_presigned_url("get_object", ExpiresIn=...)`
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/s3-presigned-urls.html)
signs the URL with the connection's keys (SigV4 query auth, at most 7 days,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html).
The object is the one an S3 save step (`s3-storage`, or `storage` on an
s3:// folder) stored last in the run, or `bucket` + `key` when given; a
later step uses `{{step.<label>.url}}`, for example in an email.

NOTE: signing makes no request, but it is still made once per object under
`ctx.once`, so a redelivered hop hands on the same URL and expiry (already
sent on, perhaps) instead of a new one.
"""
import datetime

from integrations.base import Action, Result
from integrations.connections import handle_for
from integrations.errors import InvalidConfig
from integrations.s3.node import client_for
from storage import documents

MAX_EXPIRY = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
DEFAULT_EXPIRY = 24 * 3600


def expiry_of(config):
    value = config.get("expires_in", DEFAULT_EXPIRY)
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if not 1 <= seconds <= MAX_EXPIRY:
        raise InvalidConfig(f"The link must expire within 1 to {MAX_EXPIRY} seconds (7 days).",
                            f"expires_in={value!r}")
    return seconds


def no_object():
    return InvalidConfig("There is no stored object to link to; add an S3 save step before this one.",
                         "no document saved to s3 in this run", code="storage.no_object")


def bucket_of(run, document_id):
    """The bucket the save step that stored `document_id` reports in its output."""
    for output in (run.get("steps") or {}).values():
        if not isinstance(output, dict):
            continue
        if output.get("bucket") and any(d.get("document_id") == document_id for d in output.get("documents") or []):
            return output["bucket"]
    return None


def object_of(ctx):
    """(bucket, key, document) of the object to link to."""
    if ctx.config.get("key"):
        if not ctx.config.get("bucket"):
            raise InvalidConfig("Enter the bucket of the object's key.", "key without bucket")
        return ctx.config["bucket"], ctx.config["key"], None
    document = documents.latest(ctx.execution_id, storage="s3")
    bucket = document and bucket_of(ctx.run, str(document.id))
    if not bucket:
        raise no_object()
    return bucket, document.path, document


class S3Link(Action):
    """Make a presigned, expiring download URL for the run's stored S3 object."""

    key = "storage-s3-link"
    name = "S3 download link"
    phase = "delivery"
    description = "Make a presigned GET URL, valid for expires_in seconds, for the object an S3 step saved."
    fields = {"connection_id": {"type": "string"},
              "expires_in": {"type": "integer", "minimum": 1, "maximum": MAX_EXPIRY, "default": DEFAULT_EXPIRY},
              "bucket": {"type": "string", "description": "with key: link this object instead of the run's"},
              "key": {"type": "string"}}
    outputs = ("url", "expires_at", "expires_in", "bucket", "key", "document_id", "name")
    endpoints = ("GET https://{bucket}.s3.{region}.amazonaws.com/{key}?X-Amz-Signature=... (the presigned URL)",)

    def check(self, config, ctx, node_id):
        expiry_of(config)
        client = client_for(handle_for(config.get("connection_id"), ctx.organization_id, ctx.settings))
        bucket = config.get("bucket")
        if not config.get("key") and "save" not in ctx.earlier_phases:
            raise no_object()
        if bucket and "{{" not in str(bucket):
            client.head_bucket(bucket)
        return []

    def run(self, ctx):
        expires_in = expiry_of(ctx.config)
        bucket, key, document = object_of(ctx)
        client = client_for(ctx.connection(), ctx.correlation_id)

        def sign(_key):
            expires_at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expires_in)
            return {"url": client.presigned_get(bucket, key, expires_in),
                    "expires_at": expires_at.isoformat(timespec="seconds")}

        link = ctx.once(f"s3_link:{bucket}/{key}", sign)
        return Result(output={**link, "expires_in": expires_in, "bucket": bucket, "key": key,
                              "document_id": str(document.id) if document else None,
                              "name": document.name if document else key.rsplit("/", 1)[-1]})
