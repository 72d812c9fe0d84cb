"""Secrets in node config are write-only: sealed at rest, "[set]" when shown.

A string under a secret-looking key (`secret`, `password`, `api_key`,
`private_key`, `access_token`...), at any depth of a node's config, is
sealed with the credentials keyring (AES-256-GCM, bound to the
organization) when the workflow is saved, shown as "[set]" by the API,
and revealed only when the node runs. Saving "[set]" back keeps the sealed
value the node had (matched by label, else position); saving "" clears it.
NOTE: every incoming string is sealed, also one that looks sealed already:
a tenant cannot plant a token copied from elsewhere.
"""
import re

from storage import fields
from storage.errors import SecretNotSet

SET = "[set]"
PREFIX = "sealed:"
SECRET_KEY = re.compile(r"secret|passw(or)?d|api[_-]?key|private[_-]?key|(access|auth|bearer|api)[_-]?token",
                        re.IGNORECASE)


def _aad(organization_id):
    return f"node-config:{organization_id}".encode()


def is_secret(key):
    return isinstance(key, str) and bool(SECRET_KEY.search(key))


def _walk(value, on_secret, path=()):
    if isinstance(value, dict):
        return {k: (on_secret(item, path + (k,)) if is_secret(k) and isinstance(item, str)
                    else _walk(item, on_secret, path + (k,))) for k, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, on_secret, path + (i,)) for i, item in enumerate(value)]
    return value


def _sealed_at(config, path):
    for part in path:
        try:
            config = config[part]
        except (KeyError, IndexError, TypeError):
            return None
    return config if isinstance(config, str) and config.startswith(PREFIX) else None


def seal(config, organization_id, previous=None):
    """`config` with every secret sealed; "[set]" takes the value at the same path of `previous`."""
    def on_secret(value, path):
        if value == "":
            return ""
        if value == SET:
            kept = _sealed_at(previous or {}, path)
            if kept is None:
                raise SecretNotSet(message_tech=f"no stored secret at {'/'.join(map(str, path))}")
            return kept
        return PREFIX + fields.keyring().encrypt(value.encode(), _aad(organization_id))

    return _walk(config or {}, on_secret)


def mask(config):
    """`config` as the API shows it: every secret that has a value is "[set]"."""
    return _walk(config or {}, lambda value, path: SET if value else value)


def reveal(config, organization_id):
    """`config` with sealed secrets opened, for the node that uses them."""
    def on_secret(value, path):
        if value.startswith(PREFIX):
            return fields.keyring().decrypt(value[len(PREFIX):], _aad(organization_id)).decode()
        return value

    return _walk(config or {}, on_secret)


def seal_clear(config, organization_id):
    """Seal the secrets of a stored config that are still in clear (migration of older rows)."""
    def on_secret(value, path):
        if not value or value.startswith(PREFIX):
            return value
        return PREFIX + fields.keyring().encrypt(value.encode(), _aad(organization_id))

    return _walk(config or {}, on_secret)


def needs_sealing(config):
    """Whether a stored config still holds a secret in clear (rows from before sealing)."""
    found = []
    _walk(config or {}, lambda value, path: found.append(value and not value.startswith(PREFIX)) or value)
    return any(found)


def reseal(config, organization_id):
    """(config with every sealed secret not on the current key sealed again, how many were)."""
    ring, count = fields.keyring(), [0]

    def on_secret(value, path):
        if not value.startswith(PREFIX) or not ring.needs_rotation(value[len(PREFIX):]):
            return value
        count[0] += 1
        plain = ring.decrypt(value[len(PREFIX):], _aad(organization_id))
        return PREFIX + ring.encrypt(plain, _aad(organization_id))

    return _walk(config or {}, on_secret), count[0]
