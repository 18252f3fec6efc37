"""A real PostgreSQL for the tests: one server per test run, a fresh schema per test.

The server is the one the ``pgserver`` wheel ships (started in a temporary folder, stopped and
deleted at the end of the run), or the one ``NEMOBOT_TEST_POSTGRES_URL`` points at (a role
that may create schemas in that URL's database; nothing else on it is touched). Each test that
asks for ``postgres_url`` gets an empty schema of its own (the URL's ``search_path``), dropped
after it: as independent as a database per test, at a few milliseconds instead of a few
hundred (``CREATE DATABASE`` copies a template and checkpoints).

When no server can be had (pgserver not installed, or it cannot start here) the PostgreSQL
tests are skipped with the reason, except when ``CI`` is set: there they fail.

Import the fixtures into a ``conftest.py``: ``from tests.postgres import postgres_server, postgres_url``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

ENV_URL = "NEMOBOT_TEST_POSTGRES_URL"
"""An external server for the tests instead of pgserver (``postgresql://user:pw@host/db``)."""

log = logging.getLogger(__name__)

T = TypeVar("T")


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when ``CI`` is set (CI must have a server)."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``make()`` to its end on an event loop of its own, in another thread
    (fixtures that set up databases stay out of the test's loop)."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(1, thread_name_prefix="postgres-admin") as pool:
        return pool.submit(asyncio.run, main()).result()


def with_schema(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` (a server setting asyncpg reads from the query)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "search_path"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("search_path", schema)])))


@dataclass
class PostgresServer:
    """A server the tests may create schemas on.

    Attributes:
        url: Its URL, to the database the tests' schemas are made in.
        data_dir: Its files, when the tests started it (pgserver); ``None`` for an external one.
        start_s: Seconds it took to start (0 for an external server).
    """

    url: str
    data_dir: Path | None
    start_s: float

    async def admin(self, sql: str, *args: Any) -> Any:
        """Run ``sql`` on the database of :attr:`url`; returns the first value of the first row."""
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    def create_schema(self) -> str:
        """A new empty schema; returns its name."""
        name = "nemobot_test_" + secrets.token_hex(6)
        run_sync(lambda: self.admin(f"CREATE SCHEMA {name}"))
        return name

    def drop_schema(self, name: str) -> None:
        """Drop schema ``name`` and everything in it."""
        run_sync(lambda: self.admin(f"DROP SCHEMA IF EXISTS {name} CASCADE"))


def _external(url: str) -> PostgresServer:
    server = PostgresServer(url, None, 0.0)
    try:
        run_sync(lambda: server.admin("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"{ENV_URL} is set but its server cannot be used: {exc!r}", pytrace=False)
    return server


def _start_pgserver(folder: Path) -> tuple[Any, PostgresServer]:
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError:
            unavailable("the pgserver wheel is not installed (pip install -e '.[dev]')")
        started = time.perf_counter()
        try:
            handle = pgserver.get_server(folder / "data", cleanup_mode="delete")
            url = handle.get_uri()
        except Exception as exc:
            unavailable(f"pgserver could not start one here: {exc!r}")
    server = PostgresServer(url, folder / "data", time.perf_counter() - started)

    async def no_fsync() -> None:  # a throwaway server: durability is not what the tests check
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            await server.admin(f"ALTER SYSTEM SET {setting} = off")
        await server.admin("SELECT pg_reload_conf()")

    run_sync(no_fsync)
    log.info("pgserver started in %.2f s", server.start_s)
    return handle, server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test run (started once; a skip or failure is remembered)."""
    if url := os.environ.get(ENV_URL):
        yield _external(url)
        return
    folder = Path(tempfile.mkdtemp(prefix="nemobot-pg-"))
    try:
        handle, server = _start_pgserver(folder)
        try:
            yield server
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                handle.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL of :func:`postgres_server` whose ``search_path`` is a new empty schema, dropped after the test."""
    name = postgres_server.create_schema()
    yield with_schema(postgres_server.url, name)
    postgres_server.drop_schema(name)
