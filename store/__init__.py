"""Persistence: the ``Store`` protocol and its backends (``sqlite``; ``postgres`` later)."""

from store.base import Conversation, Identity, JobStatus, RenderJob, Store, utcnow


def open_store(url: str) -> Store:
    """A store for ``url`` (not yet opened).

    Args:
        url: ``sqlite:///path/to/file.db`` or ``sqlite:///:memory:``.

    Raises:
        ValueError: Unsupported scheme.
    """
    if url.startswith("sqlite://"):
        from store.sqlite import SQLiteStore

        path = url.removeprefix("sqlite:///").removeprefix("sqlite://") or ":memory:"
        return SQLiteStore(path)
    raise ValueError(f"unsupported DATABASE_URL scheme: {url.split(':', 1)[0]}")


__all__ = ["Conversation", "Identity", "JobStatus", "RenderJob", "Store", "open_store", "utcnow"]
