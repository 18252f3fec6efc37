"""The SQLite backend of :class:`store.base.Store`, on aiosqlite.

WAL journal, ``synchronous=NORMAL``, versioned migrations (:mod:`store.migrations`) recorded in
``PRAGMA user_version``; one connection, writes serialised in ``BEGIN IMMEDIATE`` transactions
(:mod:`store.sqlite_conn`). Identities, conversations, events and renders live here; people,
accounts, connect codes, usage and flags in :mod:`store.sqlite_people`.

Tokens: with a :class:`store.crypto.TokenCipher` every stored token is encrypted; on open,
plaintext tokens (from before the key was set) and tokens under an older key are re-encrypted
with the current key.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiosqlite

from store.base import (
    INSTALL_IDENTITY,
    RESUMABLE_JOB_STATUSES,
    TABLES,
    Conversation,
    Dump,
    Identity,
    IdentityKind,
    JobStatus,
    RenderJob,
    Row,
    StoreNotEmpty,
    row_converter,
    utcnow,
)
from store.crypto import TokenCipher, read_token, stored_token
from store.migrations import MIGRATIONS
from store.sqlite_conn import dt as _dt
from store.sqlite_conn import ts as _ts
from store.sqlite_conn import utc_ts as _utc_ts
from store.sqlite_people import PeopleTables

__all__ = ["MIGRATIONS", "SQLiteStore"]

log = logging.getLogger(__name__)

CLAIM_BATCH = 500
"""Event claims written in one statement at most (two parameters each, far below SQLite's 32,766)."""


class SQLiteStore(PeopleTables):
    """:class:`store.base.Store` on a SQLite file.

    Args:
        path: The database file (created with its folder, mode 0600), or ``":memory:"``.
        cipher: Encrypts stored tokens; ``None`` stores anonymous tokens as they are and
            refuses personal identities (:class:`store.base.EncryptionRequired`).
    """

    def __init__(self, path: str | Path, cipher: TokenCipher | None = None) -> None:
        super().__init__(path, cipher)
        self._claims: list[tuple[str, asyncio.Future[bool]]] = []
        self._claim_writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SQLiteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _opened(self) -> None:
        await self._seal_tokens()

    # identities -----------------------------------------------------------------------------

    def _stored_token(self, identity: Identity) -> str | None:
        return stored_token(self.cipher, identity)

    def _read_token(self, key: str, stored: str | None) -> str | None:
        return read_token(self.cipher, key, stored)

    async def _seal_tokens(self) -> None:
        """Encrypt plaintext tokens and re-encrypt old-key ones with the current key."""
        cipher = self.cipher
        if cipher is None:
            return
        sealed = 0
        for row in await self._all("SELECT key, token FROM identities WHERE token IS NOT NULL"):
            stored = str(row["token"])
            if cipher.is_current(stored):
                continue
            token = self._read_token(row["key"], stored)
            if token is None:
                continue  # under a key that is gone: left as is (warned)
            sealed += await self._write(
                "UPDATE identities SET token = ? WHERE key = ? AND token = ?",
                (cipher.encrypt(token), row["key"], stored),
            )
        if sealed:
            log.info("encrypted %d stored token(s) with the current key", sealed)
            if self.path != ":memory:":
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no old copy left in the WAL

    async def load_identity(self, key: str = INSTALL_IDENTITY) -> Identity | None:
        """The identity under ``key`` (``install`` or a person id), or ``None``; see the module doc for tokens."""
        row = await self._one("SELECT * FROM identities WHERE key = ?", (key,))
        if row is None:
            return None
        return Identity(
            row["client_id"],
            self._read_token(key, row["token"]),
            row["user_id"],
            _dt(row["expires_at"]),
            kind=cast(IdentityKind, row["kind"]),
        )

    async def save_identity(self, identity: Identity, key: str = INSTALL_IDENTITY) -> None:
        """Insert or replace the identity under ``key``.

        Raises:
            EncryptionRequired: A ``personal`` identity and no cipher.
        """
        await self._write(
            "INSERT OR REPLACE INTO identities (key, client_id, token, user_id, expires_at, kind)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            self._identity_row(identity, key),
        )

    async def create_identity(self, identity: Identity, key: str = INSTALL_IDENTITY) -> Identity:
        """Insert the identity under ``key`` unless one is there; the one kept.

        Raises:
            EncryptionRequired: A ``personal`` identity and no cipher.
        """
        await self._write(
            "INSERT INTO identities (key, client_id, token, user_id, expires_at, kind)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            self._identity_row(identity, key),
        )
        return await self.load_identity(key) or identity

    def _identity_row(self, identity: Identity, key: str) -> tuple[object, ...]:
        """The ``identities`` columns of ``identity`` under ``key``, its token as stored."""
        stored = self._stored_token(identity)
        return (key, identity.client_id, stored, identity.user_id, _ts(identity.expires_at), identity.kind)

    async def delete_identity(self, key: str) -> None:
        """Forget the identity under ``key``, if any."""
        await self._write("DELETE FROM identities WHERE key = ?", (key,))

    # conversations ------------------------------------------------------------

    async def get_conversation(self, key: str) -> Conversation | None:
        row = await self._one("SELECT * FROM conversations WHERE key = ?", (key,))
        return self._conversation(row) if row is not None else None

    async def list_conversations(self, *, prefix: str = "", owner: str | None = None) -> list[Conversation]:
        sql, params = "SELECT * FROM conversations WHERE key LIKE ? ESCAPE '\\'", [_starts_with(prefix)]
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        rows = await self._all(sql + " ORDER BY created_at, rowid", tuple(params))
        return [self._conversation(r) for r in rows]

    @staticmethod
    def _conversation(row: aiosqlite.Row) -> Conversation:
        return Conversation(
            key=row["key"],
            skill=row["skill"],
            language=row["language"],
            session_id=row["session_id"],
            task_id=row["task_id"],
            data=json.loads(row["data"] or "{}"),
            created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
            updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
            owner=row["owner"],
        )

    async def save_conversation(self, conversation: Conversation) -> None:
        c = conversation
        await self._write_together(
            "INSERT OR REPLACE INTO conversations"
            " (key, skill, language, session_id, task_id, data, created_at, updated_at, owner)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                c.key,
                c.skill,
                c.language,
                c.session_id,
                c.task_id,
                json.dumps(c.data),
                _ts(c.created_at),
                _ts(c.updated_at),
                c.owner,
            ),
        )

    # processed events -----------------------------------------------------------

    async def claim_event(self, key: str) -> bool:
        """Record ``key``; True the first time, False when it was already recorded.

        Claims made in the same moment (a burst of updates) are written together, in one
        transaction and one statement (group commit): each caller still returns only once
        its claim is committed, so an update is handled only after its claim is durable.
        """
        claim: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims.append((key, claim))
        if self._claim_writer is None or self._claim_writer.done():
            self._claim_writer = asyncio.create_task(self._write_claims(), name="store-claims")
        return await claim

    async def _write_claims(self) -> None:
        await asyncio.sleep(0)  # claims of the same moment join this batch
        while self._claims:
            batch, self._claims = self._claims[:CLAIM_BATCH], self._claims[CLAIM_BATCH:]
            keys = list(dict.fromkeys(key for key, _ in batch))  # a key twice in a batch: the first wins
            seen_at = _ts(utcnow())
            try:
                async with self._tx() as db:
                    rows = await db.execute_fetchall(
                        "INSERT INTO processed_events (key, seen_at) VALUES "
                        + ", ".join("(?, ?)" for _ in keys)
                        + " ON CONFLICT (key) DO NOTHING RETURNING key",
                        [value for key in keys for value in (key, seen_at)],
                    )
            except Exception as exc:  # noqa: BLE001 - every claim of the batch fails with it
                for _, claim in batch:
                    if not claim.done():
                        claim.set_exception(exc)
                continue
            fresh = {row[0] for row in rows}
            for key, claim in batch:
                first = key in fresh
                fresh.discard(key)
                if not claim.done():
                    claim.set_result(first)

    async def prune_events(self, older_than: datetime) -> int:
        """Forget events recorded before ``older_than``; returns how many."""
        return await self._write("DELETE FROM processed_events WHERE seen_at < ?", (_ts(older_than),))

    # render jobs --------------------------------------------------------------

    @staticmethod
    def _job(row: aiosqlite.Row) -> RenderJob:
        return RenderJob(
            render_id=row["render_id"],
            conversation_key=row["conversation_key"],
            session_id=row["session_id"],
            status=JobStatus.of(row["status"]),
            progress=row["progress"],
            output_url=row["output_url"],
            delivered=bool(row["delivered"]),
            delivered_as=row["delivered_as"],
            attempt=row["attempt"],
            status_message=row["status_message"],
            error=row["error"],
            created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
            updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
        )

    async def get_render(self, render_id: str) -> RenderJob | None:
        row = await self._one("SELECT * FROM render_jobs WHERE render_id = ?", (render_id,))
        return self._job(row) if row else None

    async def save_render(self, job: RenderJob) -> None:
        j = job
        await self._write_together(
            "INSERT OR REPLACE INTO render_jobs (render_id, conversation_key, session_id, status, progress,"
            " output_url, delivered, delivered_as, attempt, status_message, error, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                j.render_id,
                j.conversation_key,
                j.session_id,
                str(j.status),
                j.progress,
                j.output_url,
                int(j.delivered),
                j.delivered_as,
                j.attempt,
                j.status_message,
                j.error,
                _ts(j.created_at),
                _ts(j.updated_at),
            ),
        )

    async def list_renders(self, *, conversation_key: str | None = None, undelivered: bool = False) -> list[RenderJob]:
        sql = "SELECT * FROM render_jobs WHERE 1 = 1"
        params: list[Any] = []
        if conversation_key is not None:
            sql += " AND conversation_key = ?"
            params.append(conversation_key)
        if undelivered:
            sql += " AND delivered = 0"
        sql += " ORDER BY created_at, rowid"
        return [self._job(r) for r in await self._all(sql, tuple(params))]

    async def unfinished_renders(self, *, prefix: str = "", batch: int = 500) -> AsyncIterator[list[RenderJob]]:
        wanted = sorted(str(s) for s in RESUMABLE_JOB_STATUSES)
        after = ""
        while True:  # keyset pages on the primary key: jobs saved meanwhile are neither skipped nor repeated
            rows = await self._all(
                "SELECT * FROM render_jobs WHERE render_id > ? AND delivered = 0"
                f" AND status IN ({', '.join('?' * len(wanted))}) AND conversation_key LIKE ? ESCAPE '\\'"
                " ORDER BY render_id LIMIT ?",
                (after, *wanted, _starts_with(prefix), batch),
            )
            if not rows:
                return
            after = rows[-1]["render_id"]
            yield [self._job(r) for r in rows]
            if len(rows) < batch:
                return

    async def get_conversations(self, keys: Collection[str]) -> dict[str, Conversation]:
        found: dict[str, Conversation] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await self._all(
                f"SELECT * FROM conversations WHERE key IN ({', '.join('?' * len(chunk))})", tuple(chunk)
            )
            found.update((row["key"], self._conversation(row)) for row in rows)
        return found

    async def count_renders(self, statuses: Collection[str]) -> int:
        """How many render jobs are in one of ``statuses``."""
        if isinstance(statuses, str):  # one status (a JobStatus is a str too), not its letters
            statuses = [statuses]
        wanted = sorted({str(s) for s in statuses})
        if not wanted:
            return 0
        row = await self._one(
            f"SELECT COUNT(*) FROM render_jobs WHERE status IN ({', '.join('?' * len(wanted))})", tuple(wanted)
        )
        return int(row[0]) if row else 0

    # moving an install to another database --------------------------------------------------

    async def dump(self, *, batch: int = 1000) -> AsyncGenerator[tuple[str, list[Row]], None]:
        """Every row, table by table (:data:`store.base.TABLES`), ``batch`` at a time, from one
        read transaction (a snapshot: writes made meanwhile by other connections are not seen;
        this store's own writes wait until the dump is read or closed)."""
        async with self._write_lock:
            db = self._conn
            await db.execute("BEGIN")
            try:
                for table, columns in TABLES.items():
                    order = "created_at, rowid" if table in _OLDEST_FIRST else columns[0]
                    async with db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}") as cur:
                        while rows := await cur.fetchmany(batch):
                            yield table, list(map(_DUMPED[table], rows))
            finally:
                await db.rollback()

    async def load(self, dump: Dump) -> dict[str, int]:
        """Write ``dump`` into this empty store in one ``BEGIN IMMEDIATE`` transaction; returns
        rows per table. Times are written as fixed-width UTC text.

        Raises:
            StoreNotEmpty: A table already holds rows (nothing is written).
        """
        counts = dict.fromkeys(TABLES, 0)
        async with self._tx() as db:
            held = []
            for table in TABLES:
                async with db.execute(f"SELECT 1 FROM {table} LIMIT 1") as cur:
                    if await cur.fetchone() is not None:
                        held.append(table)
            if held:
                raise StoreNotEmpty(held)
            async for table, rows in dump:
                columns = TABLES[table]
                await db.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    list(map(_LOADED[table], rows)),
                )
                counts[table] += len(rows)
        return counts


_OLDEST_FIRST = frozenset({"conversations", "render_jobs"})
"""Tables dumped in ``created_at, rowid`` order (the order they are listed in), the others by key."""

_TIMES = ("expires_at", "created_at", "updated_at", "linked_at", "seen_at")
"""Columns that hold times (ISO 8601 text here)."""


def _read_time(value: str) -> datetime:
    """A stored time, timezone-aware (a naive one was written as UTC)."""
    when = datetime.fromisoformat(value)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _read_data(value: str) -> Any:
    return json.loads(value or "{}")


_DUMPED = {
    table: row_converter(
        columns, {**dict.fromkeys(_TIMES, _read_time), "data": _read_data, "delivered": bool, "progress": float}
    )
    for table, columns in TABLES.items()
}
"""Per table: a stored row in the neutral form of :data:`store.base.Row`."""

_LOADED = {
    table: row_converter(columns, {**dict.fromkeys(_TIMES, _utc_ts), "data": json.dumps, "delivered": int})
    for table, columns in TABLES.items()
}
"""Per table: a neutral row as stored here (times as fixed-width UTC text, as the people tables need)."""


def _starts_with(prefix: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching what starts with ``prefix`` (taken literally)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
