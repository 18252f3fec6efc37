"""Telegram converters on real update JSON (``Update.de_json``), both ways."""

from __future__ import annotations

import pytest
from telegram import Bot, Update

from adapters.telegram.converters import (
    command_of_callback,
    conversation_key,
    is_for_bot,
    keyboard,
    media_of,
    text_of,
    to_incoming,
)
from bot.boundary import Button, Content
from bot.links import media_links

BOT_ID, BOT_NAME = 777, "nemo_test_bot"
USER = {"id": 1001, "is_bot": False, "first_name": "Ana", "username": "ana", "language_code": "zh-hans"}
PRIVATE = {"id": 1001, "type": "private", "first_name": "Ana"}
GROUP = {"id": -100200, "type": "supergroup", "title": "Clips"}
FORUM = {"id": -100300, "type": "supergroup", "title": "Studio", "is_forum": True}
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Nemo", "username": BOT_NAME}


@pytest.fixture(scope="module")
def bot():
    return Bot("123:abc")


def update(bot, message: dict, update_id: int = 1) -> Update:
    body = {"message_id": 10, "date": 1_773_400_000, "from": USER, "chat": PRIVATE}
    body.update(message)
    return Update.de_json({"update_id": update_id, "message": body}, bot)


def test_private_video(bot):
    u = update(
        bot,
        {
            "video": {
                "file_id": "VID",
                "file_unique_id": "u1",
                "width": 1280,
                "height": 720,
                "duration": 5,
                "file_name": "clip.mp4",
                "mime_type": "video/mp4",
                "file_size": 1_055_736,
            },
            "caption": "add a ranked leaderboard overlay",
        },
    )
    m = u.message
    assert is_for_bot(m, bot_id=BOT_ID, bot_username=BOT_NAME)
    [ref] = media_of(m)
    assert (ref.file_id, ref.filename, ref.size, ref.kind) == ("VID", "clip.mp4", 1_055_736, "video")
    opened = []
    incoming = to_incoming([m], bot_username=BOT_NAME, opener=lambda r: opened.append(r) or (lambda: None))
    assert str(incoming.conversation) == "telegram:1001"
    assert incoming.text == "add a ranked leaderboard overlay"
    assert incoming.locale == "zh-hans" and incoming.sender == "ana" and incoming.message_id == "10"
    [att] = incoming.attachments
    assert (att.filename, att.size, att.public_url) == ("clip.mp4", 1_055_736, None)
    assert opened == [ref] and att.open is not None


@pytest.mark.parametrize(
    ("field", "value", "name", "kind"),
    [
        (
            "document",
            {
                "file_id": "D",
                "file_unique_id": "d",
                "file_name": "raw.mov",
                "mime_type": "video/quicktime",
                "file_size": 9,
            },
            "raw.mov",
            "document",
        ),
        (
            "animation",
            {"file_id": "A", "file_unique_id": "a", "width": 1, "height": 1, "duration": 1},
            "animation_a.mp4",
            "animation",
        ),
        (
            "video_note",
            {"file_id": "N", "file_unique_id": "n", "length": 240, "duration": 3},
            "video_note_n.mp4",
            "video_note",
        ),
        (
            "audio",
            {"file_id": "M", "file_unique_id": "m", "duration": 60, "file_name": "beat.mp3"},
            "beat.mp3",
            "audio",
        ),
        (
            "photo",
            [
                {"file_id": "P1", "file_unique_id": "p1", "width": 90, "height": 90},
                {"file_id": "P2", "file_unique_id": "p2", "width": 1280, "height": 960},
            ],
            "photo_p2.jpg",
            "photo",
        ),
    ],
)
def test_media_kinds(bot, field, value, name, kind):
    extra = {"document": {"file_id": "A", "file_unique_id": "a"}} if field == "animation" else {}
    [ref] = media_of(update(bot, {field: value, **extra}).message)
    assert (ref.filename, ref.kind) == (name, kind)


