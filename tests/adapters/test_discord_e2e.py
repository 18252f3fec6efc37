"""End to end through the real discord.py ``Client``, the fake Discord and the emulator, on the
real fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import av
import discord
import pytest
from PIL import Image

from adapters.discord import DiscordAdapter
from adapters.discord.runner import apply_endpoints
from bot.adapter import running
from bot.app import open_runtime
from bot.profiles import get_profile
from tests.conftest import BIKES, BUNNY, fast_settings
from tests.fakes.discord import FakeDiscord

GUILD, CHANNEL, OTHER_CHANNEL = 700000000000000001, 700000000000000011, 700000000000000012
LEADERBOARD = "add a ranked leaderboard overlay showing the top performers"
TOKEN = "MTIz.fake-discord.token-for-tests"


@pytest.fixture
async def dc(tmp_path):
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord(files_dir=tmp_path / "dc-files") as fake:
        fake.add_guild(GUILD, channels=[CHANNEL, OTHER_CHANNEL])
        yield fake
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


def dc_settings(emulator, dc, tmp_path, **overrides):
    values = {
        "discord_token": TOKEN,
        "discord_api_url": dc.url,
        "discord_gateway_url": dc.ws_url,
        "discord_guild_ids": str(GUILD),
        "discord_edit_interval_s": 0.05,
    }
    values.update(overrides)
    return fast_settings(emulator.url, tmp_path, **values)


@contextlib.asynccontextmanager
async def running_bot(emulator, dc, tmp_path, runtime=None, **overrides):
    settings = dc_settings(emulator, dc, tmp_path, **overrides)
    async with contextlib.AsyncExitStack() as stack:
        if runtime is None:
            runtime = await stack.enter_async_context(open_runtime(settings, platform="discord"))
        apply_endpoints(settings)  # the dc fixture puts discord.py's endpoints back afterwards
        adapter = DiscordAdapter(runtime.engine, settings, guild_ready_timeout=0.05, ready_timeout_s=20)
        await stack.enter_async_context(running(runtime, adapter))
        yield adapter, runtime


def contents(dc, channel_id):
    return [m.get("content") or "" for m in dc.bot_messages(channel_id)]


async def wait_content(dc, channel_id, needle, timeout=60.0):
    await dc.wait_until(lambda: any(needle in c for c in contents(dc, channel_id)), timeout=timeout)


def video_info(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.name, v.codec_context.width, v.codec_context.height, c.duration / 1e6


def interaction_texts(dc, interaction_id):
    """Every text the bot wrote through an interaction: callbacks, follow-ups and edits."""
    out = []
    for r in dc.interaction_responses.get(interaction_id, []):
        data = r.get("data") or {}
        if isinstance(data, dict) and data.get("content"):
            out.append(data["content"])
    return out


async def start_thread_project(dc, clip=BUNNY, text=""):
    att = dc.add_attachment(clip, filename=clip.name)
    await dc.message_create(CHANNEL, text, attachments=[att], mentions_bot=True)
    await dc.wait_until(lambda: len(dc.threads) == 1, timeout=20)
    thread_id = int(dc.threads[0]["id"])
    await wait_content(dc, thread_id, f"Added {clip.name}")
    return thread_id


async def test_thread_flow_mention_clip_edit_export(emulator, dc, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with running_bot(emulator, dc, tmp_path) as (_adapter, runtime):
        first_call = len(dc.calls)
        thread_id = await start_thread_project(dc)
        await dc.message_create(thread_id, LEADERBOARD)
        await wait_content(dc, thread_id, "✅ Done in")
        await dc.wait_until(lambda: any(m.get("components") for m in dc.bot_messages(thread_id)), timeout=30)
        interaction = await dc.interaction_create(name="export", channel_id=thread_id)
        iid = int(interaction["id"])
        await dc.wait_until(lambda: any(u.filename.endswith(".mp4") for u in dc.uploaded), timeout=90)
        flow = [(c.method, c.path) for c in dc.calls[first_call:]]
        conv = await runtime.store.get_conversation(f"discord:{GUILD}/{CHANNEL}/{thread_id}")

    thread = dc.threads[0]
    assert int(thread["parent_id"]) == CHANNEL and thread["name"].startswith("🎬 ")
    callbacks = [r for r in dc.interaction_responses[iid] if r.get("kind") == "callback"]
    assert callbacks and callbacks[0]["type"] == 5  # deferred first
    texts = interaction_texts(dc, iid)
    assert any(t.startswith("🎞️ Rendering") for t in texts) and any(t.startswith("✅ Rendered in") for t in texts)
    [video] = [u for u in dc.uploaded if u.filename.endswith(".mp4")]
    assert video_info(video.path)[:3] == ("h264", 1920, 1080)
    assert abs(video_info(video.path)[3] - 5.3) < 0.3
    # the conversation is the thread; mentions are never pinged
    assert conv and conv.session_id
    assert all(m.get("allowed_mentions") == {"parse": []} for m in dc.bot_messages(thread_id))
    # buttons have the fixed custom ids
    answer = next(m for m in dc.bot_messages(thread_id) if m.get("components"))
    ids = [c["custom_id"] for row in answer["components"] for c in row["components"]]
    assert ids == ["nemobot:export", "nemobot:status", "nemobot:credits", "nemobot:new"]
    assert ("POST", f"/api/v10/channels/{CHANNEL}/messages/{thread['message_id']}/threads") in flow or any(
        p.endswith("/threads") for _, p in flow
    )
    assert TOKEN not in caplog.text


async def test_export_over_the_upload_limit_posts_a_link(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path):
        thread_id = await start_thread_project(dc, BIKES)
        await dc.message_create(thread_id, "add background music")
        await wait_content(dc, thread_id, "✅ Done in")
        interaction = await dc.interaction_create(name="export", channel_id=thread_id, attachment_size_limit=100_000)
        iid = int(interaction["id"])
        await dc.wait_until(lambda: any("too large to send here" in t for t in interaction_texts(dc, iid)), timeout=90)
        await dc.wait_until(lambda: any("workspace/claim?ct=" in t for t in interaction_texts(dc, iid)), timeout=30)
    assert not [u for u in dc.uploaded if u.filename.endswith(".mp4")]
    text = next(t for t in interaction_texts(dc, iid) if "too large" in t)
    assert f"{emulator.url}/renders/" in text and "workspace/claim?ct=" not in text
    # the link comes under a still of the video: the attached JPEG is the message's embed image
    [entry] = [r for r in dc.interaction_responses[iid] if "too large" in str((r.get("data") or {}).get("content"))]
    [still] = entry["files"]
    assert still.filename == "poster.jpg" and still.read_bytes()[:3] == b"\xff\xd8\xff"
    assert entry["data"]["embeds"][0]["image"]["url"] == "attachment://poster.jpg"
    assert entry["message"]["embeds"][0]["image"]["url"].endswith("poster.jpg")
    with Image.open(still.path) as image:
        assert image.format == "JPEG" and image.size == (1280, 720)  # the 1920x1080 render, scaled to 1280 px
    # the claim link hands the project over: in a thread others can read, it comes ephemerally
    claim = [r for r in dc.interaction_responses[iid] if "workspace/claim?ct=" in str(r.get("data"))]
    assert claim and all(int(r["data"].get("flags", 0)) & 64 for r in claim), dc.interaction_responses[iid]


async def test_edit_command_with_an_attachment_option(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path) as (_adapter, _runtime):
        att = dc.add_attachment(BIKES, filename="bikes.mp4")
        interaction = await dc.interaction_create(
            name="edit",
            channel_id=OTHER_CHANNEL,
            options=[
                {"name": "prompt", "type": 3, "value": "add background music"},
                {"name": "clip", "type": 11, "value": str(att["id"])},
            ],
            resolved_attachments=[att],
        )
        iid = int(interaction["id"])
        await dc.wait_until(lambda: any("✅ Done in" in t for t in interaction_texts(dc, iid)), timeout=60)
        await dc.wait_until(lambda: len(interaction_texts(dc, iid)) >= 3, timeout=30)
    texts = interaction_texts(dc, iid)
    assert any("Added bikes.mp4 (10.0 s, 640x272)" in t for t in texts)
    uploads = emulator.state.uploads
    assert [(u.source, u.url) for u in uploads] == [("url", att["url"])]  # the CDN URL, no bytes through the bot


async def test_edit_suggests_the_profiles_example_requests_as_you_type(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path) as (_adapter, runtime):
        typed = await dc.autocomplete(
            name="edit", channel_id=OTHER_CHANNEL, options=[{"name": "prompt", "type": 3, "value": "", "focused": True}]
        )
        await dc.wait_until(lambda: int(typed["id"]) in dc.autocomplete_results, timeout=20)
        narrowed = await dc.autocomplete(
            name="edit",
            channel_id=OTHER_CHANNEL,
            options=[{"name": "prompt", "type": 3, "value": "TITLE", "focused": True}],
        )
        await dc.wait_until(lambda: int(narrowed["id"]) in dc.autocomplete_results, timeout=20)
    examples = get_profile(runtime.settings.default_skill).examples
    offered = [c["value"] for c in dc.autocomplete_results[int(typed["id"])]]
    assert offered == list(examples)  # before anything is typed: every example, in order
    titles = [c["value"] for c in dc.autocomplete_results[int(narrowed["id"])]]
    assert titles and all("title" in t.lower() for t in titles) and len(titles) < len(examples)


async def test_button_press_after_a_restart(emulator, dc, tmp_path):
    settings = dc_settings(emulator, dc, tmp_path)
    async with open_runtime(settings, platform="discord") as runtime:
        async with running_bot(emulator, dc, tmp_path, runtime=runtime):
            thread_id = await start_thread_project(dc, BIKES, text="add background music")
            await dc.wait_until(lambda: any(m.get("components") for m in dc.bot_messages(thread_id)), timeout=60)
            answer = next(m for m in dc.bot_messages(thread_id) if m.get("components"))
        # a new client: the view registered at start handles the old message's buttons
        async with running_bot(emulator, dc, tmp_path, runtime=runtime):
            press = await dc.button_press(
                custom_id="nemobot:status", message_id=int(answer["id"]), channel_id=thread_id
            )
            pid = int(press["id"])
            await dc.wait_until(lambda: any("📋 Timeline" in t for t in interaction_texts(dc, pid)), timeout=30)
            [shown] = [
                r for r in dc.interaction_responses[pid] if "📋 Timeline" in str((r.get("data") or {}).get("content"))
            ]
            assert [f.filename for f in shown["files"]] == ["timeline.png"]  # the picture, as the embed image
            assert shown["data"]["embeds"][0]["image"]["url"] == "attachment://timeline.png"
            assert shown["data"]["components"]  # the quick actions stay under it
            stranger = dc.add_user(555000000000000555, "stranger")
            other = await dc.button_press(
                custom_id="nemobot:new", message_id=int(answer["id"]), channel_id=thread_id, user=stranger
            )
            oid = int(other["id"])
            await dc.wait_until(lambda: bool(dc.interaction_responses.get(oid)), timeout=10)
            await dc.wait_until(lambda: any("someone else's project" in t for t in interaction_texts(dc, oid)), 20)
            conv = (await runtime.store.list_conversations(prefix=f"discord:{GUILD}/{CHANNEL}/{thread_id}"))[0]
    refusal = next(r for r in dc.interaction_responses[oid] if "someone else's project" in str(r.get("data")))
    assert int(refusal["data"].get("flags", 0)) & 64  # ephemeral: only the stranger sees it
    assert conv.session_id  # the owner's project was not reset


async def test_direct_message(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path):
        msg = await dc.dm_message(600000000000000006, "credits")
        dm_channel = int(msg["channel_id"])
        await wait_content(dc, dm_channel, "💳 Credits: 100 available")


async def test_commands_synced_with_chinese_descriptions_and_intents(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path, discord_message_content=False):
        pass
    commands = {c["name"]: c for c in dc.synced_commands[GUILD]}
    assert set(commands) == {
        "edit",
        "export",
        "status",
        "credits",
        "new",
        "skill",
        "link",
        "cancel",
        "connect",
        "logout",
        "help",
        "login",
    }
    assert commands["export"]["description_localizations"]["zh-CN"] == "渲染项目并发送 MP4"
    choices = [c["value"] for c in commands["skill"]["options"][0]["choices"]]
    assert choices == [
        "video-leaderboard",
        "video-leaderboard-ai",
        "ai-video-editor-gaming",
        "what-is-video-clip-example",
        "game-music",
    ]
    assert not dc.identify["intents"] & (1 << 15)  # message content intent off as configured


async def test_slash_commands_work_without_message_content(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path, discord_message_content=False):
        interaction = await dc.interaction_create(name="credits", channel_id=OTHER_CHANNEL)
        iid = int(interaction["id"])
        await dc.wait_until(lambda: any("💳 Credits" in t for t in interaction_texts(dc, iid)), timeout=20)


async def test_run_outliving_the_interaction_token_continues_in_the_channel(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path):
        thread_id = await start_thread_project(dc, BUNNY)
        emulator.config.step_delay_s = 0.3
        interaction = await dc.interaction_create(
            name="edit", channel_id=thread_id, options=[{"name": "prompt", "type": 3, "value": LEADERBOARD}]
        )
        iid = int(interaction["id"])
        await dc.wait_until(lambda: any(t.startswith("🎬") for t in interaction_texts(dc, iid)), timeout=20)
        dc.expire_interaction_tokens(iid)  # 15 minutes have passed, as far as Discord is concerned
        await wait_content(dc, thread_id, "✅ Done in", timeout=60)
        await dc.wait_until(lambda: any(m.get("components") for m in dc.bot_messages(thread_id)[1:]), timeout=30)
    answer = [m for m in dc.bot_messages(thread_id) if m.get("components")][-1]
    assert "leaderboard" in answer["content"].lower()
    assert not any("Done in" in t for t in interaction_texts(dc, iid))


async def test_nemobot_run_starts_discord_and_telegram_together(emulator, dc, tmp_path):
    import asyncio
    import os
    import signal
    import sys

    from tests.fakes.telegram import FakeTelegram

    async with FakeTelegram(files_dir=tmp_path / "tg") as tg:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "TELEGRAM_", "DISCORD_"))}
        env["HEALTH_PORT"] = "off"  # another nemobot on this machine may hold 8080
        env.update(
            NEMO_API_URL=emulator.url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
            LOG_LEVEL="DEBUG",
            PYTHONWARNINGS="error,ignore:'audioop' is deprecated:DeprecationWarning",
            TELEGRAM_TOKEN=tg.token,
            TELEGRAM_API_URL=tg.url,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_URL=dc.url,
            DISCORD_GATEWAY_URL=dc.ws_url,
            DISCORD_GUILD_IDS=str(GUILD),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await dc.wait_ready(timeout=30)
            msg = await dc.dm_message(600000000000000006, "credits")
            await wait_content(dc, int(msg["channel_id"]), "💳 Credits: 100 available", timeout=30)
            chat = tg.private_chat(user_id=8118)
            tg.user_text(chat, "/credits")
            await tg.wait_until(
                lambda: any("💳 Credits" in (m.text or "") for m in tg.bot_messages(chat["id"])), timeout=30
            )
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = err.decode()
    assert proc.returncode == 0, log[-3000:]
    assert "has connected to Gateway" in log and "Telegram long polling started" in log, log
    assert "Traceback" not in log and "Task was destroyed" not in log and "Unclosed" not in log
    assert "WARNING" not in log and "ERROR" not in log
    assert TOKEN not in log and tg.token not in log


async def test_attachment_falls_back_to_a_streamed_upload(emulator, dc, tmp_path):
    from bot.nemo.errors import NemoBadRequest

    async with running_bot(emulator, dc, tmp_path) as (_adapter, _runtime):

        async def refuse_urls(*args, **kwargs):
            raise NemoBadRequest("cannot fetch that URL", status=200, code=4003)

        from bot.nemo.client import NemoClient

        original = NemoClient.upload_urls
        NemoClient.upload_urls = refuse_urls  # NemoVideo could not fetch the CDN URL (every identity)
        try:
            await start_thread_project(dc, BIKES)
        finally:
            NemoClient.upload_urls = original
    [upload] = emulator.state.uploads
    assert upload.source == "multipart" and upload.size == BIKES.stat().st_size


async def test_redelivered_discord_events_are_handled_once(emulator, dc, tmp_path):
    async with running_bot(emulator, dc, tmp_path):
        message = await dc.dm_message(600000000000000009, "credits")
        dm = int(message["channel_id"])
        await wait_content(dc, dm, "💳 Credits")
        await dc._dispatch("MESSAGE_CREATE", message)  # the gateway replays it (e.g. after a resume)
        interaction = await dc.interaction_create(name="help", channel_id=OTHER_CHANNEL)
        await dc.wait_until(lambda: any("Try saying" in t for t in interaction_texts(dc, int(interaction["id"]))), 20)
    assert len([c for c in contents(dc, dm) if c.startswith("💳")]) == 1


async def test_edit_cut_off_by_a_restart_is_reported_in_the_channel(emulator, dc, tmp_path, caplog):
    """The interaction's refs (original response, follow-ups) outlive the process in the run
    marker; after a restart a plain channel must report the cut-off run, not fail on them."""
    caplog.set_level(logging.INFO)
    settings = dc_settings(emulator, dc, tmp_path)
    async with running_bot(emulator, dc, tmp_path) as (_adapter, runtime):
        att = dc.add_attachment(BIKES, filename="bikes.mp4")
        emulator.config.step_delay_s = 0.5
        interaction = await dc.interaction_create(
            name="edit",
            channel_id=OTHER_CHANNEL,
            options=[
                {"name": "prompt", "type": 3, "value": "add title 'Cut Off'"},
                {"name": "clip", "type": 11, "value": str(att["id"])},
            ],
            resolved_attachments=[att],
        )
        iid = int(interaction["id"])
        conv = None
        for _ in range(300):
            found = await runtime.store.list_conversations(prefix=f"discord:{GUILD}/{OTHER_CHANNEL}")
            conv = found[0] if found else None  # the sender's own project in that channel
            if conv is not None and (conv.data.get("run") or {}).get("ref"):
                break  # the run is on, and its progress message (posted in the background) is in the marker
            await asyncio.sleep(0.05)
        assert conv is not None
        conv_key = conv.key
        assert conv is not None and conv.data["run"]["ref"].startswith(("orig:", "f:"))
    # the process stopped mid-run (a shutdown keeps the marker); NemoVideo finishes the edit on its own
    await emulator.state.idle()
    emulator.config.step_delay_s = 0.0
    async with open_runtime(settings, platform="discord") as runtime:
        async with running_bot(emulator, dc, tmp_path, runtime=runtime):
            await wait_content(dc, OTHER_CHANNEL, "I restarted while working on", timeout=30)
            await runtime.engine.wait_idle()
        conv = await runtime.store.get_conversation(conv_key)
    report = next(c for c in contents(dc, OTHER_CHANNEL) if c.startswith("I restarted while working on"))
    assert "\"add title 'Cut Off'\"" in report and 'Added title "Cut Off"' in report
    everything = contents(dc, OTHER_CHANNEL) + interaction_texts(dc, iid)
    assert not any("Something went wrong" in c for c in everything)
    assert "run" not in conv.data
    assert "invalid literal for int()" not in caplog.text and "Traceback" not in caplog.text
    assert sum(emulator.state.runs_per_session.values()) == 1  # never re-sent
