"""``nemobot store copy``: every table copied between backends, tokens as stored, empty targets only."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from store import Conversation, Identity, JobStatus, RenderJob, Store, TokenCipher, open_store
from store.base import TABLES, StoreNotEmpty
from store.copy import CopyError, copy_store, describe, scrub
from tests.postgres import with_schema

KEY = TokenCipher.from_keys(TokenCipher.generate_key())
OTHER_KEY = TokenCipher.from_keys(TokenCipher.generate_key())
INSTALL_TOKEN = "nmv_anon_install_token_0123456789"
PERSONAL_TOKEN = "nmv_usr_personal_token_9876543210"
CODE = "K7Q-29X"
NOW = datetime.now(UTC).replace(microsecond=123456)
T0 = datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


async def opened(url: str, cipher: TokenCipher | None = KEY) -> Store:
    store = open_store(url, cipher=cipher)
    await store.open()
    return store


async def populate(store: Store) -> dict[str, Any]:
    """One of everything the store holds; returns what :func:`records` needs to read it back."""
    alice = await store.ensure_person("telegram:100")
    bob = await store.ensure_person("discord:200")
    await store.link_account("discord:101", alice)
    await store.save_identity(Identity("install-client", INSTALL_TOKEN, "anon_install", NOW + timedelta(days=7)))
    await store.save_identity(Identity("alice-client", PERSONAL_TOKEN, "usr_alice", None, kind="personal"), key=alice)
    await store.save_identity(Identity("bob-client", None, "anon_bob"), key=bob)
    await store.save_connect_code(
        CODE, alice, NOW + timedelta(days=1)
    )  # NOW is taken at import: a long run must not expire it
    await store.add_usage(alice, "runs", "2026-03-01", 4)
    await store.add_usage(alice, "exports", "2026-03-01")
    await store.add_usage(bob, "runs", "2026-03-02", 2)
    await store.set_flag(bob, "blocked", "1")
    await store.set_flag(alice, "quota_runs", "10")
    queue = [{"text": "add background music", "sender": "A", "urls": [["a.mp4", "https://x/a.mp4", True]]}]
    convs = [
        Conversation(
            "telegram:100",
            "video-leaderboard",
            "en",
            "sess_1",
            "task_1",
            {"run": {"text": "add title 'Go'", "before": {"t": []}, "ref": "7"}, "queue": queue, "scope": "private"},
            created_at=T0,
            updated_at=T0 + timedelta(minutes=5),
            owner=alice,
        ),
        Conversation(
            "discord:1/2/3",
            "game-music",
            "zh-CN",
            data={"标题": "你好 🎬", "n": [1, 2.5, None, True]},
            created_at=T0 - timedelta(days=1),
        ),
        # created at the same time as the first: the copy keeps their order (saved order)
        Conversation("telegram:-100/5", "video-leaderboard", created_at=T0, owner=bob),
    ]
    for conv in convs:
        await store.save_conversation(conv)
    jobs = [
        RenderJob("render_a", "telegram:100", "sess_1", JobStatus.PENDING, 42.5, status_message="9", created_at=T0),
        RenderJob(
            "render_b",
            "telegram:100",
            "sess_1",
            JobStatus.DELIVERED,
            100.0,
            "https://cdn/x.mp4",
            True,
            "file",
            2,
            created_at=T0 - timedelta(hours=1),
        ),
        RenderJob("render_c", "discord:1/2/3", "sess_2", JobStatus.FAILED, error="ffmpeg exited 1", created_at=T0),
    ]
    for job in jobs:
        await store.save_render(job)
    for event in ("telegram:update:1", "telegram:update:2", "discord:interaction:3"):
        assert await store.claim_event(event)
    return {"people": [alice, bob], "events": ["telegram:update:1", "telegram:update:2", "discord:interaction:3"]}


async def records(store: Store, known: dict[str, Any]) -> dict[str, Any]:
    """What the store holds, read through the ``Store`` protocol only (the records compare)."""
    people = known["people"]
    return {
        "identities": [await store.load_identity(key) for key in ("install", *people)],
        "people": [await store.get_person(p) for p in people],
        "count_people": await store.count_people(),
        "accounts": [await store.accounts_of(p) for p in people],
        "person_for": [await store.person_for(a) for a in ("telegram:100", "discord:101", "discord:200")],
        "usage": [
            await store.get_usage(p, kind, day)
            for p in people
            for kind in ("runs", "exports")
            for day in ("2026-03-01", "2026-03-02")
        ],
        "usage_totals": await store.usage_totals("runs", "2026-03-01"),
        "flags": [await store.get_flags(p) for p in people],
        "blocked": await store.subjects_with_flag("blocked"),
        "conversations": await store.list_conversations(),
        "telegram": await store.list_conversations(prefix="telegram:"),
        "owned": await store.list_conversations(owner=people[0]),
        "renders": await store.list_renders(),
        "undelivered": await store.list_renders(undelivered=True),
        "unfinished": [jobs async for jobs in store.unfinished_renders(batch=1)],
        "active": await store.count_renders([JobStatus.PENDING, JobStatus.PROCESSING]),
    }


async def dumped(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``store``, per table, in dump order."""
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
    async for table, batch in store.dump(batch=2):
        rows[table].extend(batch)
    return rows


