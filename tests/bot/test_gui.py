"""GUI translation (contract section 6): GUI steps removed, content kept, actions collected."""

import pytest

from bot.gui import translate


@pytest.mark.parametrize(
    ("text", "kept", "actions"),
    [
        (
            "I added a leaderboard with 5 rows. Click the Export button to download your video.",
            "I added a leaderboard with 5 rows.",
            {"export"},
        ),
        ("Added lo-fi music at 35%. You can preview it in the timeline.", "Added lo-fi music at 35%.", {"timeline"}),
        ("Open the Assets panel to see your clips.", "", {"timeline"}),
        ("Drag the title to where you want it. The title reads 'GG'.", "The title reads 'GG'.", {"edit"}),
        ("Please check your account billing for credits.", "", {"credits"}),
        ("已添加排行榜。点击导出按钮下载视频。", "已添加排行榜。", {"export"}),
        ("已添加音乐。拖拽音乐轨道可以调整位置。", "已添加音乐。", {"edit"}),
        ("Click [Apply] to confirm.", "", {"click"}),
        ("Your highlight reel has 4 cuts with fades.", "Your highlight reel has 4 cuts with fades.", set()),
        ("Line one.\nClick the Export button.\nLine three.", "Line one.\n\nLine three.", {"export"}),
    ],
)
def test_translate(text, kept, actions):
    result = translate(text)
    assert result.text == kept
    assert set(result.actions) == actions


def test_content_words_that_look_like_gui_survive():
    text = "The clip opens with a drop of the beat."
    assert translate(text).text == text
