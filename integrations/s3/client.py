"""Talk to S3 and S3-compatible storage (AWS, DigitalOcean Spaces) with boto3.

boto3 signs every request with AWS Signature Version 4, retries throttling
and 5xx answers itself ("standard" retry mode) and parses S3's XML errors;
this module only injects the connection's keys, the correlation header and
timeouts, and maps S3 error codes to ours.

NOTE: since botocore 1.36 the SDK adds CRC32 checksum headers to PutObject by
default, which several S3-compatible services (Spaces among them at the
time) refuse. For a custom endpoint we ask for checksums only when the
operation requires one and send our own Content-MD5 instead, which every
S3-compatible service checks.

NOTE: botocore signs every header a request carries, so the correlation
header stays off presigned URLs (query auth): a URL signed over it would
only work for a caller that sends the same header.

Docs: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/s3-presigned-urls.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html,
https://docs.digitalocean.com/products/spaces/reference/aws-sdks/,
https://github.com/boto/boto3/issues/4392 (the checksum default change).
"""
import base64
import dataclasses
import hashlib
import ipaddress
from urllib.parse import quote, urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError, \
    ReadTimeoutError

from integrations import outbound
from integrations.errors import (IntegrationError, InvalidConfig, PermissionDenied, RateLimited, Timeout,
                                 Unavailable)

CANNED_ACLS = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
               "bucket-owner-read", "bucket-owner-full-control")
CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                    "InvalidClientTokenId", "AuthorizationHeaderMalformed", "InvalidSecurity"}
THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests"}


@dataclasses.dataclass(frozen=True)
class Location:
    """Where `s3://bucket/prefix` points."""

    bucket: str
    prefix: str

    def key_for(self, name):
        return f"{self.prefix}/{name}" if self.prefix else name


@dataclasses.dataclass
class StoredObject:
    bucket: str
    key: str
    etag: str
    version_id: str | None
    url: str


def parse_folder(folder):
    """Return the Location of an `s3://bucket/prefix` folder, or a clear error."""
    text = str(folder or "").strip()
    if not text.startswith("s3://"):
        raise InvalidConfig("The folder must look like s3://bucket/prefix.", f"folder {folder!r} is not an s3:// URL",
                            code="storage.invalid_folder")
    bucket, _, prefix = text[len("s3://"):].partition("/")
    if not bucket or len(bucket) < 3 or len(bucket) > 63 or "{{" in bucket:
        raise InvalidConfig("The folder must name a bucket: s3://bucket/prefix.", f"bad bucket in {folder!r}",
                            code="storage.invalid_folder")
    prefix = "/".join(part for part in prefix.split("/") if part)
    if any(part in (".", "..") for part in prefix.split("/")):
        raise InvalidConfig("The folder must not contain . or .. parts.", f"folder {folder!r}",
                            code="storage.invalid_folder")
    return Location(bucket, prefix)


def object_url(credentials, bucket, key):
    """The object's address: virtual-hosted style, or path style for IPs, localhost and `addressing_style=path`."""
    quoted = quote(key, safe="/~")
    endpoint = (credentials.get("endpoint_url") or "").rstrip("/")
    if not endpoint:
        region = credentials.get("region") or "us-east-1"
        return f"https://{bucket}.s3.{region}.amazonaws.com/{quoted}"
    parts = urlparse(endpoint)
    if credentials.get("addressing_style") == "path" or _is_ip_or_local(parts.hostname or ""):
        return f"{endpoint}/{bucket}/{quoted}"
    return f"{parts.scheme}://{bucket}.{parts.netloc}/{quoted}"


def _is_ip_or_local(host):
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def build_boto_client(credentials, *, timeout=15.0, correlation_id=None, policy=None):
    """A boto3 S3 client for these credentials: SigV4, timeouts, bounded retries."""
    missing = [k for k in ("access_key_id", "secret_access_key") if not credentials.get(k)]
    if missing:
        raise InvalidConfig("The S3 connection is missing its access keys; reconnect it.",
                            f"credentials lack {missing}", code="connection_error")
    endpoint = credentials.get("endpoint_url") or None
    if endpoint:  # NOTE: boto3 does not use our Session: the endpoint is checked once here, not pinned
        outbound.check_url(endpoint, policy or outbound.Policy.from_settings())
    options = {"signature_version": "s3v4", "connect_timeout": timeout, "read_timeout": timeout,
               "retries": {"mode": "standard", "max_attempts": 3},
               "s3": {"addressing_style": credentials.get("addressing_style") or "auto"}}
    if endpoint:
        options.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=credentials.get("region") or "us-east-1",
        aws_access_key_id=credentials["access_key_id"], aws_secret_access_key=credentials["secret_access_key"],
        config=Config(**options))
    if correlation_id:
        def add_correlation(request, signature_version=None, **_):
            if str(signature_version or "").endswith("-query"):
                return  # a presigned URL would only work for callers that send this header too
            request.headers["X-Correlation-ID"] = str(correlation_id)

        client.meta.events.register("before-sign.s3", add_correlation)
    return client