async def pg_fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_round_trip_sqlite_postgres_sqlite(tmp_path, postgres_url):
    first, last = sqlite_url(tmp_path / "first.db"), sqlite_url(tmp_path / "last.db")
    source = await opened(first)
    try:
        known = await populate(source)
        expected, expected_rows = await records(source, known), await dumped(source)
    finally:
        await source.close()
    assert expected["conversations"][0].key == "discord:1/2/3"  # oldest first; two share T0 after it
    assert [c.key for c in expected["conversations"][1:]] == ["telegram:100", "telegram:-100/5"]

    there = await copy_store(first, postgres_url)
    back = await copy_store(postgres_url, last)

    counts = {
        "identities": 3,
        "people": 2,
        "accounts": 3,
        "connect_codes": 1,
        "usage": 3,
        "flags": 2,
        "conversations": 3,
        "render_jobs": 3,
        "processed_events": 3,
    }
    assert there.counts == back.counts == counts
    assert list(there.counts) == list(TABLES)
    for url in (postgres_url, last):
        store = await opened(url)
        try:
            assert await records(store, known) == expected, url
            assert await dumped(store) == expected_rows, url  # every row of every table, tokens as stored
            assert await store.schema_version() == 3
            for event in known["events"]:
                assert not await store.claim_event(event), "processed events are copied: no redelivery is handled"
            assert await store.take_connect_code(CODE, datetime.now(UTC)) == known["people"][0]  # hashed, usable
            alice = await store.ensure_person("telegram:100")
            assert alice == known["people"][0]  # no second person for a known account
        finally:
            await store.close()
    [conv] = [c for c in expected["conversations"] if c.key == "telegram:100"]
    assert conv.data["queue"][0]["text"] == "add background music" and conv.data["run"]["ref"] == "7"


async def test_round_trip_postgres_to_postgres_and_sqlite_to_sqlite(tmp_path, postgres_url, postgres_server):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first)
    try:
        known = await populate(source)
        expected = await records(source, known)
    finally:
        await source.close()
    second_schema = postgres_server.create_schema()
    try:
        second = with_schema(postgres_server.url, second_schema)
        await copy_store(first, postgres_url)
        await copy_store(postgres_url, second)
        await copy_store(second, sqlite_url(tmp_path / "again.db"))
        for url in (second, sqlite_url(tmp_path / "again.db")):
            store = await opened(url)
            try:
                assert await records(store, known) == expected
            finally:
                await store.close()
    finally:
        postgres_server.drop_schema(second_schema)


async def test_encrypted_tokens_are_copied_as_they_are(tmp_path, postgres_url, caplog):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first)
    try:
        known = await populate(source)
        alice = known["people"][0]
    finally:
        await source.close()
    db = sqlite3.connect(tmp_path / "first.db")
    raw = dict(db.execute("SELECT key, token FROM identities").fetchall())
    db.close()
    assert raw[alice].startswith("fernet:") and raw["install"].startswith("fernet:") and raw[known["people"][1]] is None

    report = await copy_store(first, postgres_url, cipher=OTHER_KEY)
    assert (report.encrypted_tokens, report.plaintext_tokens, report.unreadable_tokens) == (2, 0, 2)
    stored = {r["key"]: r["token"] for r in await pg_fetch(postgres_url, "SELECT key, token FROM identities")}
    assert stored == raw  # not decrypted, not re-encrypted: byte for byte
    everything = str(await pg_fetch(postgres_url, "SELECT * FROM identities"))
    assert INSTALL_TOKEN not in everything and PERSONAL_TOKEN not in everything

    target = await opened(postgres_url, KEY)  # the same key on the target: readable
    try:
        assert await target.load_identity(alice) == Identity(
            "alice-client", PERSONAL_TOKEN, "usr_alice", None, kind="personal"
        )
        assert (await target.load_identity()).token == INSTALL_TOKEN
    finally:
        await target.close()
    target = await opened(postgres_url, OTHER_KEY)  # another key: no token, a warning, nothing leaked
    try:
        assert (await target.load_identity(alice)).token is None
    finally:
        await target.close()
    assert "no longer in NEMOBOT_SECRET_KEY" in caplog.text and PERSONAL_TOKEN not in caplog.text
    assert (await copy_store(postgres_url, sqlite_url(tmp_path / "b.db"), cipher=KEY)).unreadable_tokens == 0


