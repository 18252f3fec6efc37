"""Persistence: the ``Store`` protocol and its backends (``sqlite``, ``postgres``)."""

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
        url: ``sqlite:///path/to/file.db``, ``sqlite:///:memory:``, or
            ``postgresql://user:password@host:port/dbname`` (``postgres://`` too; the query may
            add libpq options and ``pool_size``, connections at most, default 10).
        cipher: Encrypts stored tokens (``TokenCipher.from_keys(NEMOBOT_SECRET_KEY)``); without
            one, anonymous tokens are stored as they are and personal identities are refused.

    Raises:
        ValueError: Unsupported scheme, or a bad PostgreSQL ``pool_size``.
    """
    if url.startswith("sqlite://"):
        from store.sqlite import SQLiteStore

        path = url.removeprefix("sqlite:///").removeprefix("sqlite://") or ":memory:"
        return SQLiteStore(path, cipher=cipher)
    if url.startswith(("postgresql://", "postgres://")):
        from store.postgres import PostgresStore  # asyncpg is imported only when it is used

        return PostgresStore(url, cipher=cipher)
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
