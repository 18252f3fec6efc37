"""One contract test class for every Store backend (design habit 7), plus SQLite and PostgreSQL specifics."""

import asyncio
import hashlib
import logging
import os
import random
import re
import sqlite3
import stat
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import aiosqlite
import asyncpg
import pytest

from store import (
    ConnectCodeTaken,
    Conversation,
    EncryptionRequired,
    Identity,
    JobStatus,
    RenderJob,
    TokenCipher,
    open_store,
)
from store.base import ACTIVE_JOB_STATUSES, RESUMABLE_JOB_STATUSES
from store.postgres import DEFAULT_POOL_SIZE, SCHEMA_VERSION, PostgresStore, parse_url
from store.sqlite import MIGRATIONS, SQLiteStore

KEY_A = TokenCipher.generate_key()
KEY_B = TokenCipher.generate_key()
TOKEN = "nmv_usr_s3cr3t_token_value_0123456789"


@pytest.fixture(params=["sqlite-file", "sqlite-memory", "sqlite-file-encrypted", "postgres", "postgres-encrypted"])
def backend(request, tmp_path):
    """``(url, cipher)`` of one backend variant (PostgreSQL: a fresh database on the run's server)."""
    if request.param.startswith("postgres"):
        url = request.getfixturevalue("postgres_url")
    elif request.param == "sqlite-memory":
        url = "sqlite:///:memory:"
    else:
        url = f"sqlite:///{tmp_path / 'db' / 'nemobot.db'}"
    return url, TokenCipher.from_keys(KEY_A) if request.param.endswith("-encrypted") else None


@pytest.fixture
async def store(backend):
    url, cipher = backend
    s = open_store(url, cipher=cipher)
    await s.open()
    yield s
    await s.close()


def files_bytes(db_path) -> bytes:
    """The database file and its companions (``-wal``, ``-shm``), concatenated."""
    return b"".join(p.read_bytes() for p in sorted(db_path.parent.glob(db_path.name + "*")))


