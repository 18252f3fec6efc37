"""Routing decides whether a message asks for a command, not whether it contains a command word.

A table of real-sounding messages in English and Chinese (issue 11): clear requests go to the
command, edits that mention export, credits, status, upload, balance, render, download,
cancel or stop go to the agent, and the few in between are asked about (CONFIRM).
"""

from __future__ import annotations

import pytest

from bot.intents import IntentKind, route

E, C, S, U, X = IntentKind.EXPORT, IntentKind.CREDITS, IntentKind.STATUS, IntentKind.UPLOAD, IntentKind.CANCEL
A, Q = IntentKind.AGENT, IntentKind.CONFIRM

TABLE: list[tuple[str, IntentKind]] = [
    # --- export requests
    ("export", E),
    ("Export!", E),
    ("export it", E),
    ("export the video", E),
    ("please export", E),
    ("ok export now", E),
    ("okay, export it please", E),
    ("great, render it", E),
    ("render the final cut", E),
    ("download", E),
    ("download the video", E),
    ("can you export it for me?", E),
    ("could you render the video now", E),
    ("let's export", E),
    ("go ahead and export", E),
    ("time to render", E),
    ("I'm happy with it, export", E),
    ("i'm done, export it", E),
    ("we're good, render it", E),
    ("looks great, send it over", E),
    ("looks perfect, export it", E),
    ("send it over", E),
    ("send it to me", E),
    ("send me the video", E),
    ("give me the final video", E),
    ("send me the result please", E),
    ("export it in 1080p", E),
    ("export as mp4", E),
    ("finalize it", E),
    ("perfect! export now", E),
    ("yes export", E),
    ("export it now please", E),
    ("导出", E),
    ("导出视频", E),
    ("好的，导出吧", E),
    ("可以了，导出", E),
    ("请导出视频", E),
    ("帮我导出一下", E),
    ("渲染", E),
    ("发给我", E),
    ("把视频发给我", E),
    ("下载视频", E),
    ("可以导出了", E),
    # --- edits that mention export / render / download
    ("render the title in gold", A),
    ("download some epic music and add it", A),
    ("add an export-style watermark in the corner", A),
    ("make the text render bigger", A),
    ("add a title that says 'export complete'", A),
    ("use the song I'd download from the intro", A),
    ("render the leaderboard with a glow effect", A),
    ("put the download link text at the bottom", A),
    ("add a fade before the export logo", A),
    ("导出前在片尾加上标题「GG」", A),
    ("把下载按钮的文字改成红色", A),
    ("渲染一个金色的标题", A),
    # --- in between: asked with buttons
    ("export the final cut with the music", Q),
    ("render it with transitions", Q),
    ("download it with the music", Q),
    ("export, and make it faster", A),
    # --- credits requests
    ("credits", C),
    ("my credits", C),
    ("check my credits", C),
    ("what's my balance?", C),
    ("balance", C),
    ("show me my credits", C),
    ("how many credits do I have left?", C),
    ("how many credits do i have", C),
    ("credits left?", C),
    ("am I out of credits?", C),
    ("do I have any credits", C),
    ("what is my credit balance", C),
    ("积分", C),
    ("余额", C),
    ("我的积分", C),
    ("查看余额", C),
    ("还有多少积分？", C),
    ("积分还剩多少", C),
    ("余额多少", C),
    # --- edits that mention credits / balance
    ("balance the audio levels", A),
    ("credits roll at the end please", A),
    ("add end credits with our team names", A),
    ("balance the music and the game sound", A),
    ("make the credits scroll faster", A),
    ("put a credits screen after the highlights", A),
    ("color balance looks off, make it warmer", A),
    ("add rolling credits with names", A),
    ("在片尾加上积分榜的字幕", A),
    ("把音量平衡一下，余额这个词不要出现在标题里", A),
    # --- in between: credits
    ("what about the credits", Q),
    ("any news on the status", Q),
    # --- status requests
    ("status", S),
    ("show status", S),
    ("show me the status", S),
    ("progress?", S),
    ("where are we", S),
    ("where are we at?", S),
    ("so where are we now", S),
    ("what's on the timeline?", S),
    ("show me the timeline", S),
    ("show the tracks", S),
    ("show my project", S),
    ("how's it going?", S),
    ("how's the video looking", S),
    ("what have we got so far", S),
    ("what does it look like now", S),
    ("状态", S),
    ("查看状态", S),
    ("进度", S),
    ("现在进度怎么样", S),
    ("做到哪了", S),
    ("时间线上有什么", S),
    ("看看时间线", S),
    # --- edits that mention status / timeline / progress
    ("status effects should glow red", A),
    ("把状态栏放在顶部", A),
    ("add a progress bar at the bottom", A),
    ("move the status text to the left", A),
    ("put a status overlay with each player's rank", A),
    ("make the timeline zoom effect slower", A),
    ("add a health status bar in the top right corner", A),
    ("在底部加一个进度条", A),
    ("把状态文字改成金色", A),
    # --- upload requests (no file attached)
    ("upload", U),
    ("how do I upload a clip?", U),
    ("upload a video", U),
    ("I want to upload", U),
    ("can I upload more clips", U),
    ("上传", U),
    ("怎么上传", U),
    ("上传视频", U),
    # --- edits that mention upload
    ("upload speed text in the corner", A),
    ("add the upload date as a caption", A),
    ("show an upload progress animation at the start", A),
    ("在角落加上上传日期", A),
    # --- cancel requests
    ("cancel", X),
    ("stop", X),
    ("stop it", X),
    ("cancel the render", X),
    ("please cancel the export", X),
    ("never mind", X),
    ("forget it", X),
    ("取消", X),
    ("停止", X),
    ("算了", X),
    ("取消导出", X),
    # --- edits that mention cancel / stop
    ("stop the music at 0:30", A),
    ("cancel the fade at the end", A),
    ("make the clip stop on the last frame", A),
    ("add a stop sign sticker at the start", A),
    ("在第30秒停止音乐", A),
    ("取消片尾的转场", A),
    # --- plain edits and chat
    ("add a ranked leaderboard overlay showing the top performers", A),
    ("make it 9:16 vertical", A),
    ("add text overlay 'GG' at the end", A),
    ("rank these videos by engagement score and show me the top performers", A),
    ("make a highlight reel with transitions and music", A),
    ("add atmospheric background music", A),
    ("remove the music", A),
    ("what can you do?", A),
    ("hi", A),
    ("thanks!", A),
    ("make the intro shorter", A),
    ("添加排名排行榜叠加层，展示表现最好的选手", A),
    ("改成 9:16 竖屏", A),
    ("制作带转场和音乐的高光集锦", A),
    ("你好", A),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t for t, _ in TABLE])
def test_routing_table(text, expected):
    assert route(text).kind is expected


def test_table_is_large_and_covers_the_tricky_words():
    assert len(TABLE) >= 150
    edits = " ".join(t.lower() for t, k in TABLE if k is A)
    for word in ("export", "credits", "status", "upload", "balance", "render", "download", "cancel", "stop"):
        assert word in edits, word


def test_in_between_messages_suggest_a_command_and_keep_the_text():
    intent = route("export the final cut with the music")
    assert (intent.kind, intent.suggested, intent.arg) == (Q, E, "export the final cut with the music")
    assert 0 < intent.confidence < 1


def test_attachments_with_an_edit_that_mentions_upload_go_to_the_agent():
    assert route("upload speed text in the corner", has_attachments=True).arg == "upload speed text in the corner"
    assert route("upload this", has_attachments=True).arg == ""
    assert route("上传", has_attachments=True).arg == ""
