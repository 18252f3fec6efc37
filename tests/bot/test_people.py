"""Many users, one bot (issue 9) at the engine: identities per person, access, quotas, /connect, /login."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from bot.app import open_runtime
from bot.boundary import Attachment, ConversationKey, IncomingMessage, Scope
from store.crypto import TokenCipher
from tests.conftest import BIKES, fast_settings
from tests.recording import RecordingChannel


def msg(
    platform: str,
    user: str,
    text: str = "",
    *files: Path,
    chat: str | None = None,
    scope: Scope = Scope.PRIVATE,
) -> IncomingMessage:
    attachments = tuple(
        Attachment(filename=f.name, size=f.stat().st_size, path=f, content_type="video/mp4") for f in files
    )
    return IncomingMessage(
        conversation=ConversationKey(platform=platform, chat_id=chat or user),
        sender=f"user{user}",
        sender_id=user,
        text=text,
        attachments=attachments,
        scope=scope,
        space_id=chat if scope is not Scope.PRIVATE else None,
    )


def client_of_session(emulator, session_id: str) -> str:
    return emulator.state.users[emulator.state.sessions[session_id].user_id].client_id


async def test_each_person_gets_their_own_identity(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path)
    async with open_runtime(settings) as rt:
        a, b = RecordingChannel(), RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", "", BIKES), a)
        await rt.engine.handle(msg("telegram", "22", "", BIKES), b)
        conv_a = await rt.store.get_conversation("telegram:11")
        conv_b = await rt.store.get_conversation("telegram:22")
    assert conv_a.session_id and conv_b.session_id
    ca, cb = client_of_session(emulator, conv_a.session_id), client_of_session(emulator, conv_b.session_id)
    assert ca != cb  # two X-Client-Ids, so two anonymous accounts with their own credits
    assert len({t.user_id for t in emulator.state.tokens.values()}) == 2


async def test_group_members_have_their_own_projects(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path)
    group = "-100500"
    async with open_runtime(settings) as rt:
        channel = RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", "", BIKES, chat=group, scope=Scope.GROUP), channel)
        await rt.engine.handle(msg("telegram", "22", "/status", chat=group, scope=Scope.GROUP), channel)
        assert channel.texts()[-1] == "There is no project yet. Send a clip to start one."
        await rt.engine.handle(msg("telegram", "22", "/new", chat=group, scope=Scope.GROUP), channel)
        conv_a = await rt.store.get_conversation(f"telegram:{group}~11")
    assert conv_a is not None and conv_a.session_id  # B's /new reset B's own (empty) project only


async def test_someone_not_allowed_gets_one_reply_and_costs_nothing(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path, telegram_allowed_user_ids="11")
    async with open_runtime(settings) as rt:
        channel = RecordingChannel()
        for text in ("hello", "add music", "/credits"):
            await rt.engine.handle(msg("telegram", "99", text), channel)
        assert await rt.store.count_people() == 0 and await rt.store.person_for("telegram:99") is None  # no row
    assert channel.texts() == ["This bot is private: you are not on its list of users. Ask the bot's admin to add you."]
    assert not emulator.state.tokens and not emulator.state.sessions  # not one NemoVideo call


async def test_daily_run_quota_refuses_with_the_reset_time(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path, quota_runs_per_day=1)
    async with open_runtime(settings) as rt:
        channel = RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", "add title 'One'", BIKES), channel)
        await rt.engine.handle(msg("telegram", "11", "add title 'Two'"), channel)
        conv = await rt.store.get_conversation("telegram:11")
    assert channel.texts()[-1].startswith("You've used today's 1 edit requests. The quota resets at 00:00 UTC, in ")
    assert emulator.state.runs_per_session[conv.session_id] == 1  # no /run_sse for the refused one


async def test_a_flood_queues_at_most_three_and_others_are_served(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path, rate_limit_per_minute=1000)
    async with open_runtime(settings) as rt:
        flooder, other = RecordingChannel(), RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", "", BIKES), flooder)
        emulator.config.step_delay_s = 0.2
        flood = [
            asyncio.create_task(rt.engine.handle(msg("telegram", "11", f"add title 'T{i}'"), flooder))
            for i in range(50)
        ]
        await asyncio.sleep(0.3)
        await rt.engine.handle(msg("telegram", "22", "/credits"), other)
        assert other.texts()[-1].startswith("💳 Credits:")  # served while the flood runs
        await asyncio.gather(*flood)
        conv = await rt.store.get_conversation("telegram:11")
    texts = flooder.texts()
    queued = [t for t in texts if t.startswith("⏳ I'm still on your previous request")]
    full = [t for t in texts if t.startswith("I'm still working on your earlier requests")]
    assert len(queued) == 3 and len(full) == 46
    assert emulator.state.runs_per_session[conv.session_id] == 4  # the first and the three queued


async def test_connect_joins_two_accounts_into_one_identity(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path)
    async with open_runtime(settings) as rt:
        tg, dc = RecordingChannel(), RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", "/connect"), tg)
        code = tg.texts()[-1].split("Your code is ")[1].split(" ")[0]
        await rt.engine.handle(msg("discord", "77", f"/connect {code}"), dc)
        assert dc.texts()[-1].startswith("✅ Accounts joined")
        await rt.engine.handle(msg("telegram", "11", "/credits"), tg)
        await rt.engine.handle(msg("discord", "77", "/credits"), dc)
        assert await rt.store.person_for("telegram:11") == await rt.store.person_for("discord:77")
        await rt.engine.handle(msg("discord", "77", f"/connect {code}"), dc)  # one time only
        assert dc.texts()[-1].startswith("That code is unknown or expired")
    assert len(emulator.state.users) == 1  # both platforms spent the same credits


async def test_login_stores_the_token_encrypted_and_logout_forgets_it(emulator, tmp_path):
    db = tmp_path / "nemobot.db"
    key = TokenCipher.generate_key()
    settings = fast_settings(emulator.url, tmp_path, nemobot_secret_key=key)
    personal = "nmv_usr_personal_secret_token_1234"
    async with open_runtime(settings) as rt:
        channel = RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", f"/login {personal}"), channel)
        assert channel.texts()[-1].startswith("✅ Done: your own NemoVideo account")
        person = await rt.store.person_for("telegram:11")
        ident = await rt.store.load_identity(person)
        assert ident is not None and ident.kind == "personal" and ident.token == personal
        await rt.engine.handle(msg("telegram", "11", "/logout"), channel)
        assert channel.texts()[-1].startswith("Done: I forgot your token")
        assert await rt.store.load_identity(person) is None
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("nemobot.db*"))
    assert personal.encode() not in raw
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


async def test_login_without_a_key_is_refused_plainly(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path)
    async with open_runtime(settings) as rt:
        channel = RecordingChannel()
        await rt.engine.handle(msg("telegram", "11", "/login nmv_usr_abc"), channel)
        await rt.engine.handle(msg("telegram", "11", "/login nmv_usr_abc", chat="-100", scope=Scope.GROUP), channel)
    assert channel.texts()[0].startswith("This bot can't store personal tokens safely yet")
    assert channel.events[-1][0] == "private" and "only in a private chat" in channel.events[-1][2]


@pytest.mark.parametrize("blocked", [True])
async def test_admin_blocks_and_sets_quotas(emulator, tmp_path, blocked):
    settings = fast_settings(emulator.url, tmp_path, admin_user_ids="telegram:1")
    async with open_runtime(settings) as rt:
        admin, user = RecordingChannel(), RecordingChannel()
        await rt.engine.handle(msg("telegram", "2", "/admin stats"), user)
        assert user.texts()[-1] == "Only the bot's admins can use /admin."
        await rt.engine.handle(msg("telegram", "1", "/admin block telegram:2"), admin)
        await rt.engine.handle(msg("telegram", "2", "hello"), user)
        assert user.texts()[-1].startswith("An admin has paused your access")
        await rt.engine.handle(msg("telegram", "1", "/admin unblock telegram:2"), admin)
        await rt.engine.handle(msg("telegram", "1", "/admin quota telegram:2 0"), admin)
        await rt.engine.handle(msg("telegram", "2", "add music"), user)
        assert user.texts()[-1].startswith("You've used today's 0 edit requests")
        await rt.engine.handle(msg("telegram", "1", "/admin stats"), admin)
    assert admin.texts()[-1].startswith("📊 Today: 2 people known")


async def test_runs_beyond_the_global_cap_wait_their_turn_and_are_told_their_place(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path, max_concurrent_runs=1)
    async with open_runtime(settings) as rt:
        channels = {user: RecordingChannel() for user in ("11", "22", "33")}
        for user, channel in channels.items():
            await rt.engine.handle(msg("telegram", user, "", BIKES), channel)
        emulator.config.step_delay_s = 0.2
        runs = [
            asyncio.create_task(rt.engine.handle(msg("telegram", user, "add title 'Hi'"), channel))
            for user, channel in channels.items()
        ]
        await asyncio.gather(*runs)
        assert rt.engine.slots.in_flight == 0
    places = [t for c in channels.values() for t in c.texts() if "in line" in t]
    assert sorted(p.split("number ")[1].split(" ")[0] for p in places) == ["1", "2"]
    assert all(any(t.startswith("✅ Done in") for t in c.texts()) for c in channels.values())


async def test_in_a_group_the_claim_link_and_credits_go_privately(emulator, tmp_path):
    settings = fast_settings(emulator.url, tmp_path)
    group = "-100600"
    async with open_runtime(settings) as rt:
        channel = RecordingChannel(keep_dir=tmp_path / "out")
        await rt.engine.handle(
            msg("telegram", "11", "add background music", BIKES, chat=group, scope=Scope.GROUP), channel
        )
        await rt.engine.handle(msg("telegram", "11", "/export", chat=group, scope=Scope.GROUP), channel)
        await rt.engine.handle(msg("telegram", "11", "/credits", chat=group, scope=Scope.GROUP), channel)
    public = [text for kind, _, text in channel.events if kind != "private"]
    private = [text for kind, _, text in channel.events if kind == "private"]
    assert len(channel.files) == 1
    assert not any("claim?ct=" in t or "💳" in t for t in public)
    assert any("claim?ct=" in t for t in private) and any(t.startswith("💳 Credits") for t in private)


async def test_a_connect_code_that_collides_with_another_persons_is_drawn_again(emulator, tmp_path, monkeypatch):
    import secrets as secrets_module

    async with open_runtime(fast_settings(emulator.url, tmp_path)) as runtime:
        identities = runtime.engine.identities
        ann, bob = await runtime.store.ensure_person("telegram:1"), await runtime.store.ensure_person("telegram:2")
        drawn = iter(["AAAA", "BBBB", "CCCC"] * 2 + ["DDDD", "EEEE", "FFFF"])
        monkeypatch.setattr(secrets_module, "token_hex", lambda n: next(drawn).lower())
        taken = await identities.connect_code(ann)  # AAAA-BBBB-CCCC is now ann's live code
        fresh = await identities.connect_code(bob)  # draws it too: refused by the store, drawn again
        assert (taken, fresh) == ("AAAA-BBBB-CCCC", "DDDD-EEEE-FFFF")
        assert await identities.connect("discord:9", fresh) == bob
        assert await identities.connect("discord:8", taken) == ann
