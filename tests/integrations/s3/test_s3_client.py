"""The S3 client against moto in server mode, with signature checking on."""
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.errors import IntegrationError
from integrations.s3.client import S3Client, object_url, parse_folder
from tests.integrations.s3.moto_s3 import presigned_by
from tests.support import free_port

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_put_object_is_sigv4_signed_and_stored(moto_s3):
    # Given a client with the writer's keys and a run's correlation id
    client = S3Client.for_credentials(moto_s3.credentials(), correlation_id="corr-put-1")
    content = b"PK\x03\x04 rendered contract"

    # When it uploads an object
    stored = client.put_object(moto_s3.bucket, "contracts/abc12345-Contract Acme.docx", content, content_type=DOCX,
                               content_disposition="attachment; filename=\"Contract Acme.docx\"",
                               metadata={"docg-execution-id": "exec-1"})

    # Then the object holds the bytes, type and metadata we sent
    assert stored.url == f"{moto_s3.endpoint}/{moto_s3.bucket}/contracts/abc12345-Contract%20Acme.docx"
    assert stored.etag == hashlib.md5(content).hexdigest()
    answer = moto_s3.admin().get_object(Bucket=moto_s3.bucket, Key="contracts/abc12345-Contract Acme.docx")
    assert answer["Body"].read() == content
    assert answer["ContentType"] == DOCX and answer["Metadata"] == {"docg-execution-id": "exec-1"}
    assert answer["ContentDisposition"] == "attachment; filename=\"Contract Acme.docx\""

    # and the request was signed with SigV4 for this key, region and service, covering our headers
    put = moto_s3.seen("PUT", f"/{moto_s3.bucket}/contracts/")[-1]
    key_id = moto_s3.keys["docg-writer"][0]
    authorization = put.headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={key_id}/")
    assert "/us-east-1/s3/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "content-md5", "x-correlation-id"} <= set(signed)
    assert put.headers["X-Correlation-Id"] == "corr-put-1"


def test_a_presigned_url_lets_anyone_get_the_object(moto_s3):
    # Given a stored object and a client that carries a correlation id
    client = S3Client.for_credentials(moto_s3.credentials(), correlation_id="corr-link-1")
    client.put_object(moto_s3.bucket, "links/Contract Acme.pdf", b"%PDF-1.4 link", content_type="application/pdf")

    # When it presigns a GET for 15 minutes
    url = client.presigned_get(moto_s3.bucket, "links/Contract Acme.pdf", 900)

    # Then the URL is SigV4 query auth that signs only the host, so a plain GET downloads the bytes
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{moto_s3.endpoint}/{moto_s3.bucket}/links/Contract%20Acme.pdf?")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-SignedHeaders"] == ["host"] and "corr-link-1" not in url
    answer = moto_s3.download(url)
    assert answer.status_code == 200 and answer.content == b"%PDF-1.4 link"

    # and a URL signed with the wrong secret, or tampered with, does not verify
    forged = S3Client.for_credentials(moto_s3.credentials(secret_access_key="nope")).presigned_get(
        moto_s3.bucket, "links/Contract Acme.pdf", 900)
    assert not presigned_by(forged, moto_s3.keys["docg-writer"][1])
    assert not presigned_by(url.replace("X-Amz-Expires=900", "X-Amz-Expires=9000"), moto_s3.keys["docg-writer"][1])


def test_moto_refuses_a_request_signed_with_the_wrong_secret(moto_s3):
    client = S3Client.for_credentials(moto_s3.credentials(secret_access_key="not-the-secret"))
    with pytest.raises(IntegrationError) as caught:
        client.put_object(moto_s3.bucket, "contracts/forged.docx", b"x", content_type=DOCX)
    assert caught.value.code == "connection_error" and not caught.value.retryable
    assert "SignatureDoesNotMatch" in caught.value.message_tech
    assert moto_s3.admin().list_objects_v2(Bucket=moto_s3.bucket, Prefix="contracts/forged").get("KeyCount") == 0


@pytest.mark.parametrize("who, bucket, code", [
    ("outsider", None, "storage.insufficient_permissions"),
    ("writer", "docg-missing-bucket", "storage.bucket_not_found"),
    ("wrong-secret", None, "connection_error"),
])
def test_head_bucket_errors_map_to_our_codes(moto_s3, who, bucket, code):
    credentials = {"outsider": moto_s3.credentials("docg-outsider"), "writer": moto_s3.credentials(),
                   "wrong-secret": moto_s3.credentials(secret_access_key="nope")}[who]
    with pytest.raises(IntegrationError) as caught:
        S3Client.for_credentials(credentials).head_bucket(bucket or moto_s3.bucket)
    assert caught.value.code == code


def test_head_bucket_and_list_buckets_succeed_for_the_writer(moto_s3):
    client = S3Client.for_credentials(moto_s3.credentials())
    client.head_bucket(moto_s3.bucket)
    assert moto_s3.bucket in client.list_buckets()["buckets"]


def test_an_unreachable_endpoint_is_a_retryable_error():
    credentials = {"access_key_id": "AKIA", "secret_access_key": "s", "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(IntegrationError) as caught:
        S3Client.for_credentials(credentials, timeout=2).head_bucket("docg-contracts")
    assert caught.value.code == "connection_error" and caught.value.retryable


def test_folders_and_object_urls():
    assert parse_folder("s3://docg-contracts//2026/deals/") == parse_folder("s3://docg-contracts/2026/deals")
    assert parse_folder("s3://docg-contracts").key_for("a.docx") == "a.docx"
    for bad in ("docg-contracts/x", "s3://", "s3://ab", "s3://bucket/../x"):
        with pytest.raises(IntegrationError) as caught:
            parse_folder(bad)
        assert caught.value.code == "storage.invalid_folder"
    spaces = {"endpoint_url": "https://nyc3.digitaloceanspaces.com", "region": "nyc3"}
    assert (object_url(spaces, "acme", "contracts/a b.docx")
            == "https://acme.nyc3.digitaloceanspaces.com/contracts/a%20b.docx")
    assert object_url({"region": "sa-east-1"}, "acme", "a.docx") == "https://acme.s3.sa-east-1.amazonaws.com/a.docx"
    minio = {"endpoint_url": "https://minio.internal:9000", "addressing_style": "path"}
    assert object_url(minio, "acme", "a.docx") == "https://minio.internal:9000/acme/a.docx"
