"""The Telegram channel and its edit pacer against the fake Bot API, through PTB's Bot."""

from __future__ import annotations

import asyncio
import time

import pytest
from telegram import Bot

from adapters.pacing import EditPacer
from adapters.telegram.channel import TelegramChannel
from bot.boundary import Button, ChannelError, Reply, SentRef
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def tg(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "f") as fake:
        yield fake


@pytest.fixture
async def bot(tg):
    b = Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
    async with b:
        yield b


async def test_edits_are_paced_and_coalesced(tg, bot):
    chat = tg.private_chat()
    pacer = EditPacer(lambda chat_id: 0.4)
    ch = TelegramChannel(bot, chat["id"], None, pacer)
    ref = await ch.send(Reply("step 0", final=False))
    started = time.monotonic()
    await ch.edit(ref, Reply("step 1", final=False))
    await asyncio.sleep(0.1)  # step 1 goes out at once: no edit in this chat yet
    for i in range(2, 6):
        await ch.edit(ref, Reply(f"step {i}", final=False))  # queued, each replacing the last
    # non-final edits never block the engine: they all returned before the interval let one out
    assert tg.bot_messages(chat["id"])[0].edits == ["step 1"]
    await ch.edit(ref, Reply("done", final=True))  # waits until applied
    assert time.monotonic() - started >= 0.4  # one interval after step 1
    msg = tg.bot_messages(chat["id"])[0]
    assert msg.edits == ["step 1", "done"] and msg.text == "done"
    await pacer.close()


async def test_not_modified_is_ignored_and_errors_are_channel_errors(tg, bot):
    chat = tg.private_chat()
    pacer = EditPacer(lambda chat_id: 0.0)
    ch = TelegramChannel(bot, chat["id"], None, pacer)
    ref = await ch.send(Reply("same", buttons=(Button.EXPORT,)))
    await ch.edit(ref, Reply("same", buttons=(Button.EXPORT,)))  # Telegram: "message is not modified"
    assert tg.calls_of("editMessageText")[-1].status == 400
    with pytest.raises(ChannelError, match="editMessageText failed"):
        await ch.edit(SentRef("999"), Reply("x"))
    with pytest.raises(ChannelError, match="sendMessage failed"):
        await TelegramChannel(bot, 424242, None, pacer).send(Reply("nobody there"))
    await pacer.close()


async def test_topic_messages_stay_in_their_thread(tg, bot):
    group = tg.group_chat(forum=True)
    ch = TelegramChannel(bot, group["id"], 42, EditPacer(lambda c: 0.0))
    await ch.send(Reply("hi topic"))
    assert tg.calls_of("sendMessage")[-1].params["message_thread_id"] == 42