class S3Client:
    """The few S3 calls DocG makes, with errors mapped to our codes."""

    def __init__(self, boto_client, credentials):
        self.boto, self.credentials = boto_client, credentials

    @classmethod
    def for_credentials(cls, credentials, *, timeout=15.0, correlation_id=None):
        return cls(build_boto_client(credentials, timeout=timeout, correlation_id=correlation_id), credentials)

    def head_bucket(self, bucket):
        """Check the bucket exists and the keys may use it (HeadBucket)."""
        try:
            self.boto.head_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError) as ex:
            error = map_error(ex, what=f"bucket {bucket}")
            if error.code == "storage.insufficient_permissions":
                # HEAD answers carry no body: ask once more to tell bad keys from missing rights.
                self._raise_if_bad_keys()
            raise error from ex

    def list_buckets(self):
        try:
            answer = self.boto.list_buckets()
        except (ClientError, BotoCoreError) as ex:
            raise map_error(ex, what="bucket list") from ex
        return {"buckets": [b["Name"] for b in answer.get("Buckets", [])][:50],
                "owner": (answer.get("Owner") or {}).get("DisplayName") or (answer.get("Owner") or {}).get("ID")}

    def put_object(self, bucket, key, content, *, content_type, acl=None, content_disposition=None, metadata=None):
        """Upload one object (PutObject) with a Content-MD5 the server verifies."""
        params = {"Bucket": bucket, "Key": key, "Body": content, "ContentType": content_type,
                  "ContentMD5": base64.b64encode(hashlib.md5(content).digest()).decode(),
                  "Metadata": metadata or {}}
        if acl:
            params["ACL"] = acl
        if content_disposition:
            params["ContentDisposition"] = content_disposition
        try:
            answer = self.boto.put_object(**params)
        except (ClientError, BotoCoreError) as ex:
            raise map_error(ex, what=f"object {key}") from ex
        return StoredObject(bucket=bucket, key=key, etag=(answer.get("ETag") or "").strip('"'),
                            version_id=answer.get("VersionId"), url=object_url(self.credentials, bucket, key))

    def presigned_get(self, bucket, key, expires_in):
        """A URL anyone may GET the object with for `expires_in` seconds (SigV4 query auth).

        The signature is computed here, with no request to S3; a bad key or
        a missing object shows when the URL is used.
        """
        try:
            return self.boto.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                    ExpiresIn=int(expires_in), HttpMethod="GET")
        except (ClientError, BotoCoreError) as ex:
            raise map_error(ex, what=f"object {key}") from ex

    def _raise_if_bad_keys(self):
        try:
            self.boto.list_buckets()
        except ClientError as ex:
            error = map_error(ex, what="bucket list")
            if error.code == "connection_error":
                raise error from ex
        except BotoCoreError:
            pass


def map_error(ex, *, what):
    """Turn a botocore error into the IntegrationError a person can act on."""
    if isinstance(ex, (ConnectTimeoutError, ReadTimeoutError)):
        return Timeout(message_tech=f"S3 {what}: {ex}")
    if isinstance(ex, EndpointConnectionError):
        return Unavailable("The storage service could not be reached; the step will be retried.", f"S3 {what}: {ex}")
    if not isinstance(ex, ClientError):
        return Unavailable("The storage service could not be reached; the step will be retried.", f"S3 {what}: {ex!r}")
    code = ex.response.get("Error", {}).get("Code", "")
    status = ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    detail = f"S3 {what}: {status} {code}: {ex.response.get('Error', {}).get('Message', '')}"
    if code in CREDENTIAL_CODES:
        return InvalidConfig("The storage service refused the access keys (or their region); reconnect them.",
                             detail, code="connection_error")
    if code in ("NoSuchBucket",) or (status == 404 and code in ("404", "NotFound", "")):
        return InvalidConfig("The bucket does not exist; check the folder's bucket name.", detail,
                             code="storage.bucket_not_found")
    if code == "AccessDenied" or status == 403:
        return PermissionDenied("The storage keys may not write to this bucket; grant them access.", detail,
                                code="storage.insufficient_permissions")
    if code in THROTTLE_CODES or status == 429:
        return RateLimited(message_tech=detail)
    if status >= 500 or code in ("InternalError", "ServiceUnavailable", "RequestTimeout"):
        return Unavailable("The storage service failed; the step will be retried.", detail)
    return IntegrationError("The storage service refused the upload.", detail, code="bad_response")
