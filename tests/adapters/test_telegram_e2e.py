"""End to end through the real PTB ``Application``, the fake Bot API and the emulator, on
the real fixtures."""

from __future__ import annotations

import contextlib
import io
import logging
import socket

import aiohttp
import av
import pytest
from PIL import Image, ImageChops, ImageStat

from adapters.telegram import TelegramAdapter
from bot.adapter import running
from bot.app import open_runtime
from tests.conftest import BIKES, BUNNY, fast_settings
from tests.fakes.telegram import FakeTelegram

LEADERBOARD = "add a ranked leaderboard overlay showing the top performers"
MB = 1024 * 1024


@pytest.fixture
async def tg(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg-files") as fake:
        yield fake


def tg_settings(emulator, tg, tmp_path, **overrides):
    values = {
        "telegram_token": tg.token,
        "telegram_api_url": tg.url,
        "telegram_album_wait_s": 0.3,
        "telegram_edit_interval_s": 0.05,
        "telegram_group_edit_interval_s": 0.05,
    }
    values.update(overrides)
    return fast_settings(emulator.url, tmp_path, **values)


@contextlib.asynccontextmanager
async def running_bot(emulator, tg, tmp_path, **overrides):
    settings = tg_settings(emulator, tg, tmp_path, **overrides)
    async with (
        open_runtime(settings, platform="telegram") as runtime,
        running(runtime, TelegramAdapter(runtime.engine, settings)) as adapter,
    ):
        yield adapter, runtime


def texts(tg, chat_id, thread_id=None):
    return [m.text or m.caption or "" for m in tg.bot_messages(chat_id, thread_id)]


async def wait_text(tg, chat_id, needle, *, thread_id=None, timeout=60.0):
    await tg.wait_until(lambda: any(needle in t for t in texts(tg, chat_id, thread_id)), timeout=timeout)


def video_size(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.name, v.codec_context.width, v.codec_context.height, c.duration / 1e6


def frame_difference(image, video, *, at_s):
    """Mean absolute difference (0-255) between ``image`` and the frame of ``video`` at ``at_s``, scaled alike."""
    with av.open(str(video)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= at_s)
        other = frame.to_image().convert("RGB").resize(image.size)
    diff = ImageChops.difference(image.convert("RGB"), other)
    return sum(ImageStat.Stat(diff).mean) / 3


async def test_dm_leaderboard_then_export_delivers_a_1080p_video(emulator, tg, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    chat = tg.private_chat()
    cid = chat["id"]
    async with running_bot(emulator, tg, tmp_path) as (_adapter, runtime):
        tg.user_text(chat, "/start")
        await wait_text(tg, cid, "Try saying")
        tg.user_media(chat, "video", tg.add_file(BUNNY, file_name="bigbuckbunny.mp4", mime_type="video/mp4"))
        await wait_text(tg, cid, "Added bigbuckbunny.mp4 (5.3 s, 1280x720)")
        emulator.config.step_delay_s = 0.3  # a run that lasts a few seconds: long enough for "typing..."
        tg.user_text(chat, LEADERBOARD)
        await wait_text(tg, cid, "leaderboard")
        await wait_text(tg, cid, "✅ Done in")
        await tg.wait_until(lambda: not runtime.engine.is_busy(f"telegram:{cid}"), timeout=30)
        tg.user_text(chat, "/export")
        await tg.wait_for_calls("sendVideo", timeout=90)
        await wait_text(tg, cid, "✅ Rendered in")

    [video_call] = tg.calls_of("sendVideo")
    assert video_call.ok
    p = video_call.params
    assert p["supports_streaming"] is True and p["duration"] == 5 and (p["width"], p["height"]) == (1920, 1080)
    assert p["caption"].startswith("✅ Video ready (1920x1080") and "workspace/claim?ct=" in p["caption"]
    [upload] = [u for u in tg.uploaded if u.field == "video"]
    codec, w, h, duration = video_size(upload.path)
    assert (codec, w, h) == ("h264", 1920, 1080) and abs(duration - 5.3) < 0.3
    # a poster frame from the rendered video went as the thumbnail, within Telegram's limits
    [message] = [m for m in tg.bot_messages(cid) if m.kind == "video"]
    assert message.thumbnail is not None and p["thumbnail"].startswith("attach://")
    thumb = message.thumbnail.read_bytes()
    assert thumb[:3] == b"\xff\xd8\xff" and len(thumb) < 200 * 1024
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG" and image.size == (320, 180)
        assert frame_difference(image, upload.path, at_s=1.0) < 8  # the render's own frame
        assert frame_difference(image, BIKES, at_s=1.0) > 20  # not just any picture

    # the answer carries the inline keyboard; the progress message was edited in place
    answer = next(m for m in tg.bot_messages(cid) if m.text and "leaderboard" in m.text.lower() and m.reply_markup)
    buttons = [b["callback_data"] for row in answer.reply_markup["inline_keyboard"] for b in row]
    assert [b.split(":")[1] for b in buttons] == ["export", "status", "credits", "new"]  # nb:<button>:<key>
    progress = next(m for m in tg.bot_messages(cid) if m.edits and (m.text or "").startswith("✅ Done in"))
    assert progress.edits[0].startswith(("🎬", "🔍", "✂️"))
    # typing while working, upload_video while exporting; both command menus registered
    actions = {c.params["action"] for c in tg.calls_of("sendChatAction")}
    assert {"typing", "upload_video"} <= actions
    assert set(tg.commands) == {None, "zh"} and tg.commands["zh"][0] == {
        "command": "export",
        "description": "渲染项目并发送 MP4",  # the one menu both platforms show (command.export)
    }
    menus = {key: [c["command"] for c in menu] for key, menu in tg.scoped_commands.items()}
    assert set(menus) == {
        (scope, lang) for scope in ("default", "all_private_chats", "all_group_chats") for lang in (None, "zh")
    }
    assert "connect" in menus[("all_private_chats", None)] and "logout" in menus[("all_private_chats", "zh")]
    assert "connect" not in menus[("all_group_chats", None)] and "export" in menus[("all_group_chats", "zh")]
    # the token never appears in what the bot sent or logged, nor did the Telegram file URL reach NemoVideo
    assert tg.token not in caplog.text and tg.token.split(":")[1] not in caplog.text
    assert all(tg.token not in (t or "") for t in texts(tg, cid))
    assert [u.source for u in emulator.state.uploads] == ["multipart"]


async def test_album_of_both_clips_is_one_upload_and_ranked(emulator, tg, tmp_path):
    chat = tg.private_chat(user_id=2002)
    cid = chat["id"]
    async with running_bot(emulator, tg, tmp_path) as (_adapter, runtime):
        tg.user_text(chat, "/skill video-leaderboard-ai")
        await wait_text(tg, cid, "Switched to AI clip ranking")
        bunny = tg.add_file(BUNNY, file_name="bigbuckbunny.mp4", mime_type="video/mp4")
        bikes = tg.add_file(BIKES, file_name="bikes.mp4", mime_type="video/mp4")
        tg.user_media(
            chat, "video", bunny, media_group_id="album1", caption="rank my clips by action and add a leaderboard"
        )
        tg.user_media(chat, "video", bikes, media_group_id="album1")
        await wait_text(tg, cid, "Added bigbuckbunny.mp4 (5.3 s, 1280x720), bikes.mp4 (10.0 s, 640x272)")
        await wait_text(tg, cid, "✅ Done in")
        await tg.wait_until(lambda: any("1. bikes.mp4" in t for t in texts(tg, cid)), timeout=30)
        conv = await runtime.store.get_conversation(f"telegram:{cid}")
    state_uploads = [u for u in emulator.state.uploads if u.session_id == conv.session_id]
    assert len(state_uploads) == 2
    assert len({u.request for u in state_uploads}) == 1  # both in one multipart call


async def test_group_topics_are_separate_conversations(emulator, tg, tmp_path):
    group = tg.group_chat(chat_id=-100555, forum=True)
    gid = group["id"]
    async with running_bot(emulator, tg, tmp_path) as (_adapter, runtime):
        tg.user_text(group, "just chatting among humans", thread_id=7)
        tg.user_media(
            group, "video", tg.add_file(BIKES, file_name="bikes.mp4"), caption=f"@{tg.bot_username}", thread_id=7
        )
        await wait_text(tg, gid, "Added bikes.mp4", thread_id=7)
        tg.user_text(group, f"/status@{tg.bot_username}", thread_id=9)
        await wait_text(tg, gid, "There is no project yet", thread_id=9)
        tg.user_text(group, f"@{tg.bot_username} add background music", thread_id=7)
        await wait_text(tg, gid, "✅ Done in", thread_id=7)
        user = tg.user()["id"]  # each person has their own project in each topic (GROUP_PROJECTS=per_user)
        a = await runtime.store.get_conversation(f"telegram:{gid}/7~{user}")
        b = await runtime.store.get_conversation(f"telegram:{gid}/9~{user}")
    assert a.session_id and b is not None and b.session_id is None
    assert all(m.thread_id in (7, 9) for m in tg.bot_messages(gid))
    assert not any("just chatting" in t for t in texts(tg, gid))
    assert sum(1 for m in tg.bot_messages(gid) if m.thread_id == 7 and "Added bikes.mp4" in (m.text or "")) == 1


async def test_25mb_document_is_refused_without_download(emulator, tg, tmp_path):
    chat = tg.private_chat(user_id=3003)
    async with running_bot(emulator, tg, tmp_path):
        big = tg.add_file(b"\0" * 1024, file_name="match.mp4", mime_type="video/mp4", size=25 * MB)
        tg.user_media(chat, "document", big)
        await wait_text(tg, chat["id"], "only lets bots download files up to 20 MB")
    text = next(t for t in texts(tg, chat["id"]) if "20 MB" in t)
    assert text.startswith("match.mp4 is 25 MB") and "Send a link to the video instead" in text
    assert not tg.calls_of("getFile") and not emulator.state.uploads


async def test_429_storm_during_progress_edits_loses_nothing(emulator, tg, tmp_path):
    chat = tg.private_chat(user_id=4004)
    cid = chat["id"]
    emulator.config.step_delay_s = 0.1
    async with running_bot(emulator, tg, tmp_path):
        tg.user_media(chat, "video", tg.add_file(BUNNY, file_name="bigbuckbunny.mp4"))
        await wait_text(tg, cid, "Added bigbuckbunny.mp4")
        tg.fail("editMessageText", times=4, retry_after=1)
        tg.fail("sendMessage", times=2, retry_after=1)
        tg.user_text(chat, LEADERBOARD)
        await wait_text(tg, cid, "✅ Done in", timeout=60)
        await tg.wait_until(lambda: any(m.reply_markup for m in tg.bot_messages(cid)), timeout=30)
    rejected = [c for c in tg.calls if c.status == 429]
    assert len(rejected) == 6  # the storm happened...
    final = [m for m in tg.bot_messages(cid) if (m.text or "").startswith("✅ Done in")]
    assert len(final) == 1  # ...and the progress message still ended as done, once
    assert any("leaderboard" in t.lower() for t in texts(tg, cid))


async def test_button_press_answers_the_callback_and_runs_the_command(emulator, tg, tmp_path):
    chat = tg.private_chat(user_id=5005)
    cid = chat["id"]
    async with running_bot(emulator, tg, tmp_path):
        tg.user_media(chat, "video", tg.add_file(BIKES, file_name="bikes.mp4"), caption="add background music")
        await tg.wait_until(lambda: any(m.reply_markup for m in tg.bot_messages(cid)), timeout=30)
        answer = next(m for m in tg.bot_messages(cid) if m.reply_markup)
        status = next(
            b["callback_data"]
            for row in answer.reply_markup["inline_keyboard"]
            for b in row
            if "status" in b["callback_data"]
        )
        tg.press_button(chat, answer.message_id, status)
        await wait_text(tg, cid, "📋 Timeline (2 tracks)")
    assert len(tg.callback_answers) == 1
    # /status is a photo of the timeline with the summary as its caption and the buttons under it
    [photo] = [m for m in tg.bot_messages(cid) if m.kind == "photo"]
    assert photo.caption.startswith("📋 Timeline (2 tracks)") and photo.upload.filename == "timeline.png"
    assert [b["callback_data"].split(":")[1] for row in photo.reply_markup["inline_keyboard"] for b in row] == [
        "export",
        "credits",
    ]
    with Image.open(photo.upload.path) as image:
        assert image.format == "PNG" and image.width == 1280 and photo.raw["photo"][0]["width"] == 1280


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_checks_the_secret(emulator, tg, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    chat = tg.private_chat(user_id=6006)
    async with running_bot(
        emulator,
        tg,
        tmp_path,
        telegram_webhook_url=url,
        telegram_webhook_secret="s3cret-Token_1-long-enough",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
    ):
        assert tg.webhook["url"] == url and tg.webhook["secret_token"] == "s3cret-Token_1-long-enough"
        update = {
            "update_id": 99,
            "message": {"message_id": 1, "date": 1, "chat": chat, "from": tg.user(6006), "text": "/credits"},
        }
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as resp:
                assert resp.status == 403
            async with http.post(url, json=update) as resp:
                assert resp.status == 403
            async with http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1-long-enough"}
            ) as resp:
                assert resp.status == 200
        await wait_text(tg, chat["id"], "💳 Credits: 100 available")
    assert len([t for t in texts(tg, chat["id"]) if t.startswith("💳")]) == 1


async def test_pasted_link_is_a_url_upload(emulator, tg, tmp_path):
    from aiohttp import web

    async def clip(request):
        return web.FileResponse(BIKES)

    app = web.Application()
    app.router.add_get("/media/bikes.mp4", clip)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    link = f"http://127.0.0.1:{runner.addresses[0][1]}/media/bikes.mp4"
    chat = tg.private_chat(user_id=7007)
    try:
        # a loopback link is refused unless the operator allows its host (docs/security.md)
        async with running_bot(emulator, tg, tmp_path, fetch_allowed_hosts="127.0.0.1"):
            tg.user_text(chat, link)
            await wait_text(tg, chat["id"], "Added bikes.mp4 (10.0 s, 640x272)")
    finally:
        await runner.cleanup()
    assert [(u.source, u.url) for u in emulator.state.uploads] == [("url", link)]


async def test_nemobot_run_starts_telegram_and_stops_on_sigterm(emulator, tg, tmp_path):
    import asyncio
    import os
    import signal
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "TELEGRAM_", "DISCORD_"))}
    env["HEALTH_PORT"] = "off"  # another nemobot on this machine may hold 8080
    env.update(
        NEMO_API_URL=emulator.url,
        TELEGRAM_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
        LOG_LEVEL="DEBUG",
        PYTHONWARNINGS="error,ignore:'audioop' is deprecated:DeprecationWarning",
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
        chat = tg.private_chat(user_id=8008)
        try:
            await tg.wait_until(lambda: tg.get_updates_calls > 0, timeout=30)
        except TimeoutError:
            if proc.returncode is None:
                proc.kill()
            raise AssertionError((await proc.communicate())[1].decode()[-3000:]) from None
        tg.user_text(chat, "/credits")
        await wait_text(tg, chat["id"], "💳 Credits: 100 available", timeout=30)
        proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = err.decode()
    assert proc.returncode == 0, log[-2000:]
    assert "Telegram long polling started as @nemo_test_bot" in log
    assert "Task was destroyed" not in log and "Traceback" not in log
    assert tg.token not in log and tg.token.split(":")[1] not in log


async def test_local_bot_api_lifts_the_download_limit(emulator, tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "local-files", local_mode=True) as tg:
        chat = tg.private_chat(user_id=9009)
        async with running_bot(emulator, tg, tmp_path, telegram_local_mode=True) as (adapter, _runtime):
            # Telegram claims 25 MB; a local server hands the bot the file's path on disk
            tg.user_media(chat, "video", tg.add_file(BUNNY, file_name="bigbuckbunny.mp4", size=25 * MB))
            await wait_text(tg, chat["id"], "Added bigbuckbunny.mp4 (5.3 s, 1280x720)")
            assert adapter._channel(chat["id"], None, "en").limits.max_upload_bytes == 2000 * MB
    assert not any("20 MB" in t for t in texts(tg, chat["id"]))


async def test_redelivered_updates_after_a_restart_are_handled_once(emulator, tg, tmp_path):
    chat = tg.private_chat(user_id=9119)
    settings = tg_settings(emulator, tg, tmp_path)
    async with open_runtime(settings, platform="telegram") as runtime:
        adapter = TelegramAdapter(runtime.engine, settings)
        await adapter.start()
        sent = [tg.user_text(chat, "/credits"), tg.user_text(chat, "/help")]
        await wait_text(tg, chat["id"], "Try saying")
        await wait_text(tg, chat["id"], "💳")  # both answered (the engine's tasks outlive the handlers)
        await adapter.stop()
        # the bot crashed before confirming the offset: Telegram hands the same updates out again
        adapter = TelegramAdapter(runtime.engine, settings)
        await adapter.start()
        tg.redeliver(sent)
        tg.user_text(chat, "/status")
        await wait_text(tg, chat["id"], "There is no project yet")
        await adapter.stop()
    assert len([t for t in texts(tg, chat["id"]) if t.startswith("💳")]) == 1
    assert len([t for t in texts(tg, chat["id"]) if "Try saying" in t]) == 1


async def test_webhook_retry_is_handled_once(emulator, tg, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/tg/hook"
    chat = tg.private_chat(user_id=9229)
    update = {
        "update_id": 4242,
        "message": {"message_id": 1, "date": 1, "chat": chat, "from": tg.user(9229), "text": "/credits"},
    }
    async with running_bot(
        emulator,
        tg,
        tmp_path,
        telegram_webhook_url=url,
        telegram_webhook_secret="s3cret-webhook-token-2",
        telegram_webhook_port=port,
    ):
        async with aiohttp.ClientSession() as http:
            for _ in range(3):  # Telegram retries when it did not see a 200 in time
                async with http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-webhook-token-2"}
                ) as resp:
                    assert resp.status == 200
        await wait_text(tg, chat["id"], "💳 Credits")
        tg.user_text(chat, "/help")  # a later update still goes through
        await tg.push_webhook()
        await wait_text(tg, chat["id"], "Try saying")
    assert len([t for t in texts(tg, chat["id"]) if t.startswith("💳")]) == 1


async def test_quick_commands_send_no_chat_action(emulator, tg, tmp_path):
    chat = tg.private_chat(user_id=7070)
    async with running_bot(emulator, tg, tmp_path):
        for text in ("/help", "/credits", "status", "hello?"):
            tg.user_text(chat, text)
        await wait_text(tg, chat["id"], "💳 Credits")
        await wait_text(tg, chat["id"], "What would you like")
    # quick answers are never preceded by "typing..." (it would take a rate-limiter slot first)
    actions = [c for c in tg.calls_of("sendChatAction") if c.params.get("chat_id") in (chat["id"], str(chat["id"]))]
    assert len(actions) <= 1  # only the agent's answer to "hello?" may take long enough for one
