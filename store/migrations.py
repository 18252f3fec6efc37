"""The SQLite schema: versioned migrations, recorded in ``PRAGMA user_version``.

Migration ``n`` (1-based) is ``MIGRATIONS[n - 1]``; each runs once, in its own transaction.
Published migrations never change: a change of schema is a new one at the end.
"""

from __future__ import annotations

import aiosqlite

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
    # 3: multi-user (issue 9): identities keyed by "install" or a person id (the old one-row
    # table moves under "install"), people and their platform accounts, one-time connect
    # codes (SHA-256 only), usage counters for quotas, operator flags, project owners
    """
    CREATE TABLE identities (
        key TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        token TEXT,
        user_id TEXT,
        expires_at TEXT,
        kind TEXT NOT NULL DEFAULT 'anonymous'
    );
    INSERT INTO identities (key, client_id, token, user_id, expires_at, kind)
        SELECT 'install', client_id, token, user_id, expires_at, 'anonymous' FROM identity WHERE id = 1;
    DROP TABLE identity;
    CREATE TABLE people (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    );
    CREATE TABLE accounts (
        account TEXT PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES people (id),
        linked_at TEXT NOT NULL
    );
    CREATE INDEX accounts_person ON accounts (person_id, linked_at);
    CREATE TABLE connect_codes (
        code_hash TEXT PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES people (id),
        expires_at TEXT NOT NULL
    );
    CREATE INDEX connect_codes_expiry ON connect_codes (expires_at);
    CREATE TABLE usage (
        subject TEXT NOT NULL,
        kind TEXT NOT NULL,
        day TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (subject, kind, day)
    );
    CREATE INDEX usage_kind_day ON usage (kind, day);
    CREATE TABLE flags (
        subject TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (subject, name)
    );
    CREATE INDEX flags_name ON flags (name);
    ALTER TABLE conversations ADD COLUMN owner TEXT;
    CREATE INDEX conversations_owner ON conversations (owner, created_at);
    CREATE INDEX render_jobs_status ON render_jobs (status);
    """,
)


async def migrate(db: aiosqlite.Connection, path: str) -> int:
    """Apply the pending migrations to ``db``.

    Args:
        db: An open connection.
        path: The database file, for the error message.

    Returns:
        The schema version now applied (``len(MIGRATIONS)``).

    Raises:
        RuntimeError: The database is newer than this code.
    """
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database {path} has schema version {version}, newer than this nemobot ({len(MIGRATIONS)})")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        except BaseException:
            await db.rollback()  # a failed script leaves its transaction open
            raise
    return len(MIGRATIONS)