async def test_plaintext_tokens_stay_plaintext_until_a_key_seals_them(tmp_path, postgres_url):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first, None)
    try:
        await source.save_identity(Identity("install-client", INSTALL_TOKEN, "anon_1"))
    finally:
        await source.close()
    report = await copy_store(first, postgres_url)
    assert (report.encrypted_tokens, report.plaintext_tokens, report.unreadable_tokens) == (0, 1, None)
    assert [r[0] for r in await pg_fetch(postgres_url, "SELECT token FROM identities")] == [INSTALL_TOKEN]
    target = await opened(postgres_url, KEY)  # the bot started with a key: sealed as usual
    try:
        assert (await target.load_identity()).token == INSTALL_TOKEN
    finally:
        await target.close()
    [sealed] = [r[0] for r in await pg_fetch(postgres_url, "SELECT token FROM identities")]
    assert sealed.startswith("fernet:")


@pytest.mark.parametrize("target_kind", ["postgres", "sqlite"])
async def test_a_target_with_data_is_refused_and_left_alone(tmp_path, postgres_url, target_kind):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first)
    try:
        await populate(source)
    finally:
        await source.close()
    target_url = postgres_url if target_kind == "postgres" else sqlite_url(tmp_path / "target.db")
    target = await opened(target_url)
    try:
        await target.save_conversation(Conversation("telegram:9", "s"))
        await target.set_flag("p_x", "blocked", "1")
    finally:
        await target.close()
    with pytest.raises(StoreNotEmpty, match=r"already holds data \(flags, conversations\)") as refused:
        await copy_store(first, target_url)
    assert refused.value.tables == ("flags", "conversations")
    target = await opened(target_url)
    try:
        assert [c.key for c in await target.list_conversations()] == ["telegram:9"]
        assert await target.count_people() == 0 and await target.load_identity() is None
        assert {table: len(rows) for table, rows in (await dumped(target)).items() if rows} == {
            "flags": 1,
            "conversations": 1,
        }
    finally:
        await target.close()


@pytest.mark.parametrize(
    ("bad", "refusal"),
    [
        (
            {"title": "a\x00b"},
            r"^conversations 'telegram:bad': its data holds a \\u0000 character, which jsonb refuses$",
        ),
        ({"x": float("nan")}, r"^conversations 'telegram:bad': its data is not strict JSON \(Out of range float"),
    ],
)
async def test_a_failure_half_way_writes_nothing(tmp_path, postgres_url, bad, refusal):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first)
    try:
        await populate(source)  # people, identities... are written before the conversations
        for n in range(30):
            await source.save_conversation(Conversation(f"telegram:{n}", "s", created_at=T0 + timedelta(seconds=n)))
        await source.save_conversation(  # SQLite keeps it; jsonb refuses it: the copy stops there
            Conversation("telegram:bad", "s", data=bad, created_at=T0 + timedelta(minutes=5))
        )
    finally:
        await source.close()
    with pytest.raises(ValueError, match=refusal):
        await copy_store(first, postgres_url, batch=10)
    for table in TABLES:
        assert [r[0] for r in await pg_fetch(postgres_url, f"SELECT count(*) FROM {table}")] == [0], table
    db = sqlite3.connect(tmp_path / "first.db")
    db.execute("UPDATE conversations SET data = '{\"title\": \"a\\\\u0000b as text\"}' WHERE key = 'telegram:bad'")
    db.commit()
    db.close()
    report = await copy_store(first, postgres_url, batch=10)  # an escaped backslash before u0000 is fine
    assert report.counts["conversations"] == 34
    target = await opened(postgres_url)
    try:
        assert (await target.get_conversation("telegram:bad")).data == {"title": "a\\u0000b as text"}
    finally:
        await target.close()


async def test_the_copied_tables_are_every_table_of_both_schemas(tmp_path, postgres_url):
    """A table or column added by a later migration must be added to ``TABLES`` (and so copied)."""
    store = await opened(sqlite_url(tmp_path / "s.db"), None)
    await store.close()
    db = sqlite3.connect(tmp_path / "s.db")
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    in_sqlite = {name: tuple(r[1] for r in db.execute(f"PRAGMA table_info({name})")) for name in names}
    db.close()
    store = await opened(postgres_url, None)
    await store.close()
    in_postgres: dict[str, list[str]] = {}
    for r in await pg_fetch(
        postgres_url,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name <> 'schema_version' AND column_name <> 'seq' ORDER BY table_name, ordinal_position",
    ):
        in_postgres.setdefault(r[0], []).append(r[1])
    assert {t: set(c) for t, c in in_sqlite.items()} == {t: set(c) for t, c in TABLES.items()}
    assert {t: set(c) for t, c in in_postgres.items()} == {t: set(c) for t, c in TABLES.items()}


