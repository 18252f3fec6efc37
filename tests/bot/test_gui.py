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
        (
            "Added a leaderboard. You can preview it in the timeline, then click the Export button to download.",
            "Added a leaderboard.",
            {"timeline", "offer_export"},
        ),
        ("Open the Assets panel to see your clips.", "", {"timeline"}),
        ("Drag the title to where you want it. The title reads 'GG'.", "The title reads 'GG'.", {"edit"}),
        ("Please check your account billing for credits.", "", {"credits"}),
        ("已添加排行榜。点击导出按钮下载视频。", "已添加排行榜。", {"export"}),
        ("已添加音乐。拖拽音乐轨道可以调整位置。", "已添加音乐。", {"offer_edit"}),
        (
            "Cut 4 moments. Drag the clips on the timeline to reorder them if you like.",
            "Cut 4 moments.",
            {"offer_edit"},
        ),
        ("Click [Apply] to confirm.", "", {"click"}),
        ("Your highlight reel has 4 cuts with fades.", "Your highlight reel has 4 cuts with fades.", set()),
        ("Line one.\nClick the Export button.\nLine three.", "Line one.\n\nLine three.", {"export"}),
        # one sentence, two actions: the preview is not lost to the export
        ("Added the title. Preview it in the timeline, then click Export.", "Added the title.", {"timeline", "export"}),
        # "ready" is never claimed without a render
        ("Your video is ready! Click the Export button to download it.", "", {"ready", "export"}),
        ("视频已准备好！点击导出按钮下载。", "", {"ready", "export"}),
        ("Done. Press 'Export' when you are happy.", "Done.", {"offer_export"}),
        ("Done. Press 'Export' now to get the video.", "Done.", {"export"}),
    ],
)
def test_translate(text, kept, actions):
    result = translate(text)
    assert result.text == kept
    assert set(result.actions) == actions


def test_content_words_that_look_like_gui_survive():
    text = "The clip opens with a drop of the beat."
    assert translate(text).text == text


def test_steps_only_the_agent_can_do_are_kept_as_requests():
    result = translate("Added music. Drag the music track to 0:05. Then click Apply. Click Export to finish.")
    assert result.text == "Added music."
    assert result.requests == ("Drag the music track to 0:05.", "Then click Apply.")
    assert result.actions == {"edit", "click", "export"}
    assert translate("Click the Export button.").requests == ()
