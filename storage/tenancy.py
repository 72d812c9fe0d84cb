"""Organizations and API tokens (stored as SHA-256 of a 256-bit random token)."""
import hashlib
import secrets
import uuid

from storage.db import database
from storage.models import ApiToken, Organization, User, utcnow

TOKEN_PREFIX = "docg_"


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create_organization(name, *, email=None, locale="en"):
    """Create an organization, its first user and an API token; return (org, token)."""
    with database.atomic():
        organization = Organization.create(name=name, locale=locale)
        user = User.create(organization=organization, email=email or f"admin@{organization.id.hex[:8]}.local",
                           name="Admin", role="admin")
        token = issue_token(organization.id, user_id=user.id, name="cli")
    return organization, token


def issue_token(organization_id, *, user_id=None, name=""):
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.create(organization=organization_id, user=user_id, name=name, prefix=token[:12],
                    token_hash=hash_token(token))
    return token


def authenticate(token, organization_id):
    """Return the live ApiToken for (token, organization) or None."""
    try:
        organization_id = uuid.UUID(str(organization_id))
    except ValueError:
        return None
    row = ApiToken.get_or_none((ApiToken.token_hash == hash_token(token)) & ApiToken.revoked_at.is_null())
    if row is None or row.organization_id != organization_id:
        return None
    return row


def token_organization(token):
    row = ApiToken.get_or_none((ApiToken.token_hash == hash_token(token)) & ApiToken.revoked_at.is_null())
    return row.organization_id if row else None


def revoke(token):
    ApiToken.update(revoked_at=utcnow()).where(ApiToken.token_hash == hash_token(token)).execute()


def locale_of(organization_id):
    """The organization's locale ('en' when it is unknown)."""
    try:
        row = Organization.select(Organization.locale).where(Organization.id == uuid.UUID(str(organization_id))).first()
    except ValueError:
        return "en"
    return row.locale if row else "en"


def organization(organization_id):
    return Organization.get_by_id(organization_id)


def update_organization(organization_id, **fields):
    """Change the organization's name or locale; return the row."""
    if fields:
        Organization.update(**fields).where(Organization.id == organization_id).execute()
    return Organization.get_by_id(organization_id)
