"""The job queue's tables on PostgreSQL: procrastinate's schema, created once per database.

procrastinate (:mod:`bot.shared_work`) ships its schema as SQL text; this module applies it
when the database has none yet, under an advisory lock so instances starting together do not
race, and turns a store URL into the connection string libpq (psycopg, which procrastinate
uses) reads.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg

JOB_SCHEMA_LOCK = 0x6E656D6F6A6F6273
"""The advisory lock key held while procrastinate's schema is created ("nemojobs")."""

LIBPQ_PARAMS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "sslmode",
        "sslnegotiation",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gssencmode",
        "target_session_attrs",
        "load_balance_hosts",
    }
)
"""URI query parameters libpq knows (PostgreSQL docs, "Connection Strings", 34.1.2)."""


def libpq_url(dsn: str) -> str:
    """``dsn`` (as asyncpg reads it) for libpq: query parameters libpq does not know are server
    settings to asyncpg (``?search_path=x``) and become ``options=-c search_path=x``.

    Args:
        dsn: A ``postgresql://`` URL without nemobot's own ``pool_size``.

    Returns:
        The same URL with unknown parameters moved into ``options``.
    """
    parts = urlsplit(dsn)
    kept: list[tuple[str, str]] = []
    settings: list[str] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in LIBPQ_PARAMS:
            kept.append((name, value))
        else:
            settings.append(f"-c {name}={value}")
    if not settings:
        return dsn
    options = dict(kept).get("options", "")
    kept = [(n, v) for n, v in kept if n != "options"]
    kept.append(("options", " ".join([options, *settings]).strip()))
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))


SEND_BACK_STALLED = """
UPDATE procrastinate_jobs
   SET status = (CASE WHEN abort_requested THEN 'failed' ELSE 'todo' END)::procrastinate_job_status,
       attempts = attempts + (CASE WHEN abort_requested THEN 0 ELSE 1 END),
       scheduled_at = CASE WHEN abort_requested THEN scheduled_at ELSE NOW() END
 WHERE id = %(job_id)s AND status = 'doing' AND worker_id IS NOT DISTINCT FROM %(worker_id)s
RETURNING id
"""
"""Send a stalled job back to the queue (or fail it when an abort was asked for, as
procrastinate's own ``retry_job`` does), only while the stalled worker still holds it: a run that
another instance already sent back and a live worker took is left alone, in one statement, so
two instances watching at once never run a job twice. psycopg parameters: ``job_id``,
``worker_id`` (``None`` for a job no worker holds)."""


COUNT_CONVERSATION_JOBS = """
SELECT count(*) FILTER (WHERE status = 'doing') AS doing,
       count(*) FILTER (WHERE status = 'todo') AS waiting
  FROM procrastinate_jobs
 WHERE lock = %(lock)s AND status IN ('todo', 'doing')
"""
"""How many jobs of one conversation (``lock``) run and wait, in one statement (psycopg
parameter ``lock``)."""


async def ensure_job_schema(dsn: str, schema_sql: str) -> bool:
    """Create the job queue's tables unless they exist (one instance at a time).

    Args:
        dsn: The database (asyncpg form).
        schema_sql: procrastinate's schema (``SchemaManager.get_schema()``).

    Returns:
        True when this call created them.

    Raises:
        asyncpg.PostgresError, OSError: The database refused or could not be reached.
    """
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", JOB_SCHEMA_LOCK)
            if await conn.fetchval("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"):
                return False
            await conn.execute(schema_sql)
            return True
    finally:
        await conn.close()
