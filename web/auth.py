"""Authenticate API calls: Bearer token + X-Organization-ID, or a stream token.

Resources declare `auth = "public"` to opt out (health, webhooks, approval
links), or `auth = "stream"` to also accept a short-lived signed token in
the `token` query parameter: browsers' EventSource cannot send headers, and
the run viewer reads one run with it. Such a token grants read access to one
execution of one organization until it expires.
"""
import base64
import hashlib
import hmac
import json
import time
import uuid

from storage import tenancy
from web.errors import BadRequest, Forbidden, Unauthorized

STREAM_TOKEN_TTL = 3600
STREAM_TOKEN_MAX_TTL = 12 * 3600


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_stream_token(secret, organization_id, execution_id, ttl=STREAM_TOKEN_TTL):
    payload = _b64(json.dumps({"o": str(organization_id), "e": str(execution_id),
                               "x": int(time.time()) + ttl}).encode())
    mac = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}"


def verify_stream_token(secret, token, execution_id):
    """Return the organization id the token grants for this execution, or None."""
    try:
        payload, mac = token.split(".", 1)
        expected = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        claims = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if claims.get("x", 0) < time.time() or claims.get("e") != str(execution_id):
        return None
    return claims.get("o")


def check_organization_id(value):
    """Refuse an X-Organization-ID that cannot be an id (400), before any lookup."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise BadRequest("X-Organization-ID is malformed: it must be the organization_id `docg org create` printed "
                         "(a UUID such as 3f2b8c1e-5d4a-4b6f-9e21-7c0d1a2b3c4d).",
                         f"X-Organization-ID {value[:80]!r} is not a UUID", code="malformed_organization_id") from None


class AuthMiddleware:
    def __init__(self, secret_key):
        self.secret_key = secret_key

    def process_resource(self, req, resp, resource, params):
        mode = getattr(resource, "auth", "org")
        if resource is None or mode == "public":
            return
        if mode == "stream" and req.get_param("token"):
            organization = verify_stream_token(self.secret_key, req.get_param("token"), params.get("execution_id"))
            if organization is None:
                raise Unauthorized("The stream link expired; reload the page.", "invalid or expired stream token")
            req.context.organization_id = organization
            req.context.actor = ("user", "stream-token")
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send your API token as 'Authorization: Bearer <token>'.", "missing bearer token")
        organization = req.get_header("X-Organization-ID")
        if not organization:
            raise Unauthorized("Send your organization id in X-Organization-ID.", "missing X-Organization-ID")
        check_organization_id(organization)
        row = tenancy.authenticate(token.strip(), organization)
        if row is None:
            if tenancy.token_organization(token.strip()) is not None:
                raise Forbidden("This token does not belong to that organization.", "organization mismatch")
            raise Unauthorized("The API token is invalid or revoked.", "unknown token")
        req.context.organization_id = str(row.organization_id)
        req.context.actor = ("user", str(row.user_id or row.id))
