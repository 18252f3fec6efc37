"""The PostgreSQL backend of :class:`store.base.Store`, on an asyncpg pool.

Chosen by ``DATABASE_URL=postgresql://...`` (:func:`store.open_store`); the URL and its
``pool_size`` are read by :mod:`store.postgres_conn`, the schema is versioned by
:mod:`store.postgres_migrations` (numbers shared with SQLite). Identities, conversations,
events and renders live here; people, accounts, connect codes, usage and flags in
:mod:`store.postgres_people`.

Several nemobot processes may share one database: every write is a single upsert, a
``... ON CONFLICT DO NOTHING RETURNING`` or a ``DELETE ... RETURNING`` (or one transaction of
them), so what the SQLite backend gets from its one connection holds here across processes:
an event is claimed once, a person is created once per account, a connect code is taken
once, usage counters add up.

Tokens: with a :class:`store.crypto.TokenCipher` every stored token is encrypted; on open,
plaintext tokens and tokens under an older key are re-encrypted with the current key (a
compare-and-set per row, safe while other instances run). Old row versions stay in the
server's files until PostgreSQL vacuums them, as any overwritten row does.

Times are ``timestamptz`` and read back as UTC datetimes (a naive one is taken as UTC);
``Conversation.data`` is ``jsonb`` (so it must be strict JSON: no NaN, no ``\u0000``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from datetime import date, datetime
from typing import Any, cast

import asyncpg

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
from store.postgres_conn import DEFAULT_POOL_SIZE, like_prefix, parse_url, utc
from store.postgres_migrations import MIGRATIONS, SCHEMA_VERSION
from store.postgres_people import PeopleTables

__all__ = ["DEFAULT_POOL_SIZE", "MIGRATIONS", "SCHEMA_VERSION", "PostgresStore", "parse_url"]

log = logging.getLogger(__name__)

CLAIM_BATCH = 1000
"""Event claims written in one statement at most (one array parameter, so no parameter limit)."""

_CONVERSATION_COLUMNS = "key, skill, language, session_id, task_id, data, created_at, updated_at, owner"
_RENDER_COLUMNS = (
    "render_id, conversation_key, session_id, status, progress, output_url, delivered, delivered_as,"
    " attempt, status_message, error, created_at, updated_at"
)


def _upsert(table: str, columns: str, key: str) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` setting every other column: a save."""
    names = [c.strip() for c in columns.split(",")]
    values = ", ".join(f"${n}" for n in range(1, len(names) + 1))
    sets = ", ".join(f"{c} = excluded.{c}" for c in names if c != key)
    return f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({key}) DO UPDATE SET {sets}"


_SAVE_CONVERSATION = _upsert("conversations", _CONVERSATION_COLUMNS, "key")
_SAVE_RENDER = _upsert("render_jobs", _RENDER_COLUMNS, "render_id")