class TestStoreContract:
    async def test_schema_is_current(self, store):
        assert await store.schema_version() == len(MIGRATIONS)

    async def test_identity_roundtrip(self, store):
        assert await store.load_identity() is None
        exp = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        await store.save_identity(Identity("c1d2", "nmv_usr_x", "anon_1", exp))
        assert await store.load_identity() == Identity("c1d2", "nmv_usr_x", "anon_1", exp)
        assert await store.load_identity("install") == Identity("c1d2", "nmv_usr_x", "anon_1", exp, kind="anonymous")
        await store.save_identity(Identity("c1d2", None, None, None))
        assert await store.load_identity() == Identity("c1d2")

    async def test_identities_are_keyed(self, store):
        await store.save_identity(Identity("install-client", "tok_install"))
        await store.save_identity(Identity("person-client", "tok_person", "anon_p"), key="p_0123456789abcdef")
        assert (await store.load_identity()).token == "tok_install"
        assert (await store.load_identity("p_0123456789abcdef")).client_id == "person-client"
        assert await store.load_identity("p_ffffffffffffffff") is None
        await store.delete_identity("p_0123456789abcdef")
        await store.delete_identity("p_0123456789abcdef")  # nothing left: no error
        assert await store.load_identity("p_0123456789abcdef") is None
        assert (await store.load_identity()).token == "tok_install"

    async def test_the_first_identity_is_created_once(self, store):
        first = await store.create_identity(Identity("client-a", None))
        second = await store.create_identity(Identity("client-b", "tok_b"))  # another instance, a moment later
        assert first.client_id == second.client_id == "client-a"
        assert (await store.load_identity()).client_id == "client-a"
        racing = await asyncio.gather(
            *(store.create_identity(Identity(f"client-{n}", None), key="p_0123456789abcdef") for n in range(8))
        )
        assert len({ident.client_id for ident in racing}) == 1  # everyone got the one that was kept
        assert (await store.load_identity("p_0123456789abcdef")).client_id == racing[0].client_id

    async def test_personal_identity_needs_a_key(self, store, backend):
        personal = Identity("c9", TOKEN, "usr_9", None, kind="personal")
        if backend[1] is None:
            with pytest.raises(EncryptionRequired, match="NEMOBOT_SECRET_KEY"):
                await store.save_identity(personal, key="p_1")
            assert isinstance(EncryptionRequired(), ValueError)
            assert await store.load_identity("p_1") is None
        else:
            await store.save_identity(personal, key="p_1")
            assert await store.load_identity("p_1") == personal

    async def test_identity_repr_hides_the_token(self, store):
        assert TOKEN not in repr(Identity("c", TOKEN, "u"))
        with pytest.raises(ValueError, match="kind"):
            Identity("c", kind="admin")  # type: ignore[arg-type]

    async def test_conversation_roundtrip_and_update(self, store):
        assert await store.get_conversation("telegram:1") is None
        conv = Conversation(key="telegram:1", skill="game-music", language="zh-CN", data={"draft": {"t": []}})
        await store.save_conversation(conv)
        got = await store.get_conversation("telegram:1")
        assert got == conv
        assert got.owner is None
        changed = got.with_changes(session_id="s1", task_id="t1")
        await store.save_conversation(changed)
        again = await store.get_conversation("telegram:1")
        assert (again.session_id, again.task_id, again.created_at) == ("s1", "t1", conv.created_at)
        assert again.updated_at >= conv.updated_at

    async def test_conversation_owner(self, store):
        await store.save_conversation(Conversation(key="telegram:1", skill="s", owner="p_a"))
        await store.save_conversation(Conversation(key="discord:g/c", skill="s", owner="p_b"))
        await store.save_conversation(Conversation(key="telegram:2", skill="s", owner="p_a"))
        assert (await store.get_conversation("telegram:1")).owner == "p_a"
        assert [c.key for c in await store.list_conversations(owner="p_a")] == ["telegram:1", "telegram:2"]
        assert [c.key for c in await store.list_conversations(prefix="discord:", owner="p_a")] == []
        moved = (await store.get_conversation("telegram:2")).with_changes(owner="p_b")
        await store.save_conversation(moved)
        assert [c.key for c in await store.list_conversations(owner="p_b")] == ["discord:g/c", "telegram:2"]

    async def test_list_conversations_by_prefix(self, store):
        for key in ("telegram:1", "discord:g/c/t", "telegram:2/5", "tele_gram:x"):
            await store.save_conversation(Conversation(key=key, skill="game-music"))
        assert [c.key for c in await store.list_conversations(prefix="telegram:")] == ["telegram:1", "telegram:2/5"]
        assert len(await store.list_conversations()) == 4
        assert await store.list_conversations(prefix="tele_") == [await store.get_conversation("tele_gram:x")]

    async def test_render_jobs(self, store):
        base = datetime(2026, 1, 1, tzinfo=UTC)
        a = RenderJob("render_a", "telegram:1", "s1", created_at=base)
        b = RenderJob("render_b", "telegram:1", "s1", created_at=base + timedelta(seconds=1))
        c = RenderJob("render_c", "discord:g/c", "s2", created_at=base + timedelta(seconds=2))
        for job in (c, a, b):
            await store.save_render(job)
        assert [j.render_id for j in await store.list_renders()] == ["render_a", "render_b", "render_c"]
        assert [j.render_id for j in await store.list_renders(conversation_key="telegram:1")] == [
            "render_a",
            "render_b",
        ]
        done = a.with_changes(
            status="delivered", delivered=True, delivered_as="file", output_url="http://x/y.mp4", progress=100.0
        )
        await store.save_render(done)
        assert await store.get_render("render_a") == done
        assert [j.render_id for j in await store.list_renders(undelivered=True)] == ["render_b", "render_c"]
        assert await store.get_render("render_zzz") is None

    async def test_events_are_claimed_once(self, store):
        assert await store.claim_event("telegram:update:1") is True
        assert await store.claim_event("telegram:update:1") is False
        assert await store.claim_event("discord:message:1") is True
        assert await store.prune_events(datetime.now(UTC) - timedelta(days=1)) == 0
        assert await store.prune_events(datetime.now(UTC) + timedelta(seconds=1)) == 2
        assert await store.claim_event("telegram:update:1") is True

    async def test_a_burst_of_claims_is_decided_once_per_key(self, store):
        keys = [f"telegram:update:{n % 700}" for n in range(1000)]  # 300 redelivered within the burst
        await store.claim_event("telegram:update:5")  # and one claimed before it
        results = await asyncio.gather(*(store.claim_event(k) for k in keys))
        firsts = [k for k, first in zip(keys, results, strict=True) if first]
        assert len(firsts) == len(set(firsts)) == 699
        assert "telegram:update:5" not in firsts
        assert not any(await asyncio.gather(*(store.claim_event(k) for k in set(keys))))

    async def test_count_renders(self, store):
        for n, status in enumerate(["submitting", "pending", "processing", "completed", "delivered", "failed"]):
            await store.save_render(RenderJob(f"render_{n}", "telegram:1", "s1", status=JobStatus(status)))
        assert await store.count_renders(ACTIVE_JOB_STATUSES) == 3
        assert await store.count_renders(["delivered", "failed"]) == 2
        assert await store.count_renders([JobStatus.CANCELLED]) == 0
        assert await store.count_renders([]) == 0
        assert await store.count_renders(JobStatus.PENDING) == 1

    async def test_unfinished_renders_in_pages(self, store):
        statuses = list(JobStatus)
        expected = []
        for n, render_id in enumerate(["render_a2", "render_A1", "render_B3", *(f"render_{n:03d}" for n in range(20))]):
            status = statuses[n % len(statuses)]
            key = ("telegram:1", "discord:g/c", "tele_gram:1")[n % 3]
            await store.save_render(RenderJob(render_id, key, "s", status=status))
            if status in RESUMABLE_JOB_STATUSES:
                expected.append((render_id, key))
        await store.save_render(RenderJob("render_done", "telegram:1", "s", status=JobStatus.COMPLETED, delivered=True))
        pages = []
        async for page in store.unfinished_renders(batch=4):
            if not pages:  # saved while paging, after the page read: picked up once
                await store.save_render(RenderJob("render_zz", "telegram:9", "s", status=JobStatus.PENDING))
            pages.append([j.render_id for j in page])
        expected.append(("render_zz", "telegram:9"))
        assert [i for page in pages for i in page] == sorted(i for i, _ in expected)  # bytewise: A1 < B3 < a2
        assert all(len(page) == 4 for page in pages[:-1]) and pages[-1]
        telegram = [j.render_id async for page in store.unfinished_renders(prefix="telegram:", batch=2) for j in page]
        assert telegram == sorted(i for i, key in expected if key.startswith("telegram:"))
        underscore = [j.conversation_key async for page in store.unfinished_renders(prefix="tele_") for j in page]
        assert underscore and set(underscore) == {"tele_gram:1"}
        assert [page async for page in store.unfinished_renders(prefix="slack:")] == []

    async def test_get_conversations(self, store):
        for key in ("telegram:1", "telegram:2", "discord:g/c"):
            await store.save_conversation(Conversation(key=key, skill="s", data={"k": key}))
        got = await store.get_conversations(["telegram:2", "discord:g/c", "telegram:9", "telegram:2"])
        assert set(got) == {"telegram:2", "discord:g/c"}
        assert got["telegram:2"] == await store.get_conversation("telegram:2")
        assert await store.get_conversations([]) == {}
        many = await store.get_conversations({f"telegram:{n}" for n in range(1200)})
        assert sorted(many) == ["telegram:1", "telegram:2"]

    async def test_conversation_data_roundtrip(self, store):
        data = {"s": '中文 ✓ "q"', "n": 1, "f": 1.5, "b": True, "z": None, "l": [1, {"x": []}], "big": 2**53 + 1}
        plus2 = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=timezone_plus(2))
        await store.save_conversation(Conversation(key="telegram:1", skill="s", data=data, created_at=plus2))
        got = await store.get_conversation("telegram:1")
        assert got.data == data and got.created_at == plus2

    async def test_people_and_accounts(self, store):
        assert await store.person_for("telegram:1") is None
        assert await store.count_people() == 0
        alice = await store.ensure_person("telegram:1")
        assert re.fullmatch(r"p_[0-9a-f]{16}", alice)
        assert await store.ensure_person("telegram:1") == alice
        assert await store.person_for("telegram:1") == alice
        bob = await store.ensure_person("discord:1")
        assert bob != alice
        assert await store.count_people() == 2
        person = await store.get_person(alice)
        assert person.id == alice and person.created_at.tzinfo is not None
        assert await store.get_person("p_0000000000000000") is None
        # /connect: bob's Discord account joins alice
        await store.link_account("discord:1", alice)
        assert await store.person_for("discord:1") == alice
        assert await store.accounts_of(alice) == ["telegram:1", "discord:1"]
        assert await store.accounts_of(bob) == []
        await store.link_account("discord:1", alice)  # again: no change
        assert await store.accounts_of(alice) == ["telegram:1", "discord:1"]
        await store.link_account("telegram:9", bob)  # an account never seen links too
        assert await store.accounts_of(bob) == ["telegram:9"]
        with pytest.raises(ValueError, match="unknown person"):
            await store.link_account("telegram:1", "p_0000000000000000")
        assert await store.person_for("telegram:1") == alice
        with pytest.raises(ValueError, match="platform:id"):
            await store.ensure_person("p_0123")

    async def test_ensure_person_is_atomic(self, store):
        ids = await asyncio.gather(*(store.ensure_person("telegram:42") for _ in range(20)))
        assert len(set(ids)) == 1
        assert await store.count_people() == 1

    async def test_connect_code_is_one_time(self, store):
        alice = await store.ensure_person("telegram:1")
        now = datetime.now(UTC)
        await store.save_connect_code("K7Q-29X", alice, now + timedelta(minutes=10))
        assert await store.take_connect_code("nope", now) is None
        assert await store.take_connect_code("K7Q-29X", now) == alice
        assert await store.take_connect_code("K7Q-29X", now) is None
        await store.save_connect_code("A1", alice, now + timedelta(minutes=1))
        taken = await asyncio.gather(*(store.take_connect_code("A1", now) for _ in range(5)))
        assert taken.count(alice) == 1 and taken.count(None) == 4

    async def test_connect_code_expiry(self, store):
        alice = await store.ensure_person("telegram:1")
        exp = datetime.now(UTC) + timedelta(minutes=10)
        await store.save_connect_code("OLD", alice, exp)
        await store.save_connect_code("OTHER", alice, exp)
        assert await store.take_connect_code("OLD", exp) is None  # expiry is exclusive
        assert await store.take_connect_code("OLD", exp - timedelta(minutes=5)) is None  # deleted once expired
        # every code expired at `now` went on the way
        assert await store.take_connect_code("OTHER", exp - timedelta(minutes=5)) is None
        # a non-UTC `now` compares as the same instant
        await store.save_connect_code("TZ", alice, exp)
        plus2 = timezone_plus(2)
        assert await store.take_connect_code("TZ", (exp - timedelta(seconds=1)).astimezone(plus2)) == alice
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.save_connect_code("N", alice, datetime(2026, 12, 1))
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.take_connect_code("N", datetime(2026, 12, 1))

    async def test_connect_code_collision(self, store):
        alice, bob = await store.ensure_person("telegram:1"), await store.ensure_person("telegram:2")
        soon = datetime.now(UTC) + timedelta(minutes=5)
        await store.save_connect_code("SAME", alice, soon)
        with pytest.raises(ConnectCodeTaken):
            await store.save_connect_code("SAME", bob, soon)
        await store.save_connect_code("SAME", alice, soon + timedelta(minutes=5))  # same person: new expiry
        assert await store.take_connect_code("SAME", soon + timedelta(minutes=1)) == alice
        await store.save_connect_code("SAME", bob, soon)  # used, so free again
        with pytest.raises(ValueError, match="unknown person"):
            await store.save_connect_code("X", "p_0000000000000000", soon)

    async def test_usage_counters(self, store):
        assert await store.get_usage("p_a", "runs", "2026-12-01") == 0
        assert await store.usage_totals("runs", "2026-12-01") == (0, 0)
        assert await store.add_usage("p_a", "runs", "2026-12-01") == 1
        assert await store.add_usage("p_a", "runs", "2026-12-01", 3) == 4
        assert await store.add_usage("p_a", "exports", "2026-12-01") == 1
        assert await store.add_usage("p_a", "runs", "2026-12-02") == 1
        assert await store.add_usage("p_b", "runs", "2026-12-01", 2) == 2
        assert await store.add_usage("p_b", "runs", "2026-12-01", -1) == 1
        assert await store.get_usage("p_a", "runs", "2026-12-01") == 4
        assert await store.usage_totals("runs", "2026-12-01") == (5, 2)
        assert await store.usage_totals("exports", "2026-12-01") == (1, 1)
        assert await store.prune_usage("2026-12-02") == 3
        assert await store.usage_totals("runs", "2026-12-01") == (0, 0)
        assert await store.get_usage("p_a", "runs", "2026-12-02") == 1
        for bad in ("yesterday", "20261201", "2026-W48-2"):
            with pytest.raises(ValueError, match="ISO date"):
                await store.add_usage("p_a", "runs", bad)

    async def test_usage_is_atomic(self, store):
        totals = await asyncio.gather(*(store.add_usage("p_a", "runs", "2026-12-01") for _ in range(50)))
        assert sorted(totals) == list(range(1, 51))
        assert await store.get_usage("p_a", "runs", "2026-12-01") == 50

    async def test_flags(self, store):
        assert await store.get_flags("p_a") == {}
        await store.set_flag("p_a", "blocked", "1")
        await store.set_flag("p_a", "quota_runs", "20")
        await store.set_flag("p_a", "quota_runs", "30")
        await store.set_flag("p_b", "blocked", "spam")
        assert await store.get_flags("p_a") == {"blocked": "1", "quota_runs": "30"}
        assert await store.subjects_with_flag("blocked") == {"p_a": "1", "p_b": "spam"}
        await store.set_flag("p_a", "blocked", None)
        await store.set_flag("p_a", "never_set", None)
        assert await store.get_flags("p_a") == {"quota_runs": "30"}
        assert await store.subjects_with_flag("blocked") == {"p_b": "spam"}

    async def test_close_is_idempotent(self, store):
        await store.close()
        await store.close()


