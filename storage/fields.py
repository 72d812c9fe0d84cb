"""Peewee fields that encrypt their value at rest with the configured keyring.

NOTE: the keyring is process configuration, installed once by `configure()`
(called from `storage.bootstrap`); a field used before that raises, so no
secret is ever written in clear by accident.
"""
import json

import peewee

_keyring = None


def configure(keyring):
    global _keyring
    _keyring = keyring


def keyring():
    if _keyring is None:
        raise RuntimeError("storage.fields.configure(keyring) was not called")
    return _keyring


class EncryptedTextField(peewee.TextField):
    """Text encrypted with AES-256-GCM; the token names the key id."""

    def db_value(self, value):
        if value is None:
            return None
        return keyring().encrypt(str(value).encode())

    def python_value(self, value):
        if value is None:
            return None
        return keyring().decrypt(value).decode()


class EncryptedJSONField(EncryptedTextField):
    """A JSON document encrypted like EncryptedTextField."""

    def db_value(self, value):
        if value is None:
            return None
        return super().db_value(json.dumps(value, sort_keys=True))

    def python_value(self, value):
        if value is None:
            return None
        return json.loads(super().python_value(value))
