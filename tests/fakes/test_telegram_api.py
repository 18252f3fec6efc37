"""The fake Telegram Bot API, driven by real python-telegram-bot objects."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
import telegram
from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from tests.fakes.telegram import MB, FakeTelegram

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BIKES = FIXTURES / "bikes.mp4"


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (PTBDeprecationWarning) whenever a duration attribute such as
    # RetryAfter.retry_after or Video.duration is read as int; filterwarnings=error would turn
    # that into an error inside PTB's own RetryAfter constructor. Opt in to timedeltas.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg(tmp_path: Path):
    async with FakeTelegram(files_dir=tmp_path / "tg") as fake:
        yield fake


def make_bot(fake: FakeTelegram, token: str | None = None, **kwargs: object) -> telegram.Bot:
    return telegram.Bot(token or fake.token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot", **kwargs)


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Render", callback_data="render:1")]])


async def test_send_and_edit_message(tg: FakeTelegram) -> None:
    chat = tg.group_chat(forum=True)
    async with make_bot(tg) as bot:
        assert bot.username == tg.bot_username
        sent = await bot.send_message(chat["id"], "Working…", reply_markup=KEYBOARD, message_thread_id=7)
        assert sent.message_id == 1 and sent.from_user.id == tg.bot_id and sent.is_topic_message
        assert sent.reply_markup == KEYBOARD

        call = tg.calls_of("sendMessage")[0]
        assert call.params["chat_id"] == chat["id"] and call.params["message_thread_id"] == 7
        assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "Render", "callback_data": "render:1"}]]}

        edited = await bot.edit_message_text("Done", chat_id=chat["id"], message_id=sent.message_id)
        assert edited.text == "Done" and edited.reply_markup is None
        with pytest.raises(BadRequest, match=r"(?i)not modified"):
            await bot.edit_message_text("Done", chat_id=chat["id"], message_id=sent.message_id)
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=chat["id"], message_id=99)
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(chat["id"], "x" * 4097)
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(chat["id"], "  ")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(424242, "hi")
        with pytest.raises(BadRequest, match=r"(?i)does not emulate parse_mode"):
            await bot.send_message(chat["id"], "<b>bold</b>", parse_mode="HTML")
        long_msg = await bot.send_message(chat["id"], "x" * 4096)
        assert len(long_msg.text) == 4096
        await bot.send_chat_action(chat["id"], "upload_video", message_thread_id=7)
        with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
            await bot.send_chat_action(chat["id"], "dancing")

    (first, second) = tg.bot_messages(chat["id"])
    assert (first.text, first.edits, first.reply_markup, first.thread_id) == ("Done", ["Done"], None, 7)
    assert second.text == "x" * 4096
    assert tg.bot_messages(chat["id"], thread_id=7) == [first]
    assert [c.params["action"] for c in tg.calls_of("sendChatAction") if c.ok] == ["upload_video"]
    assert [c.status for c in tg.calls_of("editMessageText")] == [200, 400, 400]


async def test_send_video_uploads_the_real_file(tg: FakeTelegram) -> None:
    chat = tg.private_chat()
    async with make_bot(tg) as bot:
        with BIKES.open("rb") as fh:
            sent = await bot.send_video(
                chat["id"],
                fh,
                caption="Your clip",
                supports_streaming=True,
                duration=10,
                width=640,
                height=272,
                reply_markup=KEYBOARD,
                filename="bikes.mp4",
            )
        assert sent.video.width == 640 and sent.video.file_size == BIKES.stat().st_size
        assert sent.caption == "Your clip" and sent.video.mime_type == "video/mp4"

        # The uploaded video can be fetched back by its file_id.
        file = await bot.get_file(sent.video.file_id)
        assert bytes(await file.download_as_bytearray()) == BIKES.read_bytes()

        with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
            await bot.send_video(chat["id"], b"data", caption="c" * 1025, filename="a.mp4")
        small = await bot.send_video(chat["id"], BIKES.read_bytes()[:1000], filename="part.mp4")
        assert small.video.file_name == "part.mp4" and small.video.file_size == 1000

    (call, small_call) = [c for c in tg.calls_of("sendVideo") if c.ok]
    assert call.params["supports_streaming"] is True and call.params["duration"] == 10
    assert call.params["caption"] == "Your clip" and call.params["reply_markup"]["inline_keyboard"]
    assert call.files["video"].read_bytes() == BIKES.read_bytes()
    assert [u.filename for u in tg.uploaded] == ["bikes.mp4", "part.mp4"]
    assert tg.uploaded[0].path.is_relative_to(tg.files_dir) and tg.uploaded[0].size == BIKES.stat().st_size
    video_msg, small_msg = tg.bot_messages(chat["id"])
    assert (video_msg.kind, video_msg.caption, video_msg.file) == ("video", "Your clip", tg.uploaded[0].path)
    assert small_msg.upload is not None and small_call.files["video"].size == small_msg.upload.size == 1000


async def test_upload_over_50_mb_is_rejected(tg: FakeTelegram) -> None:
    chat = tg.private_chat()
    async with make_bot(tg) as bot:
        with pytest.raises(NetworkError, match=r"(?i)Request Entity Too Large"):
            await bot.send_video(chat["id"], b"\0" * (50 * MB + 1), filename="big.mp4", write_timeout=30)
        ok = await bot.send_video(chat["id"], b"\0" * 10, filename="small.mp4")
    assert ok.video.file_size == 10
    assert [u.filename for u in tg.uploaded] == ["small.mp4"]
    assert not list((tg.files_dir / "uploads").glob("*big.mp4"))


async def test_get_file_and_download(tg: FakeTelegram) -> None:
    chat = tg.private_chat()
    small = tg.add_file(b"tiny clip bytes", file_name="clip.mp4")
    big = tg.add_file(b"pretend", file_name="huge.mp4", size=25 * MB)
    update = tg.user_media(chat, "video", small, caption="edit this")
    async with make_bot(tg) as bot:
        message = Update.de_json(update, bot).message
        assert message.video.file_name == "clip.mp4" and message.caption == "edit this"
        file = await message.video.get_file()
        assert file.file_path == f"{tg.url}/file/bot{tg.token}/{small['file_path']}"
        buf = bytearray(await file.download_as_bytearray())
        assert buf == b"tiny clip bytes"

        with pytest.raises(BadRequest, match=r"(?i)file is too big"):
            await bot.get_file(big["file_id"])
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{tg.url}/file/bot{tg.token}/videos/missing.mp4") as resp:
            assert resp.status == 404
        async with session.get(f"{tg.url}/file/botWRONG/{small['file_path']}") as resp:
            assert resp.status == 401


async def test_download_to_memory(tg: FakeTelegram) -> None:
    import io

    tg.private_chat()
    small = tg.add_file(b"0123456789" * 100, file_name="a.mp4")
    async with make_bot(tg) as bot:
        file = await bot.get_file(small["file_id"])
        out = io.BytesIO()
        await file.download_to_memory(out)
    assert out.getvalue() == b"0123456789" * 100


async def test_local_mode(tmp_path: Path) -> None:
    async with FakeTelegram(local_mode=True, files_dir=tmp_path) as tg:
        chat = tg.private_chat()
        big = tg.add_file(b"local bytes", file_name="huge.mp4", size=25 * MB)
        async with make_bot(tg, local_mode=True) as bot:
            file = await bot.get_file(big["file_id"])
            assert Path(file.file_path).is_absolute() and file.file_size == 25 * MB
            assert bytes(await file.download_as_bytearray()) == b"local bytes"  # read from disk by PTB
            sent = await bot.send_video(chat["id"], BIKES, supports_streaming=True)  # sent as file:// URI
        assert tg.calls_of("sendVideo")[0].params["video"] == BIKES.as_uri()
        assert tg.uploaded[0].path == BIKES and sent.video.file_size == BIKES.stat().st_size


async def test_fail_switch_raises_retry_after(tg: FakeTelegram) -> None:
    chat = tg.private_chat()
    tg.fail("sendMessage", retry_after=7)
    tg.fail("editMessageText", status=500, times=2)
    async with make_bot(tg) as bot:
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(chat["id"], "hi")
        assert info.value.retry_after.total_seconds() == 7
        sent = await bot.send_message(chat["id"], "hi")
        for _ in range(2):
            with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
                await bot.edit_message_text("ho", chat_id=chat["id"], message_id=sent.message_id)
        await bot.edit_message_text("ho", chat_id=chat["id"], message_id=sent.message_id)
    assert tg.calls_of("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert [c.ok for c in tg.calls_of("sendMessage")] == [False, True]
    assert tg.bot_messages(chat["id"])[0].edits == ["ho"]


async def test_commands_callbacks_and_errors(tg: FakeTelegram) -> None:
    chat = tg.private_chat(language_code="de")
    async with make_bot(tg) as bot:
        assert await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
        assert await bot.set_my_commands([BotCommand("start", "Los geht's")], language_code="de")
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])

        sent = await bot.send_message(chat["id"], "Pick", reply_markup=KEYBOARD)
        update = tg.press_button(chat, sent.message_id, "render:1")
        query = Update.de_json(update, bot).callback_query
        assert query.data == "render:1" and query.message.message_id == sent.message_id
        assert query.message.reply_markup == KEYBOARD and query.from_user.language_code == "de"
        assert await bot.answer_callback_query(query.id, text="Rendering…")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query.id)

        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")
    assert tg.commands == {
        None: [{"command": "start", "description": "Start"}, {"command": "help", "description": "Help"}],
        "de": [{"command": "start", "description": "Los geht's"}],
    }
    assert tg.callback_answers[0]["text"] == "Rendering…"

    with pytest.raises(InvalidToken):
        async with make_bot(tg, token="999:wrong"):
            pass


async def test_injected_updates_have_valid_shapes(tg: FakeTelegram) -> None:
    dm = tg.private_chat()
    group = tg.group_chat(forum=True)
    bob = tg.user(2002, "Bob", language_code=None)
    updates = [
        tg.user_text(dm, "/start@nemo_test_bot hello"),
        tg.user_text(group, "🎬 hey @nemo_test_bot cut", user=bob, thread_id=5),  # UTF-16 offsets
    ]
    async with make_bot(tg) as bot:
        sent = await bot.send_message(group["id"], "Which one?", message_thread_id=5)
        updates.append(tg.user_text(group, "the second", reply_to_bot_message_id=sent.message_id, thread_id=5))
        file = tg.add_file(BIKES)
        for kind in ("video", "document", "animation", "video_note", "audio", "photo", "voice"):
            updates.append(tg.user_media(dm, kind, file, media_group_id="g1" if kind == "photo" else None))

        parsed = [Update.de_json(u, bot) for u in updates]
        ids = [u.update_id for u in parsed]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

        start, mention, reply = (p.message for p in parsed[:3])
        assert start.parse_entities([MessageEntity.BOT_COMMAND]) == {start.entities[0]: "/start@nemo_test_bot"}
        assert list(mention.parse_entities([MessageEntity.MENTION]).values()) == ["@nemo_test_bot"]
        assert mention.from_user.first_name == "Bob" and mention.message_thread_id == 5 and mention.is_topic_message
        assert reply.reply_to_message.from_user.is_bot and reply.reply_to_message.text == "Which one?"
        # user and bot messages share the per-chat counter
        assert [mention.message_id, sent.message_id, reply.message_id] == [1, 2, 3]

        media = [p.message for p in parsed[3:]]
        assert media[0].video.duration.total_seconds() == 5 and media[0].video.file_size == BIKES.stat().st_size
        assert media[2].animation and media[2].document  # Telegram sets both
        assert media[3].video_note.length == 720
        assert len(media[5].photo) == 2 and media[5].photo[-1].width == 1280 and media[5].media_group_id == "g1"
        assert media[6].voice.mime_type == "video/mp4"
        for message in media:
            assert message.effective_attachment
        photo_file = await media[5].photo[0].get_file()
        assert bytes(await photo_file.download_as_bytearray()) == BIKES.read_bytes()


async def test_application_polls_replies_and_sees_redeliveries(tg: FakeTelegram) -> None:
    chat = tg.private_chat()
    seen: list[int] = []

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)
        await update.effective_message.reply_text(
            f"echo: {update.effective_message.text}", reply_markup=KEYBOARD, do_quote=True
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("ok")
        await update.callback_query.edit_message_text("pressed")

    app = Application.builder().token(tg.token).base_url(f"{tg.url}/bot").base_file_url(f"{tg.url}/file/bot").build()
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    app.add_handler(CallbackQueryHandler(on_button))
    first = tg.user_text(chat, "hello")  # queued before the bot starts: still delivered
    await app.initialize()
    await app.updater.start_polling(poll_interval=0)
    await app.start()
    try:
        await tg.wait_for_calls("sendMessage", 1)
        second = tg.user_text(chat, "again")
        await tg.wait_for_calls("sendMessage", 2)
        tg.redeliver([first])
        await tg.wait_for_calls("sendMessage", 3)
        reply = tg.bot_messages(chat["id"])[0]
        tg.press_button(chat, reply.message_id, "render:1")
        await tg.wait_for_calls("editMessageText", 1)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert seen == [first["update_id"], second["update_id"], first["update_id"]]
    assert [m.text for m in tg.bot_messages(chat["id"])] == ["pressed", "echo: again", "echo: hello"]
    assert tg.calls_of("sendMessage")[0].params["reply_parameters"]["message_id"] == first["message"]["message_id"]
    assert tg.callback_answers[0]["text"] == "ok"
    assert tg.pending_updates == [] and tg.confirmed_offset > second["update_id"]
    assert [c.method for c in tg.calls[:2]] == ["getMe", "deleteWebhook"]


async def test_long_poll_waits_and_wakes(tg: FakeTelegram) -> None:
    tg.max_poll_wait = 5.0
    chat = tg.private_chat()
    async with make_bot(tg) as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        asyncio.get_running_loop().call_later(0.2, tg.user_text, chat, "late")
        updates = await bot.get_updates(timeout=10)
        assert [u.message.text for u in updates] == ["late"] and loop.time() - started < 2
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()

        poll = asyncio.create_task(bot.get_updates(timeout=10))
        await asyncio.sleep(0.1)
        # A second bot instance polling terminates the first one's request, as Telegram does.
        async with make_bot(tg) as other:
            assert await other.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
            await poll


async def test_webhook_mode(tg: FakeTelegram) -> None:
    received: list[tuple[dict, str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        chat = tg.private_chat()
        async with make_bot(tg) as bot:
            assert await bot.set_webhook(url, secret_token="s3cret", allowed_updates=["message"])
            assert tg.webhook["url"] == url and tg.webhook["allowed_updates"] == ["message"]
            with pytest.raises(Conflict, match=r"(?i)webhook is active"):
                await bot.get_updates()
            update = tg.user_text(chat, "via webhook")
            assert await tg.push_webhook() == [200]
            assert received == [(update, "s3cret")] and tg.pending_updates == []
            assert await bot.delete_webhook()
        assert tg.webhook is None
    finally:
        await runner.cleanup()


async def test_raw_form_bodies_and_http_errors(tg: FakeTelegram) -> None:
    chat = tg.private_chat()
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as session:
        form = {"chat_id": str(chat["id"]), "text": "123", "reply_markup": json.dumps(markup)}
        async with session.post(f"{tg.url}/bot{tg.token}/SENDMESSAGE", data=form) as resp:
            assert resp.status == 200 and resp.headers["Content-Type"] == "application/json"
            result = (await resp.json())["result"]
            assert result["text"] == "123" and result["reply_markup"] == markup
        async with session.post(f"{tg.url}/bot{tg.token}/sendVideo", data={"chat_id": str(chat["id"])}) as resp:
            assert (
                resp.status == 400
                and (await resp.json())["description"] == "Bad Request: there is no video in the request"
            )
        for method in ("fooBar", "sendDocument", "deleteMessage"):  # methods nemobot never calls
            async with session.post(f"{tg.url}/bot{tg.token}/{method}") as resp:
                assert resp.status == 404
                assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with session.post(f"{tg.url}/bot1:nope/getMe") as resp:
            assert resp.status == 401 and (await resp.json())["description"] == "Unauthorized"
    (call,) = tg.calls_of("sendMessage")
    assert call.method == "sendMessage" and call.params["chat_id"] == chat["id"]
    assert call.params["text"] == "123" and call.params["reply_markup"] == markup
