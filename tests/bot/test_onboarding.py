"""First contact, as the skills ask: "Setting things up..." then "Ready!" with the profile's
own examples and tips, in English and Chinese (issue 11, item 3)."""

from __future__ import annotations

from bot.boundary import Attachment, ConversationKey, IncomingMessage
from bot.profiles import PROFILES
from tests.conftest import clip
from tests.recording import RecordingChannel


def msg(key: ConversationKey, text: str = "", *attachments: Attachment, locale: str | None = None) -> IncomingMessage:
    return IncomingMessage(
        conversation=key, sender="u", sender_id="u1", text=text, attachments=attachments, locale=locale
    )


async def test_first_clip_sets_things_up_then_says_ready_with_examples_and_tips(runtime, emulator):
    key = ConversationKey(platform="console", chat_id="o1")
    channel = RecordingChannel()
    await runtime.engine.handle(msg(key, "", clip()), channel)
    first = channel.events[0]
    assert first[0] == "send" and first[2] == "⚙️ Setting things up..."
    ready = channel.messages[first[1]]  # the same message, edited
    profile = PROFILES["video-leaderboard"]
    assert ready.startswith("✅ Ready! You're using Video leaderboard.")
    assert all(f'"{e}"' in ready for e in profile.examples) and all(tip in ready for tip in profile.tips)
    assert "Be specific" in ready
    # once per conversation: another clip, and a new project after /new, say nothing of it again
    await runtime.engine.handle(msg(key, "", clip()), channel)
    await runtime.engine.handle(msg(key, "/new"), channel)
    await runtime.engine.handle(msg(key, "", clip()), channel)
    assert sum(text.startswith("✅ Ready!") for text in channel.texts()) == 1
    assert sum(text == "⚙️ Setting things up..." for _, _, text in channel.events) == 1


async def test_ready_in_chinese_uses_the_profiles_chinese_examples(runtime, emulator):
    key = ConversationKey(platform="console", chat_id="o2")
    channel = RecordingChannel()
    await runtime.engine.handle(msg(key, "/skill game-music"), channel)
    await runtime.engine.handle(msg(key, "", clip(), locale="zh-CN"), channel)
    ready = next(t for t in channel.texts() if t.startswith("✅"))
    assert ready.startswith("✅ 准备好了！当前使用：游戏音乐。")
    assert "“添加氛围感背景音乐”" in ready or '"添加氛围感背景音乐"' in ready
    assert "说清楚音乐氛围" in ready