@pytest.mark.parametrize(
    ("field", "value", "content"),
    [
        ("voice", {"file_id": "V", "file_unique_id": "v", "duration": 2}, Content.VOICE),
        (
            "sticker",
            {
                "file_id": "S",
                "file_unique_id": "s",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
            Content.STICKER,
        ),
        ("location", {"latitude": 48.85, "longitude": 2.35}, Content.LOCATION),
        ("contact", {"phone_number": "+100", "first_name": "Ann"}, Content.CONTACT),
        (
            "poll",
            {
                "id": "p",
                "question": "best clip?",
                "options": [
                    {"text": "a", "voter_count": 0, "persistent_id": "o1"},
                    {"text": "b", "voter_count": 0, "persistent_id": "o2"},
                ],
                "total_voter_count": 0,
                "allows_revoting": False,
                "members_only": False,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
            },
            Content.POLL,
        ),
        ("dice", {"emoji": "🎲", "value": 3}, Content.OTHER),
    ],
)
def test_what_cannot_be_edited_is_named_not_dropped(bot, field, value, content):
    incoming = to_incoming([update(bot, {field: value}).message], bot_username=BOT_NAME, opener=lambda ref: None)
    assert incoming.unsupported is content
    assert incoming.attachments == () and incoming.text == ""


def test_group_rules(bot):
    plain = update(bot, {"chat": GROUP, "text": "nice clip"}).message
    assert not is_for_bot(plain, bot_id=BOT_ID, bot_username=BOT_NAME)
    command = update(
        bot, {"chat": GROUP, "text": "/export", "entities": [{"type": "bot_command", "offset": 0, "length": 7}]}
    ).message
    assert is_for_bot(command, bot_id=BOT_ID, bot_username=BOT_NAME)
    other = update(
        bot,
        {"chat": GROUP, "text": "/export@other_bot", "entities": [{"type": "bot_command", "offset": 0, "length": 17}]},
    ).message
    assert not is_for_bot(other, bot_id=BOT_ID, bot_username=BOT_NAME)
    ours = update(
        bot,
        {
            "chat": GROUP,
            "text": f"/export@{BOT_NAME}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 21}],
        },
    ).message
    assert is_for_bot(ours, bot_id=BOT_ID, bot_username=BOT_NAME) and text_of(ours, BOT_NAME) == "/export"
    mention = update(
        bot,
        {"chat": GROUP, "text": f"@{BOT_NAME} add music", "entities": [{"type": "mention", "offset": 0, "length": 14}]},
    ).message
    assert is_for_bot(mention, bot_id=BOT_ID, bot_username=BOT_NAME) and text_of(mention, BOT_NAME) == "add music"
    reply = update(
        bot,
        {
            "chat": GROUP,
            "text": "make it epic",
            "reply_to_message": {"message_id": 5, "date": 1, "chat": GROUP, "from": BOT_USER, "text": "Done."},
        },
    ).message
    assert is_for_bot(reply, bot_id=BOT_ID, bot_username=BOT_NAME)


def test_forum_topic_is_its_own_conversation(bot):
    m = update(
        bot,
        {
            "chat": FORUM,
            "message_thread_id": 42,
            "is_topic_message": True,
            "text": f"@{BOT_NAME} status",
            "reply_to_message": {
                "message_id": 42,
                "date": 1,
                "chat": FORUM,
                "from": BOT_USER,
                "forum_topic_created": {"name": "Clip 1", "icon_color": 1},
            },
        },
    ).message
    assert str(conversation_key(m)) == "telegram:-100300/42"
    topic_only = update(
        bot,
        {
            "chat": FORUM,
            "message_thread_id": 42,
            "is_topic_message": True,
            "text": "chatting",
            "reply_to_message": {
                "message_id": 42,
                "date": 1,
                "chat": FORUM,
                "from": BOT_USER,
                "forum_topic_created": {"name": "Clip 1", "icon_color": 1},
            },
        },
    ).message
    assert not is_for_bot(topic_only, bot_id=BOT_ID, bot_username=BOT_NAME)
    reply_thread = update(bot, {"chat": GROUP, "message_thread_id": 9, "text": "x"}).message
    assert str(conversation_key(reply_thread)) == "telegram:-100200"  # not a topic: the chat


def test_album_is_one_message(bot):
    vids = [
        update(
            bot,
            {
                "message_id": 20 + i,
                "media_group_id": "G1",
                "caption": "rank my clips" if i == 0 else None,
                "video": {
                    "file_id": f"V{i}",
                    "file_unique_id": f"u{i}",
                    "width": 1,
                    "height": 1,
                    "duration": 1,
                    "file_name": f"c{i}.mp4",
                    "file_size": 100 + i,
                },
            },
        ).message
        for i in range(3)
    ]
    incoming = to_incoming(vids, bot_username=BOT_NAME, opener=lambda r: lambda: None)
    assert [a.filename for a in incoming.attachments] == ["c0.mp4", "c1.mp4", "c2.mp4"]
    assert incoming.text == "rank my clips" and incoming.message_id == "20"


def test_links_become_url_uploads(bot):
    m = update(
        bot, {"text": "https://cdn.example.com/v/match%201.mp4 make a highlight reel https://example.com/page"}
    ).message
    incoming = to_incoming([m], bot_username=BOT_NAME, opener=lambda r: lambda: None)
    [att] = incoming.attachments
    assert (att.filename, att.public_url, att.open) == ("match 1.mp4", "https://cdn.example.com/v/match%201.mp4", None)
    assert incoming.text == "make a highlight reel https://example.com/page"
    assert media_links("see http://x.org/a.txt and https://y.org/b.webm.") == [("https://y.org/b.webm", "b.webm")]


def test_keyboard_and_callbacks():
    secret = b"k" * 32
    shown = (Button.EXPORT, Button.STATUS, Button.CREDITS, Button.NEW)
    kb = keyboard(shown, "zh", secret=secret, chat_id=-5, user_id=7)
    rows = [[b.text for b in row] for row in kb.inline_keyboard]
    assert rows == [["🎞️ 导出", "📋 状态"], ["💳 积分", "🆕 新项目"]]
    data = [b.callback_data for row in kb.inline_keyboard for b in row]
    assert all(d.startswith(f"nb:{b.value}:") and len(d) <= 64 for d, b in zip(data, shown, strict=True))
    assert keyboard(()) is None
    export = data[0]
    assert command_of_callback(export, secret=secret, chat_id=-5, user_id=7) == "/export"
    # someone else's button, another chat, a forged or bare payload: nothing
    assert command_of_callback(export, secret=secret, chat_id=-5, user_id=8) is None
    assert command_of_callback(export, secret=secret, chat_id=-6, user_id=7) is None
    assert command_of_callback(export.replace("nb:export", "nb:new"), secret=secret, chat_id=-5, user_id=7) is None
    assert command_of_callback("nb:export", secret=secret, chat_id=-5, user_id=7) is None
    assert command_of_callback("nb:rm -rf", secret=secret) is None and command_of_callback(None) is None
    # a button anyone in the chat may press (GROUP_PROJECTS=shared)
    shared = keyboard((Button.NEW,), secret=secret, chat_id=-5, user_id=None)
    assert (
        command_of_callback(shared.inline_keyboard[0][0].callback_data, secret=secret, chat_id=-5, user_id=9) == "/new"
    )
