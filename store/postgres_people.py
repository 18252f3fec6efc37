"""People, platform accounts, connect codes, usage counters and flags on PostgreSQL.

The multi-user half of :class:`store.postgres.PostgresStore`. Every write is one statement or
one transaction that holds under concurrency from several processes: new people, account links,
connect codes and usage counters are upserts or ``... RETURNING`` statements, never a read
followed by a write decided in Python.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

import asyncpg

from store.base import ConnectCodeTaken, Person, utcnow

# the rules both backends share (their error messages are part of the contract tests)
from store.checks import check_account, check_day, code_hash
from store.postgres_conn import PostgresConnection, aware


class _Taken(Exception):
    """Rolls back a new person whose account another caller linked first."""


_DELETE_EXPIRED = (
    "DELETE FROM connect_codes WHERE code_hash IN (SELECT code_hash FROM connect_codes"
    " WHERE expires_at <= $1 AND code_hash <> $2 FOR UPDATE SKIP LOCKED)"
)
"""Deletes the codes expired at ``$1`` but ``$2``; skips rows another transaction holds (it
is taking or replacing them), so two cleanups never wait on each other (no deadlock)."""


def _day(day: str) -> date | None:
    """The date of ISO ``day``, or ``None`` when it is not one (no counter can be kept under it)."""
    try:
        return date.fromisoformat(day)
    except ValueError:
        return None


def _new_person_id() -> str:
    return "p_" + secrets.token_hex(8)


class PeopleTables(PostgresConnection):
    """People and what hangs on them: accounts, connect codes, usage, flags."""

    # people and accounts ------------------------------------------------------------------

    async def person_for(self, account: str) -> str | None:
        """The person id linked to ``account``, or ``None``."""
        found = await self._value("SELECT person_id FROM accounts WHERE account = $1", account)
        return None if found is None else str(found)

    async def ensure_person(self, account: str) -> str:
        """The person id of ``account``, creating the person (``p_`` + 16 hex) on first sight.

        Concurrent calls, from this process or others, return the same id: the account row is
        inserted ``ON CONFLICT DO NOTHING``; the caller that loses rolls its new person back
        and reads the winner's.

        Raises:
            ValueError: ``account`` is not ``platform:id``.
        """
        check_account(account)
        if (known := await self.person_for(account)) is not None:
            return known
        async with self._pool.acquire() as conn:
            try:
                async with conn.transaction():
                    person_id, now = _new_person_id(), utcnow()
                    await conn.execute("INSERT INTO people (id, created_at) VALUES ($1, $2)", person_id, now)
                    linked = await conn.fetchval(
                        "INSERT INTO accounts (account, person_id, linked_at) VALUES ($1, $2, $3)"
                        " ON CONFLICT (account) DO NOTHING RETURNING person_id",
                        account,
                        person_id,
                        now,
                    )
                    if linked is None:
                        raise _Taken
                    return person_id
            except _Taken:
                pass
            winner = await conn.fetchval("SELECT person_id FROM accounts WHERE account = $1", account)
        if winner is None:  # accounts are never deleted, so the row that won is there
            raise RuntimeError(f"account {account!r} vanished while its person was created")
        return str(winner)

    async def get_person(self, person_id: str) -> Person | None:
        """The person with ``person_id``, or ``None``."""
        row = await self._one("SELECT id, created_at FROM people WHERE id = $1", person_id)
        return Person(row["id"], row["created_at"]) if row else None

    async def link_account(self, account: str, person_id: str) -> None:
        """Link ``account`` to ``person_id``, moving it from its former person if any (one upsert).

        Raises:
            ValueError: No person ``person_id``, or ``account`` is not ``platform:id``.
        """
        check_account(account)
        try:
            await self._write(
                "INSERT INTO accounts (account, person_id, linked_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (account) DO UPDATE SET person_id = excluded.person_id, linked_at = excluded.linked_at"
                " WHERE accounts.person_id <> excluded.person_id",
                account,
                person_id,
                utcnow(),
            )
        except asyncpg.ForeignKeyViolationError:
            raise ValueError(f"unknown person {person_id!r}") from None

    async def accounts_of(self, person_id: str) -> list[str]:
        """The accounts linked to ``person_id``, in the order they were linked."""
        rows = await self._all(
            "SELECT account FROM accounts WHERE person_id = $1 ORDER BY linked_at, account", person_id
        )
        return [str(r[0]) for r in rows]

    async def count_people(self) -> int:
        """How many people exist."""
        return int(await self._value("SELECT COUNT(*) FROM people"))

    # connect codes ------------------------------------------------------------------------

    async def save_connect_code(self, code: str, person_id: str, expires_at: datetime) -> None:
        """Remember the SHA-256 of ``code`` for ``person_id`` until ``expires_at`` (timezone-aware).

        Expired codes are deleted first; then one upsert that only moves the expiry of the
        same person's code.

        Raises:
            ConnectCodeTaken: A live code with the same text belongs to another person.
            ValueError: ``expires_at`` is naive, or no person ``person_id``.
        """
        expiry = aware(expires_at)
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM people WHERE id = $1", person_id) is None:
                raise ValueError(f"unknown person {person_id!r}")
            await conn.execute(_DELETE_EXPIRED, utcnow(), "")
            saved = await conn.fetchval(
                "INSERT INTO connect_codes (code_hash, person_id, expires_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (code_hash) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE connect_codes.person_id = excluded.person_id RETURNING 1",
                code_hash(code),
                person_id,
                expiry,
            )
            if saved is None:
                raise ConnectCodeTaken("this connect code is in use by another person")

    async def take_connect_code(self, code: str, now: datetime) -> str | None:
        """Use ``code`` once: its person id (the code is deleted), or ``None`` if unknown or expired.

        One ``DELETE ... RETURNING`` takes the code: of callers racing for it, from any
        process, one gets it. Then every code expired at ``now`` (timezone-aware) is deleted.

        Raises:
            ValueError: ``now`` is naive.
        """
        cutoff = aware(now)
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "DELETE FROM connect_codes WHERE code_hash = $1 RETURNING person_id, expires_at", code_hash(code)
            )
            await conn.execute(_DELETE_EXPIRED, cutoff, code_hash(code))
        if row is None or row["expires_at"] <= cutoff:
            return None
        return str(row["person_id"])

    # usage counters ---------------------------------------------------------------------------

    async def add_usage(self, subject: str, kind: str, day: str, n: int = 1) -> int:
        """Add ``n`` to the ``subject``/``kind``/``day`` (ISO date) counter; returns the new total.

        One upsert (``ON CONFLICT DO UPDATE ... RETURNING``): concurrent additions, from any
        process, all count.

        Raises:
            ValueError: ``day`` is not ``YYYY-MM-DD``.
        """
        check_day(day)
        total = await self._value(
            "INSERT INTO usage (subject, kind, day, count) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (subject, kind, day) DO UPDATE SET count = usage.count + excluded.count"
            " RETURNING count",
            subject,
            kind,
            date.fromisoformat(day),
            n,
        )
        return int(total)

    async def get_usage(self, subject: str, kind: str, day: str) -> int:
        """The ``subject``/``kind``/``day`` (ISO date) counter; 0 if never counted."""
        when = _day(day)
        if when is None:
            return 0
        found = await self._value(
            "SELECT count FROM usage WHERE subject = $1 AND kind = $2 AND day = $3", subject, kind, when
        )
        return int(found or 0)

    async def usage_totals(self, kind: str, day: str) -> tuple[int, int]:
        """``(sum of the counters, distinct subjects)`` for ``kind`` on ``day`` (ISO date)."""
        when = _day(day)
        if when is None:
            return (0, 0)
        row = await self._one(
            "SELECT COALESCE(SUM(count), 0), COUNT(DISTINCT subject) FROM usage WHERE kind = $1 AND day = $2",
            kind,
            when,
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def prune_usage(self, before_day: str) -> int:
        """Forget counters of days before ``before_day`` (ISO date); returns how many rows.

        Raises:
            ValueError: ``before_day`` is not ``YYYY-MM-DD``.
        """
        check_day(before_day)
        return await self._write("DELETE FROM usage WHERE day < $1", date.fromisoformat(before_day))

    # flags --------------------------------------------------------------------------------------

    async def set_flag(self, subject: str, name: str, value: str | None) -> None:
        """Set flag ``name`` of ``subject`` to ``value`` (an upsert); ``None`` deletes it."""
        if value is None:
            await self._write("DELETE FROM flags WHERE subject = $1 AND name = $2", subject, name)
            return
        await self._write(
            "INSERT INTO flags (subject, name, value) VALUES ($1, $2, $3)"
            " ON CONFLICT (subject, name) DO UPDATE SET value = excluded.value",
            subject,
            name,
            value,
        )

    async def get_flags(self, subject: str) -> dict[str, str]:
        """All flags of ``subject``, name to value."""
        rows = await self._all("SELECT name, value FROM flags WHERE subject = $1 ORDER BY name", subject)
        return {str(r[0]): str(r[1]) for r in rows}

    async def subjects_with_flag(self, name: str) -> dict[str, str]:
        """Every subject that has flag ``name``, subject to value."""
        rows = await self._all("SELECT subject, value FROM flags WHERE name = $1 ORDER BY subject", name)
        return {str(r[0]): str(r[1]) for r in rows}