async def test_batches_and_progress(tmp_path, postgres_url):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first, None)
    try:
        for n in range(250):
            await source.save_conversation(Conversation(f"telegram:{n}", "s", created_at=T0 + timedelta(seconds=n)))
            await source.save_render(RenderJob(f"render_{n:03d}", f"telegram:{n}", "s", created_at=T0))
        assert all(await asyncio.gather(*(source.claim_event(f"telegram:update:{n}") for n in range(1000))))
    finally:
        await source.close()
    seen: list[tuple[str, int]] = []
    report = await copy_store(first, postgres_url, batch=100, progress=lambda table, n: seen.append((table, n)))
    assert seen == [
        ("conversations", 100),
        ("conversations", 200),
        ("conversations", 250),
        ("render_jobs", 100),
        ("render_jobs", 200),
        ("render_jobs", 250),
        *(("processed_events", n) for n in range(100, 1001, 100)),
    ]
    assert report.counts["processed_events"] == 1000 and report.seconds > 0
    target = await opened(postgres_url, None)
    try:
        assert [c.key for c in await target.list_conversations()] == [f"telegram:{n}" for n in range(250)]
        assert [j.render_id for j in await target.list_renders()] == [f"render_{n:03d}" for n in range(250)]
    finally:
        await target.close()


async def test_refusals_before_anything_is_opened(tmp_path, postgres_url):
    missing = tmp_path / "nope.db"
    with pytest.raises(CopyError, match="does not exist"):
        await copy_store(sqlite_url(missing), postgres_url)
    assert not missing.exists()  # not created by the attempt
    (tmp_path / "a.db").touch()
    with pytest.raises(CopyError, match="same database"):
        await copy_store(sqlite_url(tmp_path / "a.db"), f"sqlite:///{tmp_path}/./a.db")
    with pytest.raises(CopyError, match="same database"):
        await copy_store(postgres_url, postgres_url)
    with pytest.raises(ValueError, match="unsupported DATABASE_URL scheme"):
        await copy_store(sqlite_url(tmp_path / "a.db"), "mysql://u:pw@h/db")


def test_describe_and_scrub_hide_credentials():
    url = "postgresql://nemobot:hunter2%40x@db.internal:5433/nemo?sslmode=require"
    assert describe(url) == "PostgreSQL nemo on db.internal:5433"
    assert describe("sqlite:////data/nemobot.db") == "SQLite /data/nemobot.db"
    text = scrub(f"cannot reach {url}; password hunter2@x, hunter2%40x", url)
    assert "hunter2" not in text and "nemobot:" not in text
    assert text == "cannot reach PostgreSQL nemo on db.internal:5433; password ***, ***"


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in it (the test server trusts local sockets: it is not checked)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname or ''}"))


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO", "DATABASE_URL"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "store", "copy", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_cli_copies_and_prints_counts_never_the_password(tmp_path, postgres_url):
    first = sqlite_url(tmp_path / "first.db")
    source = await opened(first)
    try:
        await populate(source)
    finally:
        await source.close()
    target = with_password(postgres_url, "pw-s3cr3t-value")
    done = await asyncio.to_thread(run_cli, first, target, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "pw-s3cr3t-value" not in out + done.stderr
    assert INSTALL_TOKEN not in out and "fernet:" not in out
    for table, count in (("identities", 3), ("conversations", 3), ("render_jobs", 3), ("processed_events", 3)):
        assert any(line.split() == [table, str(count)] for line in out.splitlines()), out
    assert "2 token(s) copied encrypted" in out and "same NEMOBOT_SECRET_KEY" in out
    assert out.startswith(f"copying SQLite {tmp_path / 'first.db'} into PostgreSQL postgres on /tmp/")

    again = await asyncio.to_thread(run_cli, first, target, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        "nemobot: store copy failed: the target database already holds data (identities, people, accounts,"
        " connect_codes, usage, flags, conversations, render_jobs, processed_events); copy into an empty database"
    ]
    assert "pw-s3cr3t-value" not in again.stdout + again.stderr


async def test_cli_failure_is_one_line_without_the_password(tmp_path):
    (tmp_path / "first.db").touch(mode=0o600)  # owner-only already: the store has nothing to warn about
    done = await asyncio.to_thread(
        run_cli,
        sqlite_url(tmp_path / "first.db"),
        "postgresql://nemobot:pw-s3cr3t-value@127.0.0.1:9/nemo",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("nemobot: store copy failed: ") and "pw-s3cr3t-value" not in done.stdout + done.stderr
    missing = await asyncio.to_thread(run_cli, sqlite_url(tmp_path / "gone.db"), "sqlite:///x.db", cwd=tmp_path)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip()
        == f"nemobot: store copy failed: the source database {tmp_path / 'gone.db'} does not exist"
    )
