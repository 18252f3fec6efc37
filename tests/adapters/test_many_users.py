"""Many users, one bot (issue 9) end to end: the real PTB and discord.py clients, the fake
platform servers and the emulator. What each person saw, and which identity the emulator saw."""

from __future__ import annotations

import asyncio
import contextlib

import discord
import pytest

from adapters.discord import DiscordAdapter
from adapters.discord.runner import apply_endpoints
from adapters.telegram import TelegramAdapter
from bot.adapter import running
from bot.app import open_runtime
from tests.conftest import BIKES, BUNNY, fast_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram

GUILD, CHANNEL = 730000000000000001, 730000000000000011
OWNER, STRANGER = 730000000000000101, 730000000000000102


def tg_texts(tg, chat_id):
    return [m.text or m.caption or "" for m in tg.bot_messages(chat_id)]


def client_id_of_session(emulator, session_id: str) -> str:
    return emulator.state.users[emulator.state.sessions[session_id].user_id].client_id


@pytest.fixture
async def tg(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg") as fake:
        yield fake


@contextlib.asynccontextmanager
async def telegram_bot(emulator, tg, tmp_path, **overrides):
    values = {"telegram_token": tg.token, "telegram_api_url": tg.url, "telegram_edit_interval_s": 0.05}
    settings = fast_settings(emulator.url, tmp_path, **(values | overrides))
    async with (
        open_runtime(settings, platform="telegram") as runtime,
        running(runtime, TelegramAdapter(runtime.engine, settings)),
    ):
        yield runtime


async def test_two_people_in_a_telegram_group_have_their_own_projects_and_identities(emulator, tg, tmp_path):
    group = tg.group_chat(chat_id=-100777)
    gid = group["id"]
    ana, bo = tg.user(2001, "Ana"), tg.user(2002, "Bo")
    mention = f"@{tg.bot_username}"
    async with telegram_bot(emulator, tg, tmp_path) as runtime:
        tg.user_media(group, "video", tg.add_file(BUNNY, file_name="ana.mp4"), caption=mention, user=ana)
        await tg.wait_until(lambda: any("Added ana.mp4" in t for t in tg_texts(tg, gid)), timeout=60)
        tg.user_media(group, "video", tg.add_file(BIKES, file_name="bo.mp4"), caption=mention, user=bo)
        await tg.wait_until(lambda: any("Added bo.mp4" in t for t in tg_texts(tg, gid)), timeout=60)
        tg.user_text(group, f"{mention} add background music", user=ana)
        await tg.wait_until(lambda: any(m.reply_markup for m in tg.bot_messages(gid)), timeout=60)
        # Bo looks at "the" project: he sees his own clip, never Ana's
        tg.user_text(group, f"/status@{tg.bot_username}", user=bo)
        await tg.wait_until(lambda: any(t.startswith("📋") for t in tg_texts(tg, gid)), timeout=30)
        status = next(t for t in tg_texts(tg, gid) if t.startswith("📋"))
        # Bo presses "New" under Ana's answer, then forges a callback: nothing happens
        answer = next(m for m in tg.bot_messages(gid) if m.reply_markup)
        new = next(
            b["callback_data"]
            for row in answer.reply_markup["inline_keyboard"]
            for b in row
            if ":new:" in b["callback_data"]
        )
        tg.press_button(group, answer.message_id, new, user=bo)
        tg.press_button(group, answer.message_id, "nb:new:000000000000", user=bo)
        await tg.wait_until(lambda: len(tg.callback_answers) >= 2, timeout=20)
        conv_a = await runtime.store.get_conversation(f"telegram:{gid}~2001")
        conv_b = await runtime.store.get_conversation(f"telegram:{gid}~2002")
    assert "bo.mp4" in status and "ana.mp4" not in status
    assert conv_a.session_id and conv_b.session_id and conv_a.session_id != conv_b.session_id
    assert not any(t.startswith("🆕 Started a new project") for t in tg_texts(tg, gid))
    assert all(a.get("show_alert") for a in tg.callback_answers[-2:])  # each refused press got a private alert
    # two people, two NemoVideo identities: two X-Client-Ids, two anonymous users
    client_a = client_id_of_session(emulator, conv_a.session_id)
    client_b = client_id_of_session(emulator, conv_b.session_id)
    assert client_a != client_b
    print(f"Ana's calls as client {client_a[:8]}..., Bo's as {client_b[:8]}...; Bo's /status showed: {status!r}")


async def test_telegram_user_outside_the_allowlist_gets_one_reply_and_no_backend_call(emulator, tg, tmp_path):
    stranger = tg.private_chat(user_id=3003)
    async with telegram_bot(emulator, tg, tmp_path, telegram_allowed_user_ids="1"):
        tg.user_text(stranger, "/credits")
        tg.user_text(stranger, "add a leaderboard")
        tg.user_media(stranger, "video", tg.add_file(BIKES, file_name="b.mp4"))
        await tg.wait_until(lambda: bool(tg_texts(tg, stranger["id"])) and not tg.pending_updates, timeout=30)
        await asyncio.sleep(0.5)  # a second refusal would arrive now
    assert tg_texts(tg, stranger["id"]) == [
        "This bot is private: you are not on its list of users. Ask the bot's admin to add you."
    ]
    assert not emulator.state.tokens and not emulator.state.sessions and not emulator.state.uploads


@pytest.fixture
async def dc(tmp_path):
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord(files_dir=tmp_path / "dc") as fake:
        fake.add_guild(GUILD, channels=[CHANNEL])
        yield fake
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def interaction_texts(dc, interaction_id):
    return [
        (r.get("data") or {}).get("content")
        for r in dc.interaction_responses.get(interaction_id, [])
        if isinstance(r.get("data"), dict) and (r.get("data") or {}).get("content")
    ]


async def test_a_stranger_cannot_touch_someone_elses_discord_project_thread(emulator, dc, tmp_path):
    settings = fast_settings(
        emulator.url,
        tmp_path,
        discord_token="MTIz.many-users.token",
        discord_api_url=dc.url,
        discord_gateway_url=dc.ws_url,
        discord_guild_ids=str(GUILD),
        discord_edit_interval_s=0.05,
    )
    apply_endpoints(settings)
    owner, stranger = dc.add_user(OWNER, "owner"), dc.add_user(STRANGER, "stranger")
    async with open_runtime(settings, platform="discord") as runtime:
        adapter = DiscordAdapter(runtime.engine, settings, guild_ready_timeout=0.05, ready_timeout_s=20)
        async with running(runtime, adapter):
            att = dc.add_attachment(BIKES, filename="bikes.mp4")
            await dc.message_create(CHANNEL, "add background music", attachments=[att], mentions_bot=True, author=owner)
            await dc.wait_until(lambda: len(dc.threads) == 1, timeout=20)
            thread = int(dc.threads[0]["id"])
            await dc.wait_until(lambda: any(m.get("components") for m in dc.bot_messages(thread)), timeout=60)
            [conv] = await runtime.store.list_conversations(prefix=f"discord:{GUILD}/{CHANNEL}/{thread}")
            before = conv.session_id
            refused = []
            for name in ("status", "new", "export"):
                inter = await dc.interaction_create(name=name, channel_id=thread, user=stranger)
                refused.append(int(inter["id"]))
            answer = next(m for m in dc.bot_messages(thread) if m.get("components"))
            press = await dc.button_press(
                custom_id="nemobot:new", message_id=int(answer["id"]), channel_id=thread, user=stranger
            )
            refused.append(int(press["id"]))
            await dc.message_create(thread, "remove the music", author=stranger)
            for iid in refused:
                await dc.wait_until(
                    lambda iid=iid: any("someone else's project" in t for t in interaction_texts(dc, iid)), 20
                )
            await dc.wait_until(
                lambda: sum("someone else's project" in (m.get("content") or "") for m in dc.bot_messages(thread)) >= 1,
                20,
            )
            [after] = await runtime.store.list_conversations(prefix=f"discord:{GUILD}/{CHANNEL}/{thread}")
    for iid in refused:
        notes = [r for r in dc.interaction_responses[iid] if "someone else's project" in str(r.get("data"))]
        assert notes and all(int(r["data"].get("flags", 0)) & 64 for r in notes)  # ephemeral
        assert not any(t.startswith(("📋", "🆕", "🎞️")) for t in interaction_texts(dc, iid))
    assert after.session_id == before and after.owner == conv.owner  # the owner's project is untouched
    assert sum(emulator.state.runs_per_session.values()) == 1  # the stranger's edit never reached NemoVideo
    assert not emulator.state.renders


async def test_discord_login_modal_then_connect_with_telegram(emulator, dc, tg, tmp_path):
    """/login on Discord goes through a modal and is answered ephemerally; /connect joins the
    Discord account to a Telegram one: both then act under one NemoVideo identity."""
    from store.crypto import TokenCipher

    settings = fast_settings(
        emulator.url,
        tmp_path,
        nemobot_secret_key=TokenCipher.generate_key(),
        discord_token="MTIz.many-users.token",
        discord_api_url=dc.url,
        discord_gateway_url=dc.ws_url,
        discord_guild_ids=str(GUILD),
        telegram_token=tg.token,
        telegram_api_url=tg.url,
    )
    apply_endpoints(settings)
    user = dc.add_user(OWNER, "owner")
    chat = tg.private_chat(user_id=4004)
    async with open_runtime(settings, platform="discord") as runtime:
        adapter = DiscordAdapter(runtime.engine, settings, guild_ready_timeout=0.05, ready_timeout_s=20)
        async with running(runtime, adapter), running(runtime, TelegramAdapter(runtime.engine, settings)):
            opened = await dc.interaction_create(name="login", channel_id=CHANNEL, user=user)
            await dc.wait_until(lambda: int(opened["id"]) in dc.modals, 20)
            modal = dc.modals[int(opened["id"])]
            submitted = await dc.modal_submit(
                custom_id=modal["custom_id"],
                values={"nemobot:login:token": "nmv_usr_discord_personal"},
                channel_id=CHANNEL,
                user=user,
            )
            sid = int(submitted["id"])
            await dc.wait_until(lambda: any("your own NemoVideo account" in t for t in interaction_texts(dc, sid)), 20)
            # a code from Telegram, redeemed on Discord
            tg.user_text(chat, "/connect")
            await tg.wait_until(lambda: any("Your code is" in t for t in tg_texts(tg, chat["id"])), 20)
            code = (
                next(t for t in tg_texts(tg, chat["id"]) if "Your code is" in t).split("Your code is ")[1].split(" ")[0]
            )
            joined = await dc.interaction_create(
                name="connect", channel_id=CHANNEL, user=user, options=[{"name": "code", "type": 3, "value": code}]
            )
            jid = int(joined["id"])
            await dc.wait_until(lambda: any("Accounts joined" in t for t in interaction_texts(dc, jid)), 20)
            same = await runtime.store.person_for(f"discord:{OWNER}") == await runtime.store.person_for("telegram:4004")
    assert same
    answers = [r for r in dc.interaction_responses[sid] if "your own NemoVideo account" in str(r.get("data"))]
    assert answers and all(int((r.get("message") or {}).get("flags", 0)) & 64 for r in answers)  # ephemeral
    assert not any("nmv_usr_discord_personal" in (m.get("content") or "") for m in dc.bot_messages(CHANNEL))
    notes = [r for r in dc.interaction_responses[jid] if "Accounts joined" in str(r.get("data"))]
    assert all(int(r["data"].get("flags", 0)) & 64 for r in notes)  # the join is told privately
