"""The SQLite connection under :class:`store.sqlite.SQLiteStore`: file, pragmas, transactions.

The database file holds bearer tokens, so it and its ``-wal``/``-shm``/``-journal`` companions
are kept readable by their owner only (mode 0600): a new file is created so (SQLite gives its
companions the mode of the main file), and an existing one broader than that is tightened.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from store.crypto import TokenCipher
from store.migrations import migrate

log = logging.getLogger(__name__)

# aiosqlite logs every statement with its parameters at DEBUG, which would put the bearer
# token (identities table) in the log. Its DEBUG output is never wanted; keep it at INFO.
logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))

FILE_MODE = 0o600
"""Permission bits of the database file and its companions: read and write by the owner only."""

COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside the database."""

WRITE_BATCH = 500
"""Statements written in one shared transaction at most (:meth:`SQLiteConnection._write_together`)."""


def ts(value: datetime | None) -> str | None:
    """``value`` as ISO 8601 text (as given), or ``None``."""
    return value.isoformat() if value is not None else None


def utc_ts(value: datetime) -> str:
    """``value`` as fixed-width UTC ISO 8601 text (microseconds, ``+00:00``): sorts as it compares.

    Raises:
        ValueError: ``value`` is naive.
    """
    if value.tzinfo is None:
        raise ValueError("expected a timezone-aware datetime")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def dt(value: str | None) -> datetime | None:
    """The datetime in ISO 8601 ``value``, or ``None``."""
    return datetime.fromisoformat(value) if value else None


def _tighten(path: Path) -> None:
    """Set ``path`` to 0600 if it exists with any permission bit beyond that (logged)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if mode & ~FILE_MODE:
        os.chmod(path, FILE_MODE)
        log.warning("%s was mode %04o; tightened to %04o (it holds tokens)", path, mode, FILE_MODE)


def prepare_file(path: Path) -> None:
    """Create the folder and an empty database file with mode 0600, or tighten existing files.

    Args:
        path: The database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        pass
    else:
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask left
        finally:
            os.close(fd)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in COMPANION_SUFFIXES)):
        _tighten(candidate)


class SQLiteConnection:
    """One aiosqlite connection with WAL, migrations and serialised write transactions.

    Args:
        path: The database file (created with its folder, mode 0600), or ``":memory:"``.
        cipher: Encrypts stored tokens; ``None`` stores anonymous tokens as they are and
            refuses personal ones.
    """

    def __init__(self, path: str | Path, cipher: TokenCipher | None = None) -> None:
        self.path = str(path)
        self.cipher = cipher
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._batch: list[tuple[str, tuple[Any, ...], asyncio.Future[None]]] = []
        self._batch_writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect, set the pragmas and apply pending migrations. Does nothing if open."""
        if self._db is not None:
            return
        if self.path != ":memory:":
            prepare_file(Path(self.path))
        self._db = await aiosqlite.connect(self.path)
        try:
            self._db.row_factory = aiosqlite.Row
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA busy_timeout=5000")
            await self._db.execute("PRAGMA foreign_keys=ON")
            await self._db.execute("PRAGMA secure_delete=ON")  # overwritten tokens leave no trace
            await migrate(self._db, self.path)
            await self._opened()
        except BaseException:
            await self.close()
            raise

    async def _opened(self) -> None:
        """Hook run once the schema is current, before :meth:`open` returns."""

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def schema_version(self) -> int:
        """``PRAGMA user_version``: the number of applied migrations."""
        row = await self._one("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, params) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), one at a time: committed on exit, rolled back on error."""
        async with self._write_lock:
            db = self._conn
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
            except BaseException:
                await db.rollback()
                raise
            await db.commit()

    async def _write_together(self, sql: str, params: tuple[Any, ...]) -> None:
        """Run one statement in a transaction shared with the statements other callers hand in
        at the same moment (group commit: a burst of render updates after a restart is a few
        transactions, not thousands). Returns once the transaction is committed.

        Raises:
            Exception: What the shared transaction raised (every statement in it is rolled back).
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batch.append((sql, params, done))
        if self._batch_writer is None or self._batch_writer.done():
            self._batch_writer = asyncio.create_task(self._write_batches(), name="store-batch")
        await done

    async def _write_batches(self) -> None:
        await asyncio.sleep(0)  # statements of the same moment join this batch
        while self._batch:
            batch, self._batch = self._batch[:WRITE_BATCH], self._batch[WRITE_BATCH:]
            try:
                async with self._tx() as db:
                    start = 0
                    while start < len(batch):  # consecutive runs of one statement: one executemany
                        end = start
                        while end < len(batch) and batch[end][0] == batch[start][0]:
                            end += 1
                        await db.executemany(batch[start][0], [params for _, params, _ in batch[start:end]])
                        start = end
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                outcome: BaseException | None = exc
            else:
                outcome = None
            for _, _, done in batch:
                if done.done():
                    continue
                if outcome is None:
                    done.set_result(None)
                else:
                    done.set_exception(outcome)

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement in its own transaction; returns its row count."""
        async with self._tx() as db:
            cur = await db.execute(sql, params)
            return cur.rowcount
