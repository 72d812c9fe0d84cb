"""Credentials at rest: AES-256-GCM tokens with key ids for rotation."""
import base64

import pytest

from storage.crypto import Keyring, generate_key
from storage.errors import DecryptionError, KeyConfigError, StorageError, UnknownKeyId

SECRET = "test-secret-key"


def test_a_token_round_trips_and_does_not_show_the_plaintext():
    keyring = Keyring.from_config(generate_key(), SECRET)

    token = keyring.encrypt(b'{"access_token": "abc"}', aad=b"credential:7")

    assert token.startswith(f"v1.{keyring.current_kid}.")
    assert b"abc" not in base64.urlsafe_b64decode(token.split(".")[2] + "==")
    assert keyring.decrypt(token, aad=b"credential:7") == b'{"access_token": "abc"}'
    assert not keyring.needs_rotation(token)


def test_each_encryption_uses_a_fresh_nonce():
    keyring = Keyring.from_config(generate_key(), SECRET)

    assert keyring.encrypt(b"same") != keyring.encrypt(b"same")


def test_a_token_sealed_with_the_old_key_opens_after_rotation_and_asks_to_be_resealed():
    # Given a token sealed under the old key
    old = generate_key()
    token = Keyring.from_config(old, SECRET).encrypt(b"secret")

    # When a new key is prepended
    keyring = Keyring.from_config(f"{generate_key()},{old}", SECRET)

    # Then the old token still opens but needs rotation, and a re-sealed one does not
    assert keyring.decrypt(token) == b"secret"
    assert keyring.needs_rotation(token)
    assert not keyring.needs_rotation(keyring.encrypt(keyring.decrypt(token)))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: t + "!",
        lambda t: "not a token",
    ],
    ids=["ciphertext", "version", "alphabet", "shape"],
)
def test_a_tampered_token_is_refused(tamper):
    keyring = Keyring.from_config(generate_key(), SECRET)
    token = keyring.encrypt(b"secret")

    with pytest.raises(DecryptionError) as caught:
        keyring.decrypt(tamper(token))

    assert caught.value.code == "crypto.decrypt_failed"


def test_wrong_aad_or_a_key_with_the_same_id_is_refused_with_the_cause():
    kid = "k1"
    keyring = Keyring.from_config(f"{kid}:{generate_key().split(':')[1]}", SECRET)
    impostor = Keyring.from_config(f"{kid}:{generate_key().split(':')[1]}", SECRET)
    token = keyring.encrypt(b"secret", aad=b"credential:1")

    with pytest.raises(DecryptionError) as wrong_aad:
        keyring.decrypt(token, aad=b"credential:2")
    with pytest.raises(DecryptionError) as wrong_key:
        impostor.decrypt(token, aad=b"credential:1")

    assert wrong_aad.value.__cause__ is not None
    assert wrong_key.value.__cause__ is not None


def test_a_token_from_a_dropped_key_names_the_unknown_key():
    token = Keyring.from_config(generate_key(), SECRET).encrypt(b"secret")
    keyring = Keyring.from_config(generate_key(), SECRET)

    with pytest.raises(UnknownKeyId) as caught:
        keyring.decrypt(token)

    assert isinstance(caught.value, DecryptionError)
    assert isinstance(caught.value, StorageError)
    assert caught.value.code == "crypto.unknown_key"
    assert caught.value.message_human


def test_without_an_encryption_key_one_is_derived_from_the_secret_key():
    keyring = Keyring.from_config("", SECRET)
    token = keyring.encrypt(b"secret")

    assert keyring.current_kid == "derived"
    assert Keyring.from_config(None, SECRET).decrypt(token) == b"secret"
    with pytest.raises(DecryptionError):
        Keyring.from_config(None, "another-secret").decrypt(token)


@pytest.mark.parametrize(
    "encryption_key",
    [
        "no-colon",
        "k1:" + base64.urlsafe_b64encode(b"short").decode(),
        "bad.kid:" + generate_key().split(":")[1],
        "k1:" + generate_key().split(":")[1] + ",k1:" + generate_key().split(":")[1],
        "k1:***",
    ],
    ids=["shape", "length", "kid", "duplicate", "base64"],
)
def test_a_bad_key_configuration_is_refused(encryption_key):
    with pytest.raises(KeyConfigError):
        Keyring.from_config(encryption_key, SECRET)


def test_generated_keys_are_distinct_and_the_repr_hides_them():
    first, second = generate_key(), generate_key()
    keyring = Keyring.from_config(f"{first},{second}", SECRET)

    assert first != second
    assert keyring.kids == (first.split(":")[0], second.split(":")[0])
    assert first.split(":")[1] not in repr(keyring)
