"""The terminal adapter: pure line converter, the printing channel, and a whole chat."""

from __future__ import annotations

import io

import av
import pytest

from adapters.console import ConsoleChannel, parse_line, run_chat
from bot.boundary import Button, OutgoingVideo, Reply, SentRef
from tests.conftest import BIKES, BUNNY


def test_plain_text():
    m = parse_line("add background music\n", counter=3)
    assert (m.text, m.attachments, m.message_id, str(m.conversation)) == (
        "add background music",
        (),
        "3",
        "console:local",
    )


@pytest.mark.parametrize("line", [str(BUNNY), f"'{BUNNY}'", f'"{BUNNY}"', f"  {BUNNY}  "])
def test_pasted_path_is_an_attachment(line):
    m = parse_line(line)
    assert m.text == ""
    assert [(a.filename, a.size, a.path) for a in m.attachments] == [("bigbuckbunny.mp4", BUNNY.stat().st_size, BUNNY)]
    assert m.attachments[0].content_type == "video/mp4"


def test_upload_command_with_several_files_and_a_request():
    m = parse_line(f"/upload '{BUNNY}' {BIKES} -- rank my clips by action")
    assert [a.filename for a in m.attachments] == ["bigbuckbunny.mp4", "bikes.mp4"]
    assert m.text == "rank my clips by action"


def test_missing_path_is_text_and_missing_upload_has_no_size(tmp_path):
    assert parse_line(str(tmp_path / "nope.mp4")).attachments == ()
    m = parse_line(f"/upload {tmp_path / 'nope.mp4'}")
    assert m.attachments[0].size is None  # unknown, not "empty": the engine says there is no such file


async def test_channel_prints_and_edits(tmp_path):
    out = io.StringIO()
    ch = ConsoleChannel(out=out, downloads_dir=tmp_path)
    ref = await ch.send(Reply("🎬 Working on it...", final=False))
    await ch.edit(ref, Reply("🎬 Working on it...", final=False))  # identical: skipped
    await ch.edit(ref, Reply("✅ Done in 2 s."))
    await ch.send(Reply("answer", buttons=(Button.EXPORT, Button.STATUS)))
    sent = await ch.send_file(OutgoingVideo(BIKES, "v.mp4", BIKES.stat().st_size), caption="✅ Video ready")
    assert isinstance(sent, SentRef)
    lines = out.getvalue().splitlines()
    assert lines == [
        "bot: 🎬 Working on it...",
        "bot: ✅ Done in 2 s.",
        "bot: answer",
        "        [/export] [/status]",
        "bot: ✅ Video ready",
        f"     📎 saved {tmp_path / 'v.mp4'} ({BIKES.stat().st_size} bytes)",
    ]
    assert (tmp_path / "v.mp4").read_bytes() == BIKES.read_bytes()


async def test_whole_chat_saves_the_video(runtime, tmp_path):
    stdin = io.StringIO(
        f"/upload {BUNNY} -- add a ranked leaderboard overlay showing the top performers\n/export\n/quit\n"
    )
    out = io.StringIO()
    await run_chat(runtime, stdin=stdin, out=out)
    text = out.getvalue()
    assert "Added bigbuckbunny.mp4" in text and "📎 saved" in text
    saved = list(runtime.settings.downloads_dir.glob("*.mp4"))
    assert len(saved) == 1
    with av.open(str(saved[0])) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (1920, 1080)
