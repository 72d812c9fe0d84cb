"""Seal credentials at rest with AES-256-GCM, with key ids for rotation.

A token is text: `v1.<kid>.<base64url(nonce12 + ciphertext_and_tag)>`. The
keyring writes with its first key and reads with any of them, so rotating is:
prepend a new `kid:key` to ENCRYPTION_KEY, re-seal every token for which
`needs_rotation()` is true, then drop the old entry.
"""
import base64
import binascii
import os
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.errors import DecryptionError, KeyConfigError, UnknownKeyId

VERSION = "v1"
DERIVED_KID = "derived"
KEY_BYTES = 32
NONCE_BYTES = 12

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_HKDF_INFO = b"docg credentials at rest v1"


def generate_key() -> str:
    """Return a new `kid:base64urlkey` entry for ENCRYPTION_KEY."""
    return f"{secrets.token_hex(4)}:{_b64encode(os.urandom(KEY_BYTES))}"


class Keyring:
    """Encrypt with the current key; decrypt with any configured key."""

    __slots__ = ("current_kid", "_ciphers")

    def __init__(self, keys: list[tuple[str, bytes]]):
        """Build from `(kid, 32-byte key)` pairs; the first one writes."""
        if not keys:
            raise KeyConfigError(message_tech="a keyring needs at least one key")
        self._ciphers = {}
        for kid, key in keys:
            if not _KID.match(kid):
                raise KeyConfigError(message_tech=f"bad key id {kid!r}: use 1-32 of [A-Za-z0-9_-]")
            if kid in self._ciphers:
                raise KeyConfigError(message_tech=f"key id {kid!r} appears twice")
            if len(key) != KEY_BYTES:
                raise KeyConfigError(
                    message_tech=f"key {kid!r} has {len(key)} bytes, AES-256 needs {KEY_BYTES}"
                )
            self._ciphers[kid] = AESGCM(key)
        self.current_kid = keys[0][0]

    @classmethod
    def from_config(cls, encryption_key: str | None, secret_key: str) -> "Keyring":
        """Build from ENCRYPTION_KEY, or derive one key from SECRET_KEY.

        NOTE: the derived key (kid "derived") is a development default and
        changes whenever SECRET_KEY does. It is not added as a read-only key
        once ENCRYPTION_KEY is set; to keep dev tokens readable, list it
        explicitly as `derived:<base64url of derive_key(secret)>` and rotate.
        """
        entries = [e.strip() for e in (encryption_key or "").split(",") if e.strip()]
        if not entries:
            return cls([(DERIVED_KID, derive_key(secret_key))])
        return cls([_parse_entry(entry) for entry in entries])

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> str:
        """Seal `plaintext` with the current key; `aad` must match on decrypt."""
        nonce = os.urandom(NONCE_BYTES)
        header = f"{VERSION}.{self.current_kid}."
        sealed = self._ciphers[self.current_kid].encrypt(nonce, plaintext, _bind(header, aad))
        return header + _b64encode(nonce + sealed)

    def decrypt(self, token: str, aad: bytes = b"") -> bytes:
        """Open a token from `encrypt`; raise DecryptionError if it fails."""
        kid, blob = _split(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyId(message_tech=f"key id {kid!r} is not among {list(self._ciphers)}")
        try:
            raw = _b64decode(blob)
        except (binascii.Error, ValueError) as ex:
            raise DecryptionError(message_tech="token payload is not base64url") from ex
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError(message_tech="token payload is too short")
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _bind(f"{VERSION}.{kid}.", aad))
        except InvalidTag as ex:
            raise DecryptionError(
                message_tech=f"authentication failed with key {kid!r} (wrong key, aad or tampered token)"
            ) from ex

    def needs_rotation(self, token: str) -> bool:
        """Return True if the token was not sealed with the current key."""
        kid, _ = _split(token)
        return kid != self.current_kid

    def __repr__(self):
        return f"Keyring(current={self.current_kid!r}, kids={list(self._ciphers)!r})"


def derive_key(secret_key: str) -> bytes:
    """Derive a 32-byte key from SECRET_KEY with HKDF-SHA256."""
    if not secret_key:
        raise KeyConfigError(message_tech="neither ENCRYPTION_KEY nor SECRET_KEY is set")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_HKDF_INFO)
    return hkdf.derive(secret_key.encode("utf-8"))


def _parse_entry(entry: str) -> tuple[str, bytes]:
    kid, sep, encoded = entry.partition(":")
    if not sep or not kid.strip() or not encoded.strip():
        raise KeyConfigError(message_tech="ENCRYPTION_KEY entries look like kid:base64urlkey")
    try:
        key = _b64decode(encoded.strip())
    except (binascii.Error, ValueError) as ex:
        raise KeyConfigError(message_tech=f"key {kid.strip()!r} is not base64url") from ex
    return kid.strip(), key


def _split(token: str) -> tuple[str, str]:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3 or parts[0] != VERSION or not parts[1] or not parts[2]:
        raise DecryptionError(message_tech=f"not a {VERSION} credential token")
    return parts[1], parts[2]


def _bind(header: str, aad: bytes) -> bytes:
    # NOTE: the header is authenticated with the caller's aad so a token's
    # version and kid cannot be edited; kids contain no ".", so the header
    # always ends at its final "." and the concatenation is unambiguous.
    return header.encode("ascii") + aad


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    text = text.rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
