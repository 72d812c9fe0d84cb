"""S3-compatible storage (AWS S3, DigitalOcean Spaces): `s3-storage` and `storage-s3-link`.

A connection holds `access_key_id`, `secret_access_key`, `region` and
`endpoint_url` (e.g. https://nyc3.digitaloceanspaces.com for Spaces; empty
for AWS), optionally `addressing_style` ("path" for MinIO-like servers) and
`bucket` (the connection test then checks that bucket instead of listing).
The local `storage` node hands `s3://` folders to `upload_documents` and
`check_folder` here.
"""
from integrations.base import App, Provider
from integrations.s3.client import S3Client
from integrations.s3.link import S3Link
from integrations.s3.node import S3Storage, check_folder, upload_documents

__all__ = ["register", "upload_documents", "check_folder"]


def _no_http_auth(credentials):
    return {}  # boto3 signs each request itself (SigV4)


def check_connection(handle):
    """One cheap signed call: HeadBucket of the configured bucket, else ListBuckets."""
    client = S3Client.for_credentials(handle.credentials, timeout=handle.settings.http_timeout)
    bucket = handle.credentials.get("bucket")
    if bucket:
        client.head_bucket(bucket)
        return {"bucket": bucket, "reachable": True}
    return client.list_buckets()


def register(registry):
    registry.register_provider(Provider(key="s3", name="S3 / DigitalOcean Spaces", auth_type="api_key",
                                        auth_header=_no_http_auth, test=check_connection))
    registry.register(App(key="storage-s3", name="Storage (S3 / DigitalOcean Spaces)", auth_type="api_key",
                          provider="s3", actions=[S3Storage(), S3Link()],
                          description="Upload generated documents to an S3 bucket or a DigitalOcean Space, "
                                      "and hand out expiring download links."))