class PostgresStore(PeopleTables):
    """:class:`store.base.Store` on a PostgreSQL database.

    Args:
        url: ``postgresql://user:password@host:port/dbname`` (or ``postgres://``); the query may
            add libpq options and ``pool_size`` (connections at most, default 10).
        cipher: Encrypts stored tokens; ``None`` stores anonymous tokens as they are and
            refuses personal identities (:class:`store.base.EncryptionRequired`).

    Raises:
        ValueError: Not a PostgreSQL URL, or a bad ``pool_size``.
    """

    def __init__(self, url: str, cipher: TokenCipher | None = None) -> None:
        super().__init__(url, cipher)
        self._claims: list[tuple[str, asyncio.Future[bool]]] = []
        self._claim_writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PostgresStore:
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
                "UPDATE identities SET token = $1 WHERE key = $2 AND token = $3",
                cipher.encrypt(token),
                row["key"],
                stored,
            )
        if sealed:
            log.info("encrypted %d stored token(s) with the current key", sealed)

    async def load_identity(self, key: str = INSTALL_IDENTITY) -> Identity | None:
        """The identity under ``key`` (``install`` or a person id), or ``None``; see the module doc for tokens."""
        row = await self._one("SELECT client_id, token, user_id, expires_at, kind FROM identities WHERE key = $1", key)
        if row is None:
            return None
        return Identity(
            row["client_id"],
            self._read_token(key, row["token"]),
            row["user_id"],
            row["expires_at"],
            kind=cast(IdentityKind, row["kind"]),
        )

    async def save_identity(self, identity: Identity, key: str = INSTALL_IDENTITY) -> None:
        """Insert or replace the identity under ``key`` (one upsert).

        Raises:
            EncryptionRequired: A ``personal`` identity and no cipher.
        """
        await self._write(
            "INSERT INTO identities (key, client_id, token, user_id, expires_at, kind) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (key) DO UPDATE SET client_id = excluded.client_id, token = excluded.token,"
            " user_id = excluded.user_id, expires_at = excluded.expires_at, kind = excluded.kind",
            *self._identity_row(identity, key),
        )

    async def create_identity(self, identity: Identity, key: str = INSTALL_IDENTITY) -> Identity:
        """Insert the identity under ``key`` unless one is there (``ON CONFLICT DO NOTHING``); the one kept.

        Raises:
            EncryptionRequired: A ``personal`` identity and no cipher.
        """
        await self._write(
            "INSERT INTO identities (key, client_id, token, user_id, expires_at, kind) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (key) DO NOTHING",
            *self._identity_row(identity, key),
        )
        return await self.load_identity(key) or identity

    def _identity_row(self, identity: Identity, key: str) -> tuple[object, ...]:
        """The ``identities`` columns of ``identity`` under ``key``, its token as stored."""
        expires = None if identity.expires_at is None else utc(identity.expires_at)
        return (key, identity.client_id, self._stored_token(identity), identity.user_id, expires, identity.kind)

    async def delete_identity(self, key: str) -> None:
        """Forget the identity under ``key``, if any."""
        await self._write("DELETE FROM identities WHERE key = $1", key)

    # conversations ------------------------------------------------------------

    @staticmethod
    def _conversation(row: asyncpg.Record) -> Conversation:
        return Conversation(
            key=row["key"],
            skill=row["skill"],
            language=row["language"],
            session_id=row["session_id"],
            task_id=row["task_id"],
            data=json.loads(row["data"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            owner=row["owner"],
        )

    async def get_conversation(self, key: str) -> Conversation | None:
        row = await self._one(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE key = $1", key)
        return self._conversation(row) if row is not None else None

    async def list_conversations(self, *, prefix: str = "", owner: str | None = None) -> list[Conversation]:
        sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE key LIKE $1 ESCAPE '\\'"
        params: list[Any] = [like_prefix(prefix)]
        if owner is not None:
            sql += " AND owner = $2"
            params.append(owner)
        rows = await self._all(sql + " ORDER BY created_at, seq", *params)
        return [self._conversation(r) for r in rows]

    async def save_conversation(self, conversation: Conversation) -> None:
        """Insert or replace a conversation (one upsert).

        Raises:
            ValueError: ``conversation.data`` is not strict JSON (NaN, or ``\\u0000`` in a string:
                ``jsonb`` refuses both).
            TypeError: ``conversation.data`` holds something JSON cannot carry.
        """
        c = conversation
        try:
            await self._write(
                _SAVE_CONVERSATION,
                c.key,
                c.skill,
                c.language,
                c.session_id,
                c.task_id,
                json.dumps(c.data, allow_nan=False),
                utc(c.created_at),
                utc(c.updated_at),
                c.owner,
            )
        except asyncpg.UntranslatableCharacterError as exc:  # \u0000 in a string
            raise ValueError(f"conversation {c.key!r}: its data is not storable as JSON here: {exc}") from None

    async def get_conversations(self, keys: Collection[str]) -> dict[str, Conversation]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        rows = await self._all(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE key = ANY($1::text[])", wanted)
        return {row["key"]: self._conversation(row) for row in rows}

    # processed events -----------------------------------------------------------

    async def claim_event(self, key: str) -> bool:
        """Record ``key``; True the first time (in any process sharing the database), False after.

        Claims made in the same moment (a burst of updates) are written together, up to
        :data:`CLAIM_BATCH` in one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` statement, in
        key order (two processes claiming overlapping batches wait on each other, never
        deadlock); each caller returns once its claim is committed.
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
            try:
                rows = await self._all(
                    "INSERT INTO processed_events (key, seen_at)"
                    ' SELECT k, $2::timestamptz FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"'
                    " ON CONFLICT (key) DO NOTHING RETURNING key",
                    keys,
                    utcnow(),
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
        return await self._write("DELETE FROM processed_events WHERE seen_at < $1", utc(older_than))

    # render jobs --------------------------------------------------------------

    @staticmethod
    def _job(row: asyncpg.Record) -> RenderJob:
        return RenderJob(
            render_id=row["render_id"],
            conversation_key=row["conversation_key"],
            session_id=row["session_id"],
            status=JobStatus.of(row["status"]),
            progress=row["progress"],
            output_url=row["output_url"],
            delivered=row["delivered"],
            delivered_as=row["delivered_as"],
            attempt=row["attempt"],
            status_message=row["status_message"],
            error=row["error"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def get_render(self, render_id: str) -> RenderJob | None:
        row = await self._one(f"SELECT {_RENDER_COLUMNS} FROM render_jobs WHERE render_id = $1", render_id)
        return self._job(row) if row else None

    async def save_render(self, job: RenderJob) -> None:
        """Insert or replace a render job (one upsert)."""
        j = job
        await self._write(
            _SAVE_RENDER,
            j.render_id,
            j.conversation_key,
            j.session_id,
            str(j.status),
            float(j.progress),
            j.output_url,
            bool(j.delivered),
            j.delivered_as,
            j.attempt,
            j.status_message,
            j.error,
            utc(j.created_at),
            utc(j.updated_at),
        )

    async def list_renders(self, *, conversation_key: str | None = None, undelivered: bool = False) -> list[RenderJob]:
        sql = f"SELECT {_RENDER_COLUMNS} FROM render_jobs WHERE true"
        params: list[Any] = []
        if conversation_key is not None:
            params.append(conversation_key)
            sql += f" AND conversation_key = ${len(params)}"
        if undelivered:
            sql += " AND NOT delivered"
        return [self._job(r) for r in await self._all(sql + " ORDER BY created_at, seq", *params)]

    async def unfinished_renders(self, *, prefix: str = "", batch: int = 500) -> AsyncIterator[list[RenderJob]]:
        wanted = sorted(str(s) for s in RESUMABLE_JOB_STATUSES)
        after = ""
        while True:  # keyset pages on the primary key: jobs saved meanwhile are neither skipped nor repeated
            rows = await self._all(
                f"SELECT {_RENDER_COLUMNS} FROM render_jobs WHERE render_id > $1 AND NOT delivered"
                " AND status = ANY($2::text[]) AND conversation_key LIKE $3 ESCAPE '\\'"
                " ORDER BY render_id LIMIT $4",
                after,
                wanted,
                like_prefix(prefix),
                batch,
            )
            if not rows:
                return
            after = rows[-1]["render_id"]
            yield [self._job(r) for r in rows]
            if len(rows) < batch:
                return

    async def count_renders(self, statuses: Collection[str]) -> int:
        """How many render jobs are in one of ``statuses``."""
        if isinstance(statuses, str):  # one status (a JobStatus is a str too), not its letters
            statuses = [statuses]
        wanted = sorted({str(s) for s in statuses})
        if not wanted:
            return 0
        return int(await self._value("SELECT COUNT(*) FROM render_jobs WHERE status = ANY($1::text[])", wanted))

    # moving an install to another database --------------------------------------------------

    async def dump(self, *, batch: int = 1000) -> AsyncGenerator[tuple[str, list[Row]], None]:
        """Every row, table by table (:data:`store.base.TABLES`), ``batch`` at a time, through
        cursors of one read-only ``REPEATABLE READ`` transaction (a snapshot; nobody is blocked)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            for table, columns in TABLES.items():
                order = "created_at, seq" if table in _OLDEST_FIRST else columns[0]
                cursor = await conn.cursor(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                while rows := await cursor.fetch(batch):
                    yield table, list(map(_DUMPED[table], rows))

    async def load(self, dump: Dump) -> dict[str, int]:
        """Write ``dump`` into this empty store in one transaction (``COPY`` per batch); returns
        rows per table. The tables are locked against writes (``EXCLUSIVE``) until it commits,
        so an instance started on this database meanwhile waits instead of mixing in.

        Raises:
            StoreNotEmpty: A table already holds rows (nothing is written).
            ValueError: A conversation's data is not strict JSON (NaN, or ``\\u0000`` in a string).
        """
        counts = dict.fromkeys(TABLES, 0)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE")
            held = await conn.fetch(
                " UNION ALL ".join(f"SELECT '{table}' AS t WHERE EXISTS (SELECT 1 FROM {table})" for table in TABLES)
            )
            if held:
                raise StoreNotEmpty([row["t"] for row in held])
            async for table, rows in dump:
                await conn.copy_records_to_table(table, records=_records(table, rows), columns=TABLES[table])
                counts[table] += len(rows)
        return counts


_OLDEST_FIRST = frozenset({"conversations", "render_jobs"})
"""Tables dumped in ``created_at, seq`` order (the order they are listed in), the others by key."""

_TIMES = ("expires_at", "created_at", "updated_at", "linked_at", "seen_at")
"""Columns that hold times (``timestamptz``)."""

_NUL = re.compile(r"(?:^|[^\\])(?:\\\\)*\\u0000")
"""``\\u0000`` in JSON text that stands for the character (not an escaped backslash before ``u0000``)."""


def _jsonb_text(data: Any) -> str:
    """``data`` as JSON text ``jsonb`` takes.

    Raises:
        ValueError: NaN or infinity, or a ``\\u0000`` character (``jsonb`` refuses both).
    """
    try:
        text = json.dumps(data, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"its data is not strict JSON ({exc})") from None
    if "\\u0000" in text and _NUL.search(text):
        raise ValueError("its data holds a \\u0000 character, which jsonb refuses")
    return text


_DUMPED = {
    table: row_converter(columns, {**dict.fromkeys(_TIMES, utc), "day": date.isoformat, "data": json.loads})
    for table, columns in TABLES.items()
}
"""Per table: a stored row in the neutral form of :data:`store.base.Row`."""

_LOADED = {
    table: row_converter(
        columns, {**dict.fromkeys(_TIMES, utc), "day": date.fromisoformat, "data": _jsonb_text, "progress": float}
    )
    for table, columns in TABLES.items()
}
"""Per table: a neutral row in the form ``COPY`` takes for this schema."""


def _records(table: str, rows: list[Row]) -> list[Row]:
    """``rows`` of ``table`` as ``COPY`` takes them.

    Raises:
        ValueError: A row this schema cannot hold; the message names it by its key.
    """
    loaded = _LOADED[table]
    try:
        return list(map(loaded, rows))
    except ValueError:
        for row in rows:  # which one (an exception is rare: the batch is only gone through again then)
            try:
                loaded(row)
            except ValueError as exc:
                raise ValueError(f"{table} {row[0]!r}: {exc}") from None
        raise
