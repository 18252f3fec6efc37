"""Encryption at rest of stored bearer tokens: Fernet keys behind a ``MultiFernet``.

The operator sets ``NEMOBOT_SECRET_KEY`` to one or more Fernet keys, comma-separated, newest
first. The first key encrypts; every key decrypts, so a key is rotated by putting the new one
in front (``"new,old"``), letting the store re-encrypt (it does on open and on every save),
then dropping the old one.

Stored form: ``"fernet:" + <Fernet token>`` (URL-safe base64 text); a value without the prefix
is a plaintext token from before encryption.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

if TYPE_CHECKING:
    from store.base import Identity

log = logging.getLogger(__name__)

PREFIX = "fernet:"
"""What starts every encrypted value in the store."""


class UnknownKey(Exception):
    """The value was encrypted with a key that is not configured (or it is damaged)."""


class TokenCipher:
    """Encrypts and decrypts tokens with one or more Fernet keys.

    Args:
        keys: Fernet keys (32 url-safe base64-encoded bytes each, as ``str`` or ``bytes``),
            newest first; the first encrypts, all decrypt.

    Raises:
        ValueError: No key, or a malformed key (the message names its position, never the key).
    """

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("NEMOBOT_SECRET_KEY holds no key: set one or more Fernet keys, comma-separated")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):  # binascii.Error is a ValueError
                raise ValueError(
                    f"NEMOBOT_SECRET_KEY: key {position} of {len(keys)} is not a Fernet key"
                    " (32 url-safe base64-encoded bytes, 44 characters; make one with"
                    " `python -c 'from store.crypto import TokenCipher; print(TokenCipher.generate_key())'`)"
                ) from None
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)

    @classmethod
    def from_keys(cls, keys: str) -> TokenCipher:
        """A cipher from a comma-separated key string (``NEMOBOT_SECRET_KEY``).

        Args:
            keys: ``"k1,k2,..."``, newest first; spaces around keys and empty entries are ignored.

        Raises:
            ValueError: No key, or a malformed key.
        """
        return cls([k.strip() for k in keys.split(",") if k.strip()])

    @staticmethod
    def generate_key() -> str:
        """A new random Fernet key (44 characters of url-safe base64)."""
        return Fernet.generate_key().decode("ascii")

    @staticmethod
    def is_encrypted(stored: str) -> bool:
        """Whether ``stored`` is in the encrypted form (else it is a legacy plaintext token)."""
        return stored.startswith(PREFIX)

    def encrypt(self, token: str) -> str:
        """``token`` encrypted with the first key, in the stored form ``"fernet:..."``."""
        return PREFIX + self._primary.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """The token in ``stored`` (``"fernet:..."``), trying every key.

        Raises:
            UnknownKey: No configured key opens it, or it is damaged.
            ValueError: ``stored`` is not in the encrypted form.
        """
        if not self.is_encrypted(stored):
            raise ValueError("not an encrypted value")
        try:
            return self._all.decrypt(stored.removeprefix(PREFIX).encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UnknownKey("encrypted with a key that is not configured") from None

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` is encrypted with the first (current) key, i.e. needs no rotation."""
        if not self.is_encrypted(stored):
            return False
        try:
            self._primary.decrypt(stored.removeprefix(PREFIX).encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True


def stored_token(cipher: TokenCipher | None, identity: Identity) -> str | None:
    """The form ``identity``'s token is stored in: encrypted with a key, as it is without one.

    Raises:
        EncryptionRequired: A ``personal`` identity and no key (both backends refuse it).
    """
    from store.base import EncryptionRequired

    if cipher is None:
        if identity.kind == "personal":
            raise EncryptionRequired()
        return identity.token
    return None if identity.token is None else cipher.encrypt(identity.token)


def read_token(cipher: TokenCipher | None, key: str, stored: str | None) -> str | None:
    """A stored token as the client uses it; ``None`` (with a warning) when its key is not set or gone."""
    if stored is None or not TokenCipher.is_encrypted(stored):
        return stored  # none, or plaintext from before a key was set
    if cipher is None:
        log.warning("identity %r: its token is encrypted but NEMOBOT_SECRET_KEY is not set; reading no token", key)
        return None
    try:
        return cipher.decrypt(stored)
    except UnknownKey:
        log.warning(
            "identity %r: its token was encrypted with a key no longer in NEMOBOT_SECRET_KEY; reading no token", key
        )
        return None
