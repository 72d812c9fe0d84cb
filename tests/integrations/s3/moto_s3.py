"""moto's S3 in server mode on a local port, checking SigV4 like S3 does.

The server is moto's own WSGI app (what `moto_server` runs) behind a
recorder, so a test can see what reached it: method, path and headers.
IAM users are created first (a writer allowed s3:*, an outsider allowed
nothing); then `/moto-api/reset-auth` turns authentication on, from which
point moto recomputes every request's signature with the user's secret and
answers SignatureDoesNotMatch / InvalidAccessKeyId / AccessDenied as S3 does.

moto 5 cannot serve a presigned URL while authentication is on (it looks for
an Authorization header), so `download(url)` checks the URL's query
signature with AWS's documented SigV4 algorithm (`presigned_by`), then GETs
it with authentication paused.
"""
import dataclasses
import hashlib
import hmac
import json
import threading
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import requests
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

REGION = "us-east-1"
ALLOW_S3 = json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def presigned_by(url, secret):
    """True when `url` carries a valid SigV4 query signature (host only, GET) made with `secret`.

    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                               for k, v in sorted(query) if k != "X-Amz-Signature")
    canonical = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}\n", params["X-Amz-SignedHeaders"],
                           "UNSIGNED-PAYLOAD"])
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return params["X-Amz-SignedHeaders"] == "host" and hmac.compare_digest(expected, params["X-Amz-Signature"])


@dataclasses.dataclass
class Seen:
    method: str
    path: str
    headers: dict


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class MotoS3:
    def __init__(self, bucket="docg-contracts"):
        self.bucket = bucket
        self.requests = []
        self.keys = {}

    def start(self):
        app = DomainDispatcherApplication(create_backend_app)
        self.server = make_server("127.0.0.1", 0, self._recording(app), threaded=True, request_handler=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._provision()
        return self

    def stop(self):
        """Stop serving and turn moto's (process-wide) authentication off again."""
        requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"inf", timeout=5)
        self.server.shutdown()
        self.thread.join(5)

    def _recording(self, app):
        def recorder(environ, start_response):
            headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                       if key.startswith("HTTP_")}
            self.requests.append(Seen(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), headers))
            return app(environ, start_response)
        return recorder

    def _provision(self):
        # moto's backends are process-wide: an earlier server of this process left its users and buckets
        # (a package-scoped fixture is set up again when pytest-xdist comes back to the package later)
        reset = requests.post(f"{self.endpoint}/moto-api/reset", timeout=5)
        assert reset.status_code == 200, reset.text
        iam = self._client("iam", "bootstrap", "bootstrap")
        for user, policy in (("docg-writer", ALLOW_S3), ("docg-outsider", None)):
            iam.create_user(UserName=user)
            if policy:
                iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=policy)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            self.keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        self._client("s3", "bootstrap", "bootstrap").create_bucket(Bucket=self.bucket)
        answer = requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"0", timeout=5)
        assert answer.status_code == 200, answer.text

    def _client(self, service, key_id, secret):
        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id=key_id,
            aws_secret_access_key=secret, config=Config(request_checksum_calculation="when_required"))

    def credentials(self, user="docg-writer", **overrides):
        """What a DocG connection to this server holds."""
        key_id, secret = self.keys[user]
        return {"access_key_id": key_id, "secret_access_key": secret, "region": REGION,
                "endpoint_url": self.endpoint, **overrides}

    def admin(self):
        """An S3 client signed as the writer, for a test to read what was stored."""
        return self._client("s3", *self.keys["docg-writer"])

    def download(self, url, user="docg-writer"):
        """GET a presigned URL the way S3 serves one: the signature must verify, then the object comes."""
        if not presigned_by(url, self.keys[user][1]):
            return requests.Response()  # status_code None: refused
        requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"inf", timeout=5)
        try:
            return requests.get(url, timeout=5)
        finally:
            requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"0", timeout=5)

    def seen(self, method=None, path_prefix=""):
        return [s for s in self.requests if (method is None or s.method == method) and s.path.startswith(path_prefix)]
