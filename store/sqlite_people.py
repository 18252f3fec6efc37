"""People, platform accounts, connect codes, usage counters and flags on SQLite.

The multi-user half of :class:`store.sqlite.SQLiteStore` (tables of migration 3).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from store.base import ConnectCodeTaken, Person, utcnow
from store.checks import check_account, check_day, code_hash
from store.sqlite_conn import SQLiteConnection, dt, utc_ts


class PeopleTables(SQLiteConnection):
    """People and what hangs on them: accounts, connect codes, usage, flags."""

    # people and accounts ------------------------------------------------------------------

    async def person_for(self, account: str) -> str | None:
        """The person id linked to ``account``, or ``None``."""
        row = await self._one("SELECT person_id FROM accounts WHERE account = ?", (account,))
        return str(row[0]) if row else None

    async def ensure_person(self, account: str) -> str:
        """The person id of ``account``, creating the person (``p_`` + 16 hex) on first sight."""
        check_account(account)
        if (known := await self.person_for(account)) is not None:
            return known
        async with self._tx() as db:
            async with db.execute("SELECT person_id FROM accounts WHERE account = ?", (account,)) as cur:
                row = await cur.fetchone()
            if row is not None:  # created meanwhile
                return str(row[0])
            person_id, now = "p_" + secrets.token_hex(8), utc_ts(utcnow())
            await db.execute("INSERT INTO people (id, created_at) VALUES (?, ?)", (person_id, now))
            await db.execute(
                "INSERT INTO accounts (account, person_id, linked_at) VALUES (?, ?, ?)", (account, person_id, now)
            )
            return person_id

    async def get_person(self, person_id: str) -> Person | None:
        """The person with ``person_id``, or ``None``."""
        row = await self._one("SELECT id, created_at FROM people WHERE id = ?", (person_id,))
        return Person(row["id"], dt(row["created_at"])) if row else None  # type: ignore[arg-type]

    async def link_account(self, account: str, person_id: str) -> None:
        """Link ``account`` to ``person_id``, moving it from its former person if any.

        Raises:
            ValueError: No person ``person_id``, or ``account`` is not ``platform:id``.
        """
        check_account(account)
        async with self._tx() as db:
            async with db.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)) as cur:
                if await cur.fetchone() is None:
                    raise ValueError(f"unknown person {person_id!r}")
            await db.execute(
                "INSERT INTO accounts (account, person_id, linked_at) VALUES (?, ?, ?)"
                " ON CONFLICT (account) DO UPDATE SET person_id = excluded.person_id, linked_at = excluded.linked_at"
                " WHERE accounts.person_id <> excluded.person_id",
                (account, person_id, utc_ts(utcnow())),
            )

    async def accounts_of(self, person_id: str) -> list[str]:
        """The accounts linked to ``person_id``, in the order they were linked."""
        rows = await self._all(
            "SELECT account FROM accounts WHERE person_id = ? ORDER BY linked_at, account", (person_id,)
        )
        return [str(r[0]) for r in rows]

    async def count_people(self) -> int:
        """How many people exist."""
        row = await self._one("SELECT COUNT(*) FROM people")
        return int(row[0]) if row else 0

    # connect codes ------------------------------------------------------------------------

    async def save_connect_code(self, code: str, person_id: str, expires_at: datetime) -> None:
        """Remember the SHA-256 of ``code`` for ``person_id`` until ``expires_at`` (timezone-aware).

        Raises:
            ConnectCodeTaken: A live code with the same text belongs to another person.
            ValueError: ``expires_at`` is naive, or no person ``person_id``.
        """
        expiry = utc_ts(expires_at)
        async with self._tx() as db:
            async with db.execute("SELECT 1 FROM people WHERE id = ?", (person_id,)) as cur:
                if await cur.fetchone() is None:
                    raise ValueError(f"unknown person {person_id!r}")
            await db.execute("DELETE FROM connect_codes WHERE expires_at <= ?", (utc_ts(utcnow()),))
            cur = await db.execute(
                "INSERT INTO connect_codes (code_hash, person_id, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (code_hash) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE connect_codes.person_id = excluded.person_id",
                (code_hash(code), person_id, expiry),
            )
            if cur.rowcount == 0:
                raise ConnectCodeTaken("this connect code is in use by another person")

    async def take_connect_code(self, code: str, now: datetime) -> str | None:
        """Use ``code`` once: its person id (the code is deleted), or ``None`` if unknown or expired.

        Every code expired at ``now`` (timezone-aware) is deleted on the way.
        """
        cutoff = utc_ts(now)
        async with self._tx() as db:
            async with db.execute(
                "DELETE FROM connect_codes WHERE code_hash = ? RETURNING person_id, expires_at", (code_hash(code),)
            ) as cur:
                row = await cur.fetchone()
            await db.execute("DELETE FROM connect_codes WHERE expires_at <= ?", (cutoff,))
        if row is None or row["expires_at"] <= cutoff:
            return None
        return str(row["person_id"])

    # usage counters ---------------------------------------------------------------------------

    async def add_usage(self, subject: str, kind: str, day: str, n: int = 1) -> int:
        """Add ``n`` to the ``subject``/``kind``/``day`` (ISO date) counter; returns the new total."""
        check_day(day)
        async with (
            self._tx() as db,
            db.execute(
                "INSERT INTO usage (subject, kind, day, count) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (subject, kind, day) DO UPDATE SET count = usage.count + excluded.count"
                " RETURNING count",
                (subject, kind, day, n),
            ) as cur,
        ):
            row = await cur.fetchone()
        if row is None:  # an upsert with RETURNING always yields its row
            raise RuntimeError("usage upsert returned no row")
        return int(row[0])

    async def get_usage(self, subject: str, kind: str, day: str) -> int:
        """The ``subject``/``kind``/``day`` (ISO date) counter; 0 if never counted."""
        row = await self._one(
            "SELECT count FROM usage WHERE subject = ? AND kind = ? AND day = ?", (subject, kind, day)
        )
        return int(row[0]) if row else 0

    async def usage_totals(self, kind: str, day: str) -> tuple[int, int]:
        """``(sum of the counters, distinct subjects)`` for ``kind`` on ``day`` (ISO date)."""
        row = await self._one(
            "SELECT COALESCE(SUM(count), 0), COUNT(DISTINCT subject) FROM usage WHERE kind = ? AND day = ?",
            (kind, day),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def prune_usage(self, before_day: str) -> int:
        """Forget counters of days before ``before_day`` (ISO date); returns how many rows."""
        check_day(before_day)
        return await self._write("DELETE FROM usage WHERE day < ?", (before_day,))

    # flags --------------------------------------------------------------------------------------

    async def set_flag(self, subject: str, name: str, value: str | None) -> None:
        """Set flag ``name`` of ``subject`` to ``value``; ``None`` deletes it."""
        if value is None:
            await self._write("DELETE FROM flags WHERE subject = ? AND name = ?", (subject, name))
            return
        await self._write(
            "INSERT INTO flags (subject, name, value) VALUES (?, ?, ?)"
            " ON CONFLICT (subject, name) DO UPDATE SET value = excluded.value",
            (subject, name, value),
        )

    async def get_flags(self, subject: str) -> dict[str, str]:
        """All flags of ``subject``, name to value."""
        rows = await self._all("SELECT name, value FROM flags WHERE subject = ? ORDER BY name", (subject,))
        return {str(r[0]): str(r[1]) for r in rows}

    async def subjects_with_flag(self, name: str) -> dict[str, str]:
        """Every subject that has flag ``name``, subject to value."""
        rows = await self._all("SELECT subject, value FROM flags WHERE name = ? ORDER BY subject", (name,))
        return {str(r[0]): str(r[1]) for r in rows}
