"""``nemobot store copy``: everything one store holds, copied into another, empty one.

Made for moving an install from SQLite to PostgreSQL (any pair :func:`store.open_store`
reads works: PostgreSQL to SQLite, SQLite to SQLite...). The source is read from one snapshot
(:meth:`store.base.Store.dump`) in batches and written into the target in one transaction
(:meth:`store.base.Store.load`): the target ends with all of it or, on any error, with nothing.
A target that already holds rows is refused (:class:`store.base.StoreNotEmpty`); there is no
flag to merge or overwrite.

Tokens are copied as they are stored: encrypted ones stay encrypted, so the bot on the target
needs the same ``NEMOBOT_SECRET_KEY``. Neither store is opened with a key, so nothing is
re-encrypted on the way; plaintext tokens (an install without a key) are encrypted by the
first start with a key, as usual.

The source is opened as the bot opens it: an older SQLite schema is migrated first.
Messages name a database by :func:`describe` (never a user or a password).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from store import open_store
from store.base import TABLES, Row
from store.crypto import TokenCipher, UnknownKey
from store.postgres_conn import parse_url

DEFAULT_BATCH = 1000
"""Rows read from the source and written to the target at a time."""

_TOKEN = TABLES["identities"].index("token")


class CopyError(Exception):
    """The copy cannot be made as asked (same database twice, no source file)."""


@dataclass
class CopyReport:
    """What :func:`copy_store` copied.

    Attributes:
        counts: Rows written per table, every table of :data:`store.base.TABLES`.
        encrypted_tokens: Tokens copied in their encrypted form (``fernet:...``).
        plaintext_tokens: Tokens stored unencrypted on the source, copied so.
        unreadable_tokens: Encrypted tokens the ``cipher`` given to :func:`copy_store` cannot
            open (``None`` when none was given).
        seconds: How long the copy took.
    """

    counts: dict[str, int] = field(default_factory=dict)
    encrypted_tokens: int = 0
    plaintext_tokens: int = 0
    unreadable_tokens: int | None = None
    seconds: float = 0.0


def describe(url: str) -> str:
    """A name of the database at ``url`` for messages: ``SQLite /path/nemobot.db`` or
    ``PostgreSQL nemobot on db.internal:5432`` (never the user or the password)."""
    if url.startswith("sqlite://"):
        return f"SQLite {url.removeprefix('sqlite:///').removeprefix('sqlite://') or ':memory:'}"
    try:
        return f"PostgreSQL {parse_url(url)[2]}"
    except ValueError:
        return f"{url.split(':', 1)[0][:20]}://…"


def scrub(text: str, *urls: str) -> str:
    """``text`` with every one of ``urls``, and the password in each, masked (for error messages)."""
    for url in urls:
        text = text.replace(url, describe(url))
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        for secret in {password, unquote(password or "")}:
            if secret:
                text = text.replace(secret, "***")
    return text


def _sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite://`` URL (as :func:`store.open_store` reads it); ``None`` for
    another scheme or an in-memory database."""
    if not url.startswith("sqlite://"):
        return None
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://") or ":memory:"
    return None if path == ":memory:" else Path(path)


def _check(source_url: str, target_url: str) -> None:
    """Raises :class:`CopyError` when the source and target are one database or the source file is missing."""
    source, target = _sqlite_file(source_url), _sqlite_file(target_url)
    same = source_url == target_url and not source_url.endswith(":memory:")
    if same or (source is not None and target is not None and source.resolve() == target.resolve()):
        raise CopyError(f"the source and the target are the same database ({describe(source_url)})")
    if source is not None and not source.is_file():
        raise CopyError(f"the source database {source} does not exist")


async def copy_store(
    source_url: str,
    target_url: str,
    *,
    batch: int = DEFAULT_BATCH,
    cipher: TokenCipher | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy everything the store at ``source_url`` holds into the empty store at ``target_url``.

    Args:
        source_url: A ``DATABASE_URL`` (:func:`store.open_store`); a SQLite file must exist.
        target_url: A ``DATABASE_URL``; its schema is created if need be; it must hold no rows.
        batch: Rows read and written at a time.
        cipher: When given, encrypted tokens are also checked against it
            (:attr:`CopyReport.unreadable_tokens`); they are copied as they are either way.
        progress: Called with ``(table, rows of it so far)`` after each batch is written.

    Returns:
        What was copied.

    Raises:
        CopyError: Source and target are one database, or the source file does not exist.
        store.base.StoreNotEmpty: The target holds rows (nothing was written).
        ValueError: An unsupported URL, or a row the target cannot store.
        OSError, asyncpg.PostgreSQLError, sqlite3.Error, RuntimeError: What opening, reading or
            writing raised (the target is left as it was).
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    _check(source_url, target_url)
    source, target = open_store(source_url), open_store(target_url)  # no key: tokens pass as they are
    report = CopyReport(unreadable_tokens=None if cipher is None else 0)
    started = time.perf_counter()

    async def watched(dump: AsyncGenerator[tuple[str, list[Row]], None]) -> AsyncGenerator[tuple[str, list[Row]], None]:
        seen = dict.fromkeys(TABLES, 0)
        async with contextlib.aclosing(dump):  # the source's snapshot ends with this generator
            async for table, rows in dump:
                if table == "identities":
                    _count_tokens(rows, report, cipher)
                yield table, rows
                seen[table] += len(rows)  # back here once the target has taken the batch
                if progress is not None:
                    progress(table, seen[table])

    async with contextlib.AsyncExitStack() as stack:
        await source.open()
        stack.push_async_callback(source.close)
        await target.open()
        stack.push_async_callback(target.close)
        dump = await stack.enter_async_context(contextlib.aclosing(watched(source.dump(batch=batch))))
        report.counts = await target.load(dump)
    report.seconds = time.perf_counter() - started
    return report


def _count_tokens(rows: list[Row], report: CopyReport, cipher: TokenCipher | None) -> None:
    for row in rows:
        token = row[_TOKEN]
        if token is None:
            continue
        if not TokenCipher.is_encrypted(token):
            report.plaintext_tokens += 1
            continue
        report.encrypted_tokens += 1
        if cipher is not None and report.unreadable_tokens is not None:
            try:
                cipher.decrypt(token)
            except UnknownKey:
                report.unreadable_tokens += 1
