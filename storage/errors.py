"""Errors raised by the storage layer: one root, a small tree.

Each error carries a stable `code` (for logs and HTTP mapping in `web`), a
`message_human` safe to show to a person, and a `message_tech` with detail
for operators. Raise them `from` the underlying exception to keep the cause.
"""


class DescribedError(Exception):
    """An error with a stable code, a message for people and one for operators.

    NOTE: the base of both StorageError and integrations' IntegrationError,
    so every layer's errors carry the same three fields to the API.
    """

    code = "error"
    message_human = "Something went wrong."

    def __init__(self, message_human=None, message_tech=None, *, code=None):
        if message_human is not None:
            self.message_human = message_human
        if code is not None:
            self.code = code
        self.message_tech = message_tech or ""
        super().__init__(self.message_tech or self.message_human)

    def __str__(self):
        detail = f": {self.message_tech}" if self.message_tech else ""
        return f"[{self.code}] {self.message_human}{detail}"


class StorageError(DescribedError):
    """Root of every error the storage layer raises on purpose."""

    code = "storage.error"
    message_human = "A storage error occurred."


class OutcomeUnknown(StorageError):
    """An external effect was started by an attempt that died before recording whether it happened."""

    code = "effect.unknown_outcome"
    message_human = "It is not known whether this step's external effect happened."


class KeyConfigError(StorageError):
    """The ENCRYPTION_KEY / SECRET_KEY configuration cannot be used."""

    code = "crypto.bad_key_config"
    message_human = "The encryption key configuration is invalid."


class DecryptionError(StorageError):
    """A token is malformed, tampered with, or sealed with another key."""

    code = "crypto.decrypt_failed"
    message_human = "Stored credentials could not be decrypted."


class UnknownKeyId(DecryptionError):
    """A token names a key id that is not in the keyring."""

    code = "crypto.unknown_key"
    message_human = "Stored credentials were sealed with a key that is no longer configured."


class EmbeddedServerError(StorageError):
    """An embedded PostgreSQL or Redis server could not be started or reached."""

    code = "embedded.unavailable"
    message_human = "The local database or queue server could not be started."


class NotFound(StorageError):
    """No such row for this organization (another tenant's rows are not found)."""

    code = "not_found"
    message_human = "Not found."


class InvalidTransition(StorageError):
    """The run's current status does not allow the requested change."""

    code = "invalid_transition"
    message_human = "The run cannot do that in its current state."

    def __init__(self, current, target, *, concurrent=False):
        self.current, self.target = current, target
        why = "changed concurrently" if concurrent else "not allowed"
        super().__init__(f"The run is {current} and cannot become {target}.",
                         f"transition {current} -> {target} {why}")


class Conflict(StorageError):
    """The request conflicts with the current state of the data."""

    code = "conflict"
    message_human = "That conflicts with the current state."


class BackupError(StorageError):
    """pg_dump or pg_restore is missing or failed."""

    code = "backup.failed"
    message_human = "The backup or the restore failed."


class SecretNotSet(StorageError):
    """A node secret was sent back as "[set]" where nothing is stored."""

    code = "secret.not_set"
    message_human = 'A secret was sent as "[set]" but this step has no stored secret there; send the value.'
