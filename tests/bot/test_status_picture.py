"""``/status`` sends the timeline as a picture with its text summary as the caption (issue 13)."""

from __future__ import annotations

import io

from PIL import Image

from bot.boundary import Button, ChannelError, ChannelLimits, ConversationKey
from tests.conftest import BIKES, chat_message, clip
from tests.recording import RecordingChannel

KEY = ConversationKey(platform="console", chat_id="status-picture")


class RefusesPictures(RecordingChannel):
    async def send_photo(self, photo, *, caption="", buttons=()):
        raise ChannelError("sendPhoto failed: Forbidden")


async def project(runtime, channel):
    await runtime.engine.handle(chat_message(KEY, "add background music", clip(BIKES)), channel)


async def test_a_chinese_status_is_a_chinese_picture(runtime):
    channel = RecordingChannel()
    await project(runtime, channel)
    await runtime.engine.handle(chat_message(KEY, "/status", locale="zh-CN"), channel)
    await runtime.engine.handle(chat_message(KEY, "/status", locale="en"), channel)
    (zh, zh_caption), (en, en_caption) = channel.photos
    assert zh_caption != en_caption and "素材" in zh_caption  # the caption in the asker's language
    assert zh.data != en.data  # and the picture's words with it
    with Image.open(io.BytesIO(zh.data)) as image:
        assert image.format == "PNG" and image.size == (zh.width, zh.height)


async def test_a_summary_longer_than_a_caption_follows_the_picture(runtime):
    channel = RecordingChannel(limits=ChannelLimits(max_caption_chars=40))
    await project(runtime, channel)
    await runtime.engine.handle(chat_message(KEY, "/status"), channel)
    kinds = [kind for kind, _, _ in channel.events]
    assert kinds[-2:] == ["photo", "send"]
    [(_, caption)] = channel.photos
    assert caption == ""  # nothing cut: the whole summary is the next message, with the buttons
    assert channel.texts()[-1].startswith("📋 Timeline (") and len(channel.texts()[-1]) > 40
    assert channel.buttons[max(channel.messages, key=int)] == (Button.EXPORT, Button.CREDITS)


async def test_a_refused_picture_leaves_the_text(runtime):
    channel = RefusesPictures()
    await project(runtime, channel)
    await runtime.engine.handle(chat_message(KEY, "/status"), channel)
    assert channel.texts()[-1].startswith("📋 Timeline (")
    assert channel.buttons[max(channel.messages, key=int)] == (Button.EXPORT, Button.CREDITS)


async def test_the_terminal_saves_the_picture(runtime, tmp_path):
    from adapters.console import ConsoleChannel

    out = io.StringIO()
    channel = ConsoleChannel(out=out, downloads_dir=tmp_path / "downloads")
    await project(runtime, channel)
    await runtime.engine.handle(chat_message(KEY, "/status"), channel)
    [saved] = channel.pictures
    assert (
        saved.name == f"timeline-{saved.stem.rsplit('-', 1)[1]}.png" and saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    )
    assert (
        "📋 Timeline (" in out.getvalue() and str(saved) in out.getvalue() and "[/export] [/credits]" in out.getvalue()
    )
