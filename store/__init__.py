"""Persistence: the ``Store`` protocol and its backends (``sqlite``; ``postgres`` later)."""

from store.base import (
    INSTALL_IDENTITY,
    ConnectCodeTaken,
    Conversation,
    EncryptionRequired,
    Identity,
    IdentityKind,
    JobStatus,
    Person,
    RenderJob,
    Store,
    utcnow,
)
from store.crypto import TokenCipher


def open_store(url: str, *, cipher: TokenCipher | None = None) -> Store:
    """A store for ``url`` (not yet opened).

    Args:
        url: ``sqlite:///path/to/file.db`` or ``sqlite:///:memory:``.
        cipher: Encrypts stored tokens (``TokenCipher.from_keys(NEMOBOT_SECRET_KEY)``); without
            one, anonymous tokens are stored as they are and personal identities are refused.

    Raises:
        ValueError: Unsupported scheme.
    """
    if url.startswith("sqlite://"):
        from store.sqlite import SQLiteStore

        path = url.removeprefix("sqlite:///").removeprefix("sqlite://") or ":memory:"
        return SQLiteStore(path, cipher=cipher)
    raise ValueError(f"unsupported DATABASE_URL scheme: {url.split(':', 1)[0]}")


__all__ = [
    "INSTALL_IDENTITY",
    "ConnectCodeTaken",
    "Conversation",
    "EncryptionRequired",
    "Identity",
    "IdentityKind",
    "JobStatus",
    "Person",
    "RenderJob",
    "Store",
    "TokenCipher",
    "open_store",
    "utcnow",
]