def timezone_plus(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


# The schema as migrations 1 and 2 left it (nemobot before issue 9), written out so the
# migration test does not depend on MIGRATIONS.
V2_SCHEMA = """
CREATE TABLE identity (
    id INTEGER PRIMARY KEY CHECK (id = 1), client_id TEXT NOT NULL, token TEXT, user_id TEXT, expires_at TEXT
);
CREATE TABLE conversations (
    key TEXT PRIMARY KEY, skill TEXT NOT NULL, language TEXT NOT NULL, session_id TEXT, task_id TEXT,
    data TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE render_jobs (
    render_id TEXT PRIMARY KEY, conversation_key TEXT NOT NULL, session_id TEXT NOT NULL, status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0, output_url TEXT, delivered INTEGER NOT NULL DEFAULT 0, delivered_as TEXT,
    attempt INTEGER NOT NULL DEFAULT 1, status_message TEXT, error TEXT, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX render_jobs_conversation ON render_jobs (conversation_key, created_at);
CREATE INDEX render_jobs_undelivered ON render_jobs (delivered, created_at);
CREATE TABLE processed_events (key TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
CREATE INDEX processed_events_seen ON processed_events (seen_at);
PRAGMA user_version = 2;
"""
V2_EXPIRY = datetime(2026, 12, 31, tzinfo=UTC)
V2_CREATED = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def make_v2_db(path) -> None:
    """A version-2 database with an identity, a conversation, a render job and an event."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(V2_SCHEMA)
    created = V2_CREATED.isoformat()
    db.execute("INSERT INTO identity VALUES (1, 'c-legacy', ?, 'anon_7', ?)", (TOKEN, V2_EXPIRY.isoformat()))
    db.execute(
        "INSERT INTO conversations VALUES ('telegram:5', 'game-music', 'zh-CN', 's5', 't5', ?, ?, ?)",
        ('{"draft": {"t": [1]}}', created, created),
    )
    db.execute(
        "INSERT INTO render_jobs (render_id, conversation_key, session_id, status, progress, created_at,"
        " updated_at) VALUES ('render_old', 'telegram:5', 's5', 'processing', 40, ?, ?)",
        (created, created),
    )
    db.execute("INSERT INTO processed_events VALUES ('telegram:update:77', ?)", (created,))
    db.commit()
    db.close()


def raw_tokens(path) -> list[str | None]:
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT token FROM identities ORDER BY key")]
    finally:
        db.close()


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


class TestSQLite:
    """What only the SQLite backend has: the file, its modes, WAL, migrations, raw bytes."""

    async def test_file_persists_and_uses_wal(self, tmp_path):
        path = tmp_path / "n.db"
        async with SQLiteStore(path) as s:
            await s.save_conversation(Conversation(key="console:local", skill="video-leaderboard"))
        async with SQLiteStore(path) as s:
            assert (await s.get_conversation("console:local")).skill == "video-leaderboard"
        async with aiosqlite.connect(path) as db:
            async with db.execute("PRAGMA journal_mode") as cur:
                assert (await cur.fetchone())[0] == "wal"
            async with db.execute("PRAGMA user_version") as cur:
                assert (await cur.fetchone())[0] == len(MIGRATIONS)

    async def test_a_burst_of_claims_is_one_transaction_per_batch(self, tmp_path, monkeypatch):
        async with SQLiteStore(tmp_path / "n.db") as s:
            transactions = 0
            tx = s._tx

            def counting_tx():
                nonlocal transactions
                transactions += 1
                return tx()

            monkeypatch.setattr(s, "_tx", counting_tx)
            results = await asyncio.gather(*(s.claim_event(f"telegram:update:{n}") for n in range(1200)))
            assert all(results) and transactions == 3  # batches of 500, 500 and 200
        async with SQLiteStore(tmp_path / "n.db") as s:  # committed before the callers returned
            assert not await s.claim_event("telegram:update:1199")

    async def test_refuses_newer_schema(self, tmp_path):
        path = tmp_path / "future.db"
        async with aiosqlite.connect(path) as db:
            await db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
            await db.commit()
        s = SQLiteStore(path)
        with pytest.raises(RuntimeError, match="newer"):
            await s.open()
        await s.close()
        with pytest.raises(RuntimeError, match="not open"):
            await s.count_people()

    def test_unknown_scheme(self):
        with pytest.raises(ValueError, match="unsupported"):
            open_store("mysql://x")

    async def test_not_open_raises(self, tmp_path):
        with pytest.raises(RuntimeError, match="not open"):
            await SQLiteStore(tmp_path / "x.db").load_identity()

    async def test_new_files_are_owner_only(self, tmp_path, umask_022):
        path = tmp_path / "data" / "n.db"
        async with SQLiteStore(path) as s:
            await s.save_identity(Identity("c", "tok"))
            wal, shm = path.with_name("n.db-wal"), path.with_name("n.db-shm")
            assert wal.exists() and shm.exists()
            assert (mode_of(path), mode_of(wal), mode_of(shm)) == (0o600, 0o600, 0o600)
        assert mode_of(path) == 0o600

    async def test_broad_existing_files_are_tightened(self, tmp_path, umask_022, caplog):
        path = tmp_path / "n.db"
        sqlite3.connect(path).close()
        wal = path.with_name("n.db-wal")
        wal.touch()
        os.chmod(path, 0o644)
        os.chmod(wal, 0o666)
        with caplog.at_level(logging.WARNING, logger="store"):
            async with SQLiteStore(path):
                assert (mode_of(path), mode_of(wal)) == (0o600, 0o600)
        assert "0644" in caplog.text and "0666" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="store"):
            async with SQLiteStore(path):
                pass
        assert caplog.text == ""  # already 0600: left alone, nothing said

    async def test_migrates_a_version_2_database(self, tmp_path):
        path = tmp_path / "old.db"
        make_v2_db(path)
        async with SQLiteStore(path) as s:
            assert await s.schema_version() == len(MIGRATIONS) == 3
            assert await s.load_identity() == Identity("c-legacy", TOKEN, "anon_7", V2_EXPIRY, kind="anonymous")
            assert await s.load_identity("install") == await s.load_identity()
            conv = await s.get_conversation("telegram:5")
            assert (conv.skill, conv.language, conv.session_id, conv.task_id) == ("game-music", "zh-CN", "s5", "t5")
            assert (conv.data, conv.created_at, conv.owner) == ({"draft": {"t": [1]}}, V2_CREATED, None)
            job = await s.get_render("render_old")
            assert (job.status, job.progress, job.delivered) == (JobStatus.PROCESSING, 40.0, False)
            assert await s.count_renders(ACTIVE_JOB_STATUSES) == 1
            assert await s.claim_event("telegram:update:77") is False
            person = await s.ensure_person("telegram:5")
            await s.save_conversation(conv.with_changes(owner=person))
            assert [c.key for c in await s.list_conversations(owner=person)] == ["telegram:5"]
            assert await s.add_usage(person, "runs", "2026-12-01") == 1
        db = sqlite3.connect(path)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        db.close()
        assert "identity" not in tables
        assert {"identities", "people", "accounts", "connect_codes", "usage", "flags"} <= tables

    async def test_migrating_with_a_key_encrypts_the_old_token(self, tmp_path, caplog):
        path = tmp_path / "old.db"
        make_v2_db(path)
        assert TOKEN.encode() in files_bytes(path)
        caplog.set_level(logging.DEBUG)
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_A)) as s:
            assert (await s.load_identity()).token == TOKEN
        assert raw_tokens(path)[0].startswith("fernet:")
        assert TOKEN.encode() not in files_bytes(path)
        assert TOKEN not in caplog.text

    async def test_tokens_are_encrypted_at_rest(self, tmp_path, caplog):
        path = tmp_path / "n.db"
        caplog.set_level(logging.DEBUG)
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_A)) as s:
            await s.save_identity(Identity("c", TOKEN, "anon_1"))
            await s.save_identity(Identity("c2", TOKEN[::-1], "usr_2", kind="personal"), key="p_1")
            assert TOKEN.encode() not in files_bytes(path)
            assert TOKEN[::-1].encode() not in files_bytes(path)
            assert (await s.load_identity()).token == TOKEN
            assert (await s.load_identity("p_1")).token == TOKEN[::-1]
        assert TOKEN.encode() not in files_bytes(path)
        assert all(t.startswith("fernet:") for t in raw_tokens(path))
        assert TOKEN not in caplog.text
        # the check above would see a plaintext token: without a key, anonymous ones are kept as they are
        plain = tmp_path / "plain.db"
        async with SQLiteStore(plain) as s:
            await s.save_identity(Identity("c", TOKEN))
            assert TOKEN.encode() in files_bytes(plain)

    async def test_key_rotation(self, tmp_path):
        path = tmp_path / "n.db"
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_A)) as s:
            await s.save_identity(Identity("c", TOKEN, "anon_1"))
        under_a = raw_tokens(path)
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(f"{KEY_B},{KEY_A}")) as s:
            assert (await s.load_identity()).token == TOKEN
        assert raw_tokens(path) != under_a  # re-encrypted with B on open
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_B)) as s:
            assert (await s.load_identity()).token == TOKEN

    async def test_token_under_a_dropped_key_reads_as_none(self, tmp_path, caplog):
        path = tmp_path / "n.db"
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_A)) as s:
            await s.save_identity(Identity("c", TOKEN, "anon_1"))
        under_a = raw_tokens(path)
        with caplog.at_level(logging.WARNING, logger="store"):
            async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_B)) as s:
                assert await s.load_identity() == Identity("c", None, "anon_1")
                assert raw_tokens(path) == under_a  # left as it was, not destroyed
                await s.save_identity(Identity("c", "nmv_usr_new", "anon_1"))  # the anonymous identity refreshes
                assert (await s.load_identity()).token == "nmv_usr_new"
        assert "no longer in NEMOBOT_SECRET_KEY" in caplog.text
        assert TOKEN not in caplog.text and under_a[0] not in caplog.text

    async def test_encrypted_token_without_a_key(self, tmp_path, caplog):
        path = tmp_path / "n.db"
        async with SQLiteStore(path, cipher=TokenCipher.from_keys(KEY_A)) as s:
            await s.save_identity(Identity("c", TOKEN, "usr_1", kind="personal"), key="p_1")
        with caplog.at_level(logging.WARNING, logger="store"):
            async with SQLiteStore(path) as s:
                assert await s.load_identity("p_1") == Identity("c", None, "usr_1", kind="personal")
                with pytest.raises(EncryptionRequired):
                    await s.save_identity(Identity("c", TOKEN, "usr_1", kind="personal"), key="p_1")
        assert "NEMOBOT_SECRET_KEY is not set" in caplog.text and TOKEN not in caplog.text

    async def test_connect_codes_are_stored_hashed(self, tmp_path):
        path = tmp_path / "n.db"
        now = datetime.now(UTC)
        async with SQLiteStore(path) as s:
            alice = await s.ensure_person("telegram:1")
            await s.save_connect_code("K7Q-29X", alice, now + timedelta(minutes=10))
            await s.save_connect_code("OLD-111", alice, now + timedelta(minutes=1))
            assert b"K7Q-29X" not in files_bytes(path)
            db = sqlite3.connect(path)
            stored = {r[0] for r in db.execute("SELECT code_hash FROM connect_codes")}
            assert stored == {hashlib.sha256(b"K7Q-29X").hexdigest(), hashlib.sha256(b"OLD-111").hexdigest()}
            assert await s.take_connect_code("nope", now + timedelta(minutes=2)) is None
            assert [r[0] for r in db.execute("SELECT COUNT(*) FROM connect_codes")] == [1]  # OLD-111 expired
            db.close()


# PostgreSQL ------------------------------------------------------------------------------------


async def pg_fetch(url: str, sql: str, *args) -> list:
    """Rows of ``sql`` on the database (and schema) of ``url``, read beside the store."""
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def pg_tokens(url: str) -> list[str | None]:
    return [r[0] for r in await pg_fetch(url, "SELECT token FROM identities ORDER BY key")]


def server_files_bytes(postgres_server) -> bytes:
    """Every file of a server the tests started (empty for an external server)."""
    if postgres_server.data_dir is None:
        return b""
    return b"".join(p.read_bytes() for p in sorted(postgres_server.data_dir.rglob("*")) if p.is_file())


class TestPostgres:
    """What only the PostgreSQL backend has: the URL, versioned migrations under a lock, several
    pools (as several processes) on one database, raw rows."""

    def test_url_scheme_and_pool_size(self):
        assert isinstance(open_store("postgresql://u:pw@db.internal:5433/nemo"), PostgresStore)
        assert isinstance(open_store("postgres://u@db/nemo?pool_size=3"), PostgresStore)
        dsn, size, where = parse_url("postgresql://u:s3cret@db.internal:5433/nemo?sslmode=require&pool_size=3")
        assert (size, where) == (3, "nemo on db.internal:5433")
        assert "pool_size" not in dsn and "sslmode=require" in dsn and "s3cret" in dsn
        assert parse_url("postgresql://u:pw@/nemo?host=/run/pg")[1:] == (DEFAULT_POOL_SIZE, "nemo on /run/pg")
        for bad in ("0", "-2", "many", ""):
            with pytest.raises(ValueError, match="pool_size"):
                open_store(f"postgresql://u@h/db?pool_size={bad}")

    async def test_pool_size_from_the_url(self, postgres_url):
        async with PostgresStore(postgres_url + "&pool_size=3") as s:
            assert s._pool.get_max_size() == 3
            assert await s.count_people() == 0
        async with PostgresStore(postgres_url) as s:
            assert s._pool.get_max_size() == DEFAULT_POOL_SIZE == 10

    async def test_migrations_are_versioned_and_idempotent(self, postgres_url):
        assert len(MIGRATIONS) == SCHEMA_VERSION  # numbered as SQLite's: a new SQLite migration needs its twin
        async with PostgresStore(postgres_url) as s:
            assert await s.schema_version() == SCHEMA_VERSION
            await s.save_conversation(Conversation(key="telegram:1", skill="s"))
        async with PostgresStore(postgres_url) as s:  # opened again: nothing to apply, data kept
            assert await s.schema_version() == SCHEMA_VERSION
            assert (await s.get_conversation("telegram:1")).skill == "s"
            await s.open()  # open while open: nothing happens
        assert [r["version"] for r in await pg_fetch(postgres_url, "SELECT version FROM schema_version")] == [
            SCHEMA_VERSION
        ]
        columns = {
            (r["table_name"], r["column_name"]): r["data_type"]
            for r in await pg_fetch(
                postgres_url,
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema()",
            )
        }
        assert columns[("conversations", "data")] == "jsonb"
        assert columns[("render_jobs", "delivered")] == "boolean"
        assert columns[("render_jobs", "created_at")] == "timestamp with time zone"
        assert columns[("usage", "count")] == "bigint"
        assert columns[("usage", "day")] == "date"
        collations = await pg_fetch(
            postgres_url,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = 'render_jobs' AND collation_name = 'C'",
        )
        assert {r[0] for r in collations} == {"render_id", "conversation_key"}  # bytewise, as SQLite, any locale

    async def test_refuses_newer_schema(self, postgres_url):
        async with PostgresStore(postgres_url) as s:
            pass
        await pg_fetch(postgres_url, "INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION + 1)
        s = PostgresStore(postgres_url)
        with pytest.raises(RuntimeError, match=f"newer than this nemobot \\({SCHEMA_VERSION}\\)"):
            await s.open()
        await s.close()
        with pytest.raises(RuntimeError, match="not open"):
            await s.count_people()

    async def test_not_open_raises(self, postgres_url):
        with pytest.raises(RuntimeError, match="not open"):
            await PostgresStore(postgres_url).load_identity()

    async def test_stores_opened_at_once_migrate_once(self, postgres_url):
        stores = [PostgresStore(postgres_url) for _ in range(4)]
        try:
            await asyncio.gather(*(s.open() for s in stores))
            assert {await s.schema_version() for s in stores} == {SCHEMA_VERSION}
        finally:
            await asyncio.gather(*(s.close() for s in stores))
        assert len(await pg_fetch(postgres_url, "SELECT version FROM schema_version")) == 1

    async def test_claims_from_two_stores_are_decided_once(self, postgres_url):
        keys = [f"telegram:update:{n}" for n in range(500)]
        async with PostgresStore(postgres_url) as a, PostgresStore(postgres_url) as b:
            shuffled = random.Random(7).sample(keys, len(keys))
            for round_ in range(2):  # the second round: every key is already claimed
                results = await asyncio.gather(
                    asyncio.gather(*(a.claim_event(k) for k in keys)),
                    asyncio.gather(*(b.claim_event(k) for k in shuffled)),
                    *(b.claim_event(k) for k in keys[::7]),  # more claims on b, in batches of their own
                )
                firsts = [k for k, won in zip(keys, results[0], strict=True) if won]
                firsts += [k for k, won in zip(shuffled, results[1], strict=True) if won]
                firsts += [k for k, won in zip(keys[::7], results[2:], strict=True) if won]
                assert sorted(firsts) == (sorted(keys) if round_ == 0 else [])

    async def test_claims_in_small_batches_from_two_stores(self, postgres_url):
        """Many interleaved batches, overlapping in opposite orders: decided once, no deadlock."""
        keys = [f"discord:message:{n}" for n in range(400)]

        async def claim_in_chunks(s, order):
            won = []
            for start in range(0, len(order), 25):
                chunk = order[start : start + 25]
                results = await asyncio.gather(*map(s.claim_event, chunk))
                won += [k for k, first in zip(chunk, results, strict=True) if first]
            return won

        async with PostgresStore(postgres_url) as a, PostgresStore(postgres_url) as b:
            won_a, won_b = await asyncio.gather(claim_in_chunks(a, keys), claim_in_chunks(b, keys[::-1]))
        assert sorted(won_a + won_b) == sorted(keys)

    async def test_a_burst_of_claims_is_one_statement_per_batch(self, postgres_url, monkeypatch):
        async with PostgresStore(postgres_url) as s:
            statements = 0
            fetch_all = s._all

            async def counting(sql, *params):
                nonlocal statements
                statements += 1
                return await fetch_all(sql, *params)

            monkeypatch.setattr(s, "_all", counting)
            results = await asyncio.gather(*(s.claim_event(f"telegram:update:{n}") for n in range(2500)))
            assert all(results) and statements == 3  # batches of 1000, 1000 and 500
        async with PostgresStore(postgres_url) as s:  # committed before the callers returned
            assert not await s.claim_event("telegram:update:2499")

    async def test_usage_from_two_stores_sums_exactly(self, postgres_url):
        async with PostgresStore(postgres_url) as a, PostgresStore(postgres_url) as b:
            totals = await asyncio.gather(
                *(s.add_usage("p_a", "runs", "2026-12-01") for _ in range(100) for s in (a, b)),
                *(a.add_usage("p_a", "runs", "2026-12-01", 5) for _ in range(10)),
            )
            assert len(set(totals)) == len(totals)  # each addition saw its own new total
            assert max(totals) == await b.get_usage("p_a", "runs", "2026-12-01") == 250

    async def test_people_and_codes_from_two_stores(self, postgres_url):
        async with PostgresStore(postgres_url) as a, PostgresStore(postgres_url) as b:
            ids = await asyncio.gather(*(s.ensure_person("telegram:42") for _ in range(10) for s in (a, b)))
            assert len(set(ids)) == 1 and await a.count_people() == 1
            now = datetime.now(UTC)
            await a.save_connect_code("K7Q", ids[0], now + timedelta(minutes=5))
            taken = await asyncio.gather(*(s.take_connect_code("K7Q", now) for _ in range(5) for s in (a, b)))
            assert taken.count(ids[0]) == 1 and taken.count(None) == 9
            for s in (a, b):  # a code and an expired one, both stores cleaning up at once
                await s.save_connect_code(f"OLD-{id(s)}", ids[0], now + timedelta(seconds=1))
            later = now + timedelta(minutes=1)
            await asyncio.gather(*(s.take_connect_code("nope", later) for _ in range(5) for s in (a, b)))
            assert await pg_fetch(postgres_url, "SELECT * FROM connect_codes") == []

    async def test_tokens_are_encrypted_at_rest(self, postgres_url, postgres_server, caplog):
        caplog.set_level(logging.DEBUG)
        async with PostgresStore(postgres_url, cipher=TokenCipher.from_keys(KEY_A)) as s:
            await s.save_identity(Identity("c", TOKEN, "anon_1"))
            await s.save_identity(Identity("c2", TOKEN[::-1], "usr_2", kind="personal"), key="p_1")
            assert (await s.load_identity()).token == TOKEN
            assert (await s.load_identity("p_1")).token == TOKEN[::-1]
        tokens = await pg_tokens(postgres_url)
        assert len(tokens) == 2 and all(t.startswith("fernet:") for t in tokens)
        assert TOKEN not in caplog.text
        await pg_fetch(postgres_url, "CHECKPOINT")  # what the server keeps, its files and WAL
        files = server_files_bytes(postgres_server)
        assert TOKEN.encode() not in files and TOKEN[::-1].encode() not in files

    async def test_plaintext_tokens_are_sealed_on_open_and_keys_rotate(self, postgres_url):
        async with PostgresStore(postgres_url) as s:  # no key: kept as it is
            await s.save_identity(Identity("c", TOKEN, "anon_1"))
        assert await pg_tokens(postgres_url) == [TOKEN]
        async with PostgresStore(postgres_url, cipher=TokenCipher.from_keys(KEY_A)) as s:
            assert (await s.load_identity()).token == TOKEN
        under_a = await pg_tokens(postgres_url)
        assert under_a[0].startswith("fernet:")
        async with PostgresStore(postgres_url, cipher=TokenCipher.from_keys(f"{KEY_B},{KEY_A}")) as s:
            assert (await s.load_identity()).token == TOKEN
        assert await pg_tokens(postgres_url) != under_a  # re-encrypted with B on open
        async with PostgresStore(postgres_url, cipher=TokenCipher.from_keys(KEY_B)) as s:
            assert (await s.load_identity()).token == TOKEN

    async def test_token_under_a_dropped_key_reads_as_none(self, postgres_url, caplog):
        async with PostgresStore(postgres_url, cipher=TokenCipher.from_keys(KEY_A)) as s:
            await s.save_identity(Identity("c", TOKEN, "anon_1"))
        under_a = await pg_tokens(postgres_url)
        with caplog.at_level(logging.WARNING, logger="store"):
            async with PostgresStore(postgres_url, cipher=TokenCipher.from_keys(KEY_B)) as s:
                assert await s.load_identity() == Identity("c", None, "anon_1")
                assert await pg_tokens(postgres_url) == under_a  # left as it was
            async with PostgresStore(postgres_url) as s:
                assert await s.load_identity() == Identity("c", None, "anon_1")
        assert "no longer in NEMOBOT_SECRET_KEY" in caplog.text and "NEMOBOT_SECRET_KEY is not set" in caplog.text
        assert TOKEN not in caplog.text and under_a[0] not in caplog.text

    async def test_connect_codes_are_stored_hashed(self, postgres_url):
        async with PostgresStore(postgres_url) as s:
            alice = await s.ensure_person("telegram:1")
            await s.save_connect_code("K7Q-29X", alice, datetime.now(UTC) + timedelta(minutes=10))
        assert [r[0] for r in await pg_fetch(postgres_url, "SELECT code_hash FROM connect_codes")] == [
            hashlib.sha256(b"K7Q-29X").hexdigest()
        ]

    async def test_tables_live_in_the_urls_schema(self, postgres_url):
        async with PostgresStore(postgres_url) as s:
            await s.save_conversation(Conversation(key="telegram:1", skill="s"))
        schema = parse_qs(urlsplit(postgres_url).query)["search_path"][0]
        rows = await pg_fetch(
            postgres_url, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'conversations'"
        )
        assert [r[0] for r in rows] == [schema]

    async def test_data_that_jsonb_refuses(self, postgres_url):
        async with PostgresStore(postgres_url) as s:
            with pytest.raises(ValueError, match="JSON"):
                await s.save_conversation(Conversation(key="telegram:1", skill="s", data={"x": float("nan")}))
            with pytest.raises(ValueError, match="JSON"):
                await s.save_conversation(Conversation(key="telegram:1", skill="s", data={"x": "a\x00b"}))
            assert await s.get_conversation("telegram:1") is None
