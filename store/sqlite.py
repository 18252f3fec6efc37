"""The SQLite backend of :class:`store.base.Store`, on aiosqlite.

WAL journal, ``synchronous=NORMAL``, versioned migrations recorded in ``PRAGMA
user_version``; one connection, writes serialised by aiosqlite's thread.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from store.base import Conversation, Identity, JobStatus, RenderJob, utcnow

# aiosqlite logs every statement with its parameters at DEBUG, which would put the bearer
# token (identity table) in the log. Its DEBUG output is never wanted; keep it at INFO.
logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger("aiosqlite").level))

MIGRATIONS: tuple[str, ...] = (
    # 1: identity, conversations, render jobs
    """
    CREATE TABLE identity (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        client_id TEXT NOT NULL,
        token TEXT,
        user_id TEXT,
        expires_at TEXT
    );
    CREATE TABLE conversations (
        key TEXT PRIMARY KEY,
        skill TEXT NOT NULL,
        language TEXT NOT NULL,
        session_id TEXT,
        task_id TEXT,
        data TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE render_jobs (
        render_id TEXT PRIMARY KEY,
        conversation_key TEXT NOT NULL,
        session_id TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        output_url TEXT,
        delivered INTEGER NOT NULL DEFAULT 0,
        delivered_as TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        status_message TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX render_jobs_conversation ON render_jobs (conversation_key, created_at);
    CREATE INDEX render_jobs_undelivered ON render_jobs (delivered, created_at);
    """,
    # 2: incoming platform events already handled (Telegram update ids, Discord message and
    # interaction ids), so a redelivery is not handled twice
    """
    CREATE TABLE processed_events (
        key TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL
    );
    CREATE INDEX processed_events_seen ON processed_events (seen_at);
    """,
)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SQLiteStore:
    """:class:`store.base.Store` on a SQLite file.

    Args:
        path: The database file (created with its folder), or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        """Connect, enable WAL and apply pending migrations."""
        if self._db is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self._migrate()

    async def _migrate(self) -> None:
        db = self._conn
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database {self.path} has schema version {version}, newer than this nemobot ({len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    async def __aenter__(self) -> SQLiteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def schema_version(self) -> int:
        """``PRAGMA user_version``: the number of applied migrations."""
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        await self._conn.execute(sql, params)
        await self._conn.commit()

    # identity -----------------------------------------------------------------

    async def load_identity(self) -> Identity | None:
        async with self._conn.execute("SELECT * FROM identity WHERE id = 1") as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return Identity(row["client_id"], row["token"], row["user_id"], _dt(row["expires_at"]))

    async def save_identity(self, identity: Identity) -> None:
        await self._write(
            "INSERT OR REPLACE INTO identity (id, client_id, token, user_id, expires_at) VALUES (1, ?, ?, ?, ?)",
            (identity.client_id, identity.token, identity.user_id, _ts(identity.expires_at)),
        )

    # conversations ------------------------------------------------------------

    async def get_conversation(self, key: str) -> Conversation | None:
        async with self._conn.execute("SELECT * FROM conversations WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return self._conversation(row) if row is not None else None

    async def list_conversations(self, *, prefix: str = "") -> list[Conversation]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        async with self._conn.execute(
            "SELECT * FROM conversations WHERE key LIKE ? ESCAPE '\\' ORDER BY created_at, rowid", (escaped + "%",)
        ) as cur:
            rows = await cur.fetchall()
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
        )

    async def save_conversation(self, conversation: Conversation) -> None:
        c = conversation
        await self._write(
            "INSERT OR REPLACE INTO conversations"
            " (key, skill, language, session_id, task_id, data, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                c.key,
                c.skill,
                c.language,
                c.session_id,
                c.task_id,
                json.dumps(c.data),
                _ts(c.created_at),
                _ts(c.updated_at),
            ),
        )

    # processed events -----------------------------------------------------------

    async def claim_event(self, key: str) -> bool:
        """Record ``key``; True the first time, False when it was already recorded."""
        cur = await self._conn.execute(
            "INSERT OR IGNORE INTO processed_events (key, seen_at) VALUES (?, ?)", (key, _ts(utcnow()))
        )
        await self._conn.commit()
        return cur.rowcount == 1

    async def prune_events(self, older_than: datetime) -> int:
        """Forget events recorded before ``older_than``; returns how many."""
        cur = await self._conn.execute("DELETE FROM processed_events WHERE seen_at < ?", (_ts(older_than),))
        await self._conn.commit()
        return cur.rowcount

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
        async with self._conn.execute("SELECT * FROM render_jobs WHERE render_id = ?", (render_id,)) as cur:
            row = await cur.fetchone()
        return self._job(row) if row else None

    async def save_render(self, job: RenderJob) -> None:
        j = job
        await self._write(
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
        async with self._conn.execute(sql, tuple(params)) as cur:
            rows = await cur.fetchall()
        return [self._job(r) for r in rows]
