"""The connection pool under :class:`store.postgres.PostgresStore`: URL, pool, migrations.

The URL is a libpq-style ``postgresql://user:password@host:port/dbname?...`` (``postgres://``
too), read by asyncpg; its query may set libpq options (``sslmode``, ``host`` for a Unix
socket folder...) and server settings (``search_path``...). One query parameter is ours:
``pool_size``, the most connections the store opens at once (default :data:`DEFAULT_POOL_SIZE`);
it is taken out before the URL reaches asyncpg.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from store.crypto import TokenCipher
from store.postgres_migrations import current_version, migrate

log = logging.getLogger(__name__)

SCHEMES = ("postgresql", "postgres")
"""URL schemes of this backend."""

DEFAULT_POOL_SIZE = 10
"""Connections at most, unless the URL's ``pool_size`` says otherwise."""

CLOSE_TIMEOUT_S = 10.0
"""Seconds :meth:`PostgresConnection.close` waits for connections in use before cutting them."""


def parse_url(url: str) -> tuple[str, int, str]:
    """Split a ``postgresql://`` URL into what asyncpg reads, the pool size and a safe name.

    Args:
        url: ``postgresql://...`` or ``postgres://...``, optionally with ``?pool_size=N``.

    Returns:
        ``(dsn, pool_size, where)``: the URL without ``pool_size``; the pool size (>= 1); the
        database and its host or socket folder, for messages (never the user or password).

    Raises:
        ValueError: Not a PostgreSQL URL, or ``pool_size`` is not a whole number >= 1.
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"not a PostgreSQL URL (postgresql://...): {parts.scheme}://")
    query = parse_qsl(parts.query, keep_blank_values=True)
    pool_size, kept = DEFAULT_POOL_SIZE, []
    for name, value in query:
        if name != "pool_size":
            kept.append((name, value))
            continue
        try:
            pool_size = int(value)
        except ValueError:
            pool_size = 0
        if pool_size < 1:
            raise ValueError(f"DATABASE_URL: pool_size must be a whole number >= 1, got {value!r}")
    dsn = url if len(kept) == len(query) else urlunsplit(parts._replace(query=urlencode(kept)))
    host = parts.hostname or dict(query).get("host") or "localhost"
    where = f"{parts.path.lstrip('/') or '(default database)'} on {host}"
    if parts.port:
        where += f":{parts.port}"
    return dsn, pool_size, where


def aware(value: datetime) -> datetime:
    """``value`` itself, once checked to be timezone-aware.

    Raises:
        ValueError: ``value`` is naive.
    """
    if value.tzinfo is None:
        raise ValueError("expected a timezone-aware datetime")
    return value


def utc(value: datetime) -> datetime:
    """``value``, a naive one read as UTC (the records' times are UTC; asyncpg would read it as local time)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def like_prefix(prefix: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern matching what starts with ``prefix`` (taken literally)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresConnection:
    """An asyncpg pool with migrations, opened by :meth:`open` and closed by :meth:`close`.

    Args:
        url: ``postgresql://...`` (see the module doc for ``pool_size``).
        cipher: Encrypts stored tokens; ``None`` stores anonymous tokens as they are and
            refuses personal ones.

    Raises:
        ValueError: Not a PostgreSQL URL, or a bad ``pool_size``.
    """

    def __init__(self, url: str, cipher: TokenCipher | None = None) -> None:
        self._dsn, self.pool_size, self.where = parse_url(url)
        self.cipher = cipher
        self._db: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        """Open the pool and apply pending migrations. Does nothing if open.

        Raises:
            RuntimeError: The database's schema is newer than this code.
            OSError, asyncpg.PostgresError: The server cannot be reached or refused the login.
        """
        async with self._opening:
            if self._db is not None:
                return
            pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self.pool_size)
            self._db = pool
            try:
                async with pool.acquire() as conn:
                    await migrate(conn, self.where)
                await self._opened()
            except BaseException:
                await self.close()
                raise

    async def _opened(self) -> None:
        """Hook run once the schema is current, before :meth:`open` returns."""

    async def close(self) -> None:
        """Close the pool (waiting up to :data:`CLOSE_TIMEOUT_S` for queries in flight). Idempotent."""
        if self._db is None:
            return
        pool, self._db = self._db, None
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning("store: connections still busy after %.0f s; closed them", CLOSE_TIMEOUT_S)
            pool.terminate()

    @property
    def _pool(self) -> asyncpg.Pool:
        if self._db is None:
            raise RuntimeError("store is not open")
        return self._db

    async def schema_version(self) -> int:
        """The highest applied migration (shared numbering with SQLite)."""
        return await current_version(self._pool)

    async def _one(self, sql: str, *params: Any) -> asyncpg.Record | None:
        return await self._pool.fetchrow(sql, *params)

    async def _all(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        return list(await self._pool.fetch(sql, *params))

    async def _value(self, sql: str, *params: Any) -> Any:
        return await self._pool.fetchval(sql, *params)

    async def _write(self, sql: str, *params: Any) -> int:
        """Run one statement (its own transaction); returns the rows it changed."""
        status: str = await self._pool.execute(sql, *params)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0
