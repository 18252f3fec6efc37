"""Routing table: every intent in English and Chinese, commands, and what must reach the agent."""

import pytest

from bot.intents import IntentKind, route

K = IntentKind


@pytest.mark.parametrize(
    ("text", "attachments", "kind", "arg"),
    [
        ("/export", False, K.EXPORT, ""),
        ("/export@nemo_video_bot", False, K.EXPORT, ""),
        ("/credits", False, K.CREDITS, ""),
        ("/status", False, K.STATUS, ""),
        ("/new", False, K.NEW, ""),
        ("/help", False, K.HELP, ""),
        ("/link", False, K.LINK, ""),
        ("/start", False, K.START, ""),
        ("/skill game-music", False, K.SKILL, "game-music"),
        ("/skill", False, K.SKILL, ""),
        ("/SKILL@bot video-leaderboard-ai", False, K.SKILL, "video-leaderboard-ai"),
        ("/frobnicate", False, K.UNKNOWN_COMMAND, "frobnicate"),
        ("/cancel", False, K.CANCEL, ""),
        ("/stop@nemo_video_bot", False, K.CANCEL, ""),
        ("cancel", False, K.CANCEL, ""),
        ("Stop!", False, K.CANCEL, ""),
        ("取消", False, K.CANCEL, ""),
        ("stop the music at 5 seconds", False, K.AGENT, "stop the music at 5 seconds"),
        ("export", False, K.EXPORT, ""),
        ("Export it please", False, K.EXPORT, ""),
        ("download", False, K.EXPORT, ""),
        ("send me the video", False, K.EXPORT, ""),
        ("can you send me the video?", False, K.EXPORT, ""),
        ("导出", False, K.EXPORT, ""),
        ("导出视频", False, K.EXPORT, ""),
        ("credits", False, K.CREDITS, ""),
        ("how many credits do I have", False, K.CREDITS, ""),
        ("balance", False, K.CREDITS, ""),
        ("积分", False, K.CREDITS, ""),
        ("查看余额", False, K.CREDITS, ""),
        ("status", False, K.STATUS, ""),
        ("show tracks", False, K.STATUS, ""),
        ("show me the timeline", False, K.STATUS, ""),
        ("状态", False, K.STATUS, ""),
        ("upload", False, K.UPLOAD, ""),
        ("上传", False, K.UPLOAD, ""),
        ("", False, K.EMPTY, ""),
        ("   \n ", False, K.EMPTY, ""),
        (None, False, K.EMPTY, ""),
        ("", True, K.UPLOAD, ""),
        ("upload", True, K.UPLOAD, ""),
        ("make a highlight reel", True, K.UPLOAD, "make a highlight reel"),
        (
            "add a ranked leaderboard overlay showing the top performers",
            False,
            K.AGENT,
            "add a ranked leaderboard overlay showing the top performers",
        ),
        ("add end credits", False, K.AGENT, "add end credits"),
        ("add credits at the end", False, K.AGENT, "add credits at the end"),
        ("make it export-ready with a title", False, K.AGENT, "make it export-ready with a title"),
        (
            "add title 'Export Day' to the start of the video and then make the colours pop",
            False,
            K.AGENT,
            "add title 'Export Day' to the start of the video and then make the colours pop",
        ),
        ("在时间线上加标题", False, K.AGENT, "在时间线上加标题"),
        ("添加排行榜", False, K.AGENT, "添加排行榜"),
    ],
)
def test_route(text, attachments, kind, arg):
    intent = route(text, attachments)
    assert intent.kind is kind
    assert intent.arg == arg


def test_long_text_mentioning_export_goes_to_agent():
    text = "please export " + "and also make it nicer " * 10
    assert route(text).kind is K.AGENT


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u2060 \n", "\u00ad"])
def test_invisible_text_is_empty(text):
    assert route(text).kind is IntentKind.EMPTY
    assert route("\u200badd music\u200b").arg == "add music"
