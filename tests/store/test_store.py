"""One contract test class for every Store backend (design habit 7), plus SQLite specifics."""

from datetime import UTC, datetime, timedelta

import aiosqlite
import pytest

from store import Conversation, Identity, RenderJob, open_store
from store.sqlite import MIGRATIONS, SQLiteStore


@pytest.fixture(params=["sqlite-file", "sqlite-memory"])
async def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'nemobot.db'}" if request.param == "sqlite-file" else "sqlite:///:memory:"
    s = open_store(url)
    await s.open()
    yield s
    await s.close()


class TestStoreContract:
    async def test_schema_is_current(self, store):
        assert await store.schema_version() == len(MIGRATIONS)

    async def test_identity_roundtrip(self, store):
        assert await store.load_identity() is None
        exp = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        await store.save_identity(Identity("c1d2", "nmv_usr_x", "anon_1", exp))
        assert await store.load_identity() == Identity("c1d2", "nmv_usr_x", "anon_1", exp)
        await store.save_identity(Identity("c1d2", None, None, None))
        assert await store.load_identity() == Identity("c1d2")

    async def test_conversation_roundtrip_and_update(self, store):
        assert await store.get_conversation("telegram:1") is None
        conv = Conversation(key="telegram:1", skill="game-music", language="zh-CN", data={"draft": {"t": []}})
        await store.save_conversation(conv)
        got = await store.get_conversation("telegram:1")
        assert got == conv
        changed = got.with_changes(session_id="s1", task_id="t1")
        await store.save_conversation(changed)
        again = await store.get_conversation("telegram:1")
        assert (again.session_id, again.task_id, again.created_at) == ("s1", "t1", conv.created_at)
        assert again.updated_at >= conv.updated_at

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

    async def test_close_is_idempotent(self, store):
        await store.close()
        await store.close()


async def test_file_persists_and_uses_wal(tmp_path):
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


async def test_refuses_newer_schema(tmp_path):
    path = tmp_path / "future.db"
    async with aiosqlite.connect(path) as db:
        await db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        await db.commit()
    s = SQLiteStore(path)
    with pytest.raises(RuntimeError, match="newer"):
        await s.open()
    await s.close()


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unsupported"):
        open_store("mysql://x")


async def test_not_open_raises(tmp_path):
    with pytest.raises(RuntimeError, match="not open"):
        await SQLiteStore(tmp_path / "x.db").load_identity()
