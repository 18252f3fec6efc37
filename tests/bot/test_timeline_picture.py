"""The /status timeline picture (issue 13): the PNG of a known draft checked pixel by pixel
against its layout, Chinese labels, and odd drafts that must not raise."""

import copy
import io
import logging

import pytest
from PIL import Image

from bot.pictures import fonts
from bot.pictures import timeline as tl

KNOWN = {
    "t": [
        {
            "id": "trk_v1",
            "tt": 0,
            "n": "Video",
            "sg": [
                {"id": "a", "st": 0, "d": 3200, "n": "bigbuckbunny.mp4", "src": "http://x/a.mp4", "ss": 0},
                {"id": "b", "st": 3200, "d": 2100, "n": "city.mp4", "src": "http://x/b.mp4"},
            ],
        },
        {"id": "trk_b1", "tt": 1, "n": "BGM", "sg": [{"id": "m", "st": 0, "d": 5300, "n": "Lo-fi", "vol": 0.35}]},
        {
            "id": "trk_t1",
            "tt": 7,
            "n": "Title",
            "sg": [{"id": "x", "st": 0, "d": 2000, "n": "Final Standings", "txt": "Final Standings", "kind": "title"}],
        },
        {"id": "trk_e", "tt": 0, "n": "Empty", "sg": []},
        {
            "id": "trk_t2",
            "tt": 7,
            "n": "Leaderboard",
            "sg": [
                {
                    "id": "l",
                    "st": 3000,
                    "d": 2300,
                    "n": "Top performers",
                    "kind": "leaderboard",
                    "rows": [{"rank": 1, "name": "Player 1", "score": 92.0}],
                }
            ],
        },
    ],
    "d": 5300,
    "m": {"title": "Final Standings", "width": 1920, "height": 1080},
}
MAX_HEIGHT = 1200
"""The picture's promised height bound, px."""


def _image(picture: tl.TimelinePicture) -> Image.Image:
    image = Image.open(io.BytesIO(picture.png))
    assert image.format == "PNG"
    image.load()
    return image.convert("RGB")


def _colours(image: Image.Image, box: tl.Box) -> set[tuple[int, int, int]]:
    """The distinct colours inside ``box``."""
    crop = image.crop(box)
    found = crop.getcolors(maxcolors=crop.width * crop.height + 1)
    assert found is not None
    return {colour for _, colour in found}


def _count_not(image: Image.Image, box: tl.Box, colour: tuple[int, int, int]) -> int:
    """How many pixels inside ``box`` are not ``colour``."""
    crop = image.crop(box)
    return sum(n for n, c in crop.getcolors(maxcolors=crop.width * crop.height + 1) or [] if c != colour)


def _assert_samples_pure(picture: tl.TimelinePicture) -> None:
    image = _image(picture)
    for lane in picture.layout.lanes:
        for block in lane.blocks:
            left, top, right, bottom = block.sample
            assert right > left and bottom > top, block
            assert _colours(image, block.sample) == {lane.color}, (lane.kind, block)


@pytest.fixture(scope="module")
def en() -> tl.TimelinePicture:
    picture = tl.timeline_png(KNOWN, "en")
    assert picture is not None
    return picture


@pytest.fixture(scope="module")
def zh() -> tl.TimelinePicture:
    picture = tl.timeline_png(KNOWN, "zh")
    assert picture is not None
    return picture


def test_the_png_has_the_layouts_size(en):
    image = _image(en)
    assert image.size == (en.width, en.height) == (en.layout.width, en.layout.height)
    assert en.width == tl.WIDTH == 1280
    assert 200 < en.height < 600  # four lanes


def test_one_lane_per_track_with_segments_in_draft_order(en):
    lanes = en.layout.lanes
    assert len(lanes) == 4  # the empty track has no lane
    assert [lane.kind for lane in lanes] == ["video", "music", "title", "leaderboard"]
    assert [lane.track_index for lane in lanes] == [0, 1, 2, 4]
    assert [lane.label for lane in lanes] == ["Video", "Music", "Title", "Leaderboard"]
    assert [len(lane.blocks) for lane in lanes] == [2, 1, 1, 1]
    assert en.layout.title == "Timeline · 5.3 s"
    assert en.layout.hidden_lanes == 0 and en.layout.note == ""
    tops = [lane.box[1] for lane in lanes]
    assert tops == sorted(tops) and len(set(tops)) == 4


def test_each_blocks_sample_area_has_exactly_its_kinds_colour(en):
    _assert_samples_pure(en)
    for lane in en.layout.lanes:
        assert lane.color == tl.KIND_COLORS[lane.kind]
    image = _image(en)
    for lane in en.layout.lanes:  # the chip left of the label too
        assert _colours(image, (lane.chip[0] + 3, lane.chip[1] + 3, lane.chip[2] - 3, lane.chip[3] - 3)) == {lane.color}


def test_kinds_have_distinct_colours(en):
    assert len(set(tl.KIND_COLORS.values())) == len(tl.KIND_COLORS) == 6
    image = _image(en)
    seen = [image.getpixel(lane.blocks[0].sample[:2]) for lane in en.layout.lanes]
    assert len(set(seen)) == 4
    assert tl.BACKGROUND not in seen and not set(seen) & set(tl.STRIPES)


def test_blocks_sit_on_the_time_axis(en):
    left, _, right, _ = en.layout.axis
    width = right - left
    first, second = en.layout.lanes[0].blocks
    assert first.box[0] == left
    assert second.box[0] == left + round(3200 / 5300 * width)
    assert first.box[2] == second.box[0] - tl.GAP  # touching clips stay apart
    (leader,) = en.layout.lanes[3].blocks
    assert leader.box[0] == left + round(3000 / 5300 * width)
    assert leader.box[2] == right - tl.GAP
    image = _image(en)
    middle = (first.box[1] + first.box[3]) // 2
    video = en.layout.lanes[0].color
    assert image.getpixel((first.box[2], middle)) != video  # the gap
    assert image.getpixel((first.box[2] - 3, middle)) == video
    leader_middle = (leader.box[1] + leader.box[3]) // 2
    assert image.getpixel((leader.box[0] - 2, leader_middle)) == tl.STRIPES[1]  # nothing before 3 s
    assert image.getpixel((leader.box[0] + 2, leader_middle)) == tl.KIND_COLORS["leaderboard"]
    ticks = en.layout.ticks
    assert ticks[0].x == left and ticks[0].label == "0 s"
    assert [tick.ms for tick in ticks] == [0, 1000, 2000, 3000, 4000, 5000]


def test_blocks_carry_their_names_and_durations(en):
    blocks = [block for lane in en.layout.lanes for block in lane.blocks]
    assert [b.name for b in blocks] == ["bigbuckbunny.mp4", "city.mp4", "Lo-fi", "Final Standings", "Top performers"]
    assert [b.detail for b in blocks] == ["3.2 s", "2.1 s", "5.3 s · vol 35%", "2 s", "2.3 s"]
    image = _image(en)
    for lane in en.layout.lanes:
        for block in lane.blocks:  # dark ink where the name is, inside the block
            x0, y0, _, y1 = block.box
            text_area = (x0 + tl.TEXT_PAD_X, y0, x0 + tl.TEXT_PAD_X + 60, y1)
            assert _count_not(image, text_area, lane.color) > 100, block


def test_the_chinese_picture_uses_chinese_glyphs(en, zh):
    assert zh.png != en.png
    assert zh.layout.title == "时间线 · 5.3 秒"
    assert [lane.label for lane in zh.layout.lanes] == ["视频", "音乐", "标题", "排行榜"]
    assert zh.layout.lanes[1].blocks[0].detail == "5.3 秒 · 音量 35%"
    assert [tick.label for tick in zh.layout.ticks][:2] == ["0 秒", "1 秒"]
    face = fonts.font(tl.LABEL_SIZE)
    assert fonts.drawable("视频音乐标题排行榜字幕轨道时间线秒", face) == "视频音乐标题排行榜字幕轨道时间线秒"
    _assert_samples_pure(zh)
    en_image, zh_image = _image(en), _image(zh)
    for row, (en_lane, zh_lane) in enumerate(zip(en.layout.lanes, zh.layout.lanes, strict=True)):
        stripe = tl.STRIPES[row % 2]
        assert _count_not(zh_image, zh_lane.label_box, stripe) > 60  # the label was drawn
        assert zh_image.crop(zh_lane.label_box).tobytes() != en_image.crop(en_lane.label_box).tobytes()


def test_a_missing_glyph_is_left_out_not_drawn_as_a_box():
    face = fonts.font(tl.NAME_SIZE)
    assert fonts.drawable("🎉 party\ttime\n🇺🇸 😀\u200d😀 ok\ufe0f", face) == "party time ok"
    assert fonts.drawable("café 日本語 Ж", face) == "café 日本語 Ж"
    assert fonts.drawable("\x00\u202e", face) == ""


@pytest.mark.parametrize(
    "draft", [None, {}, "garbage", 42, [], {"t": []}, {"t": "x"}, {"t": [{"tt": 0, "sg": []}, {"tt": 1}]}]
)
def test_an_empty_draft_gives_no_picture(draft):
    assert tl.timeline_png(draft, "en") is None
    assert tl.layout(draft, "en").lanes == ()


def _many_tracks(count: int) -> dict:
    return {"t": [{"tt": i % 9, "sg": [{"st": 0, "d": 1000, "n": f"t{i}"}]} for i in range(count)], "d": 1000}


HOSTILE = {
    "garbage types": {
        "t": [
            {"tt": "0", "sg": {"a": 1}},
            {"tt": None, "sg": [None, 1, "x", [], {"kind": ["x"], "n": ["y"], "st": [], "d": {}}]},
            {"tt": 7, "sg": [{"kind": "leaderboard", "st": True, "d": "5", "n": 5, "vol": "loud"}]},
            "track",
            {"tt": 1, "sg": [{"st": 0, "d": 1000, "vol": True}, {"st": 0, "d": 1000, "vol": 1e308}]},
        ],
        "d": "x",
        "m": [],
    },
    "200 segments": {"t": [{"tt": 0, "sg": [{"st": i * 100, "d": 100, "n": f"clip {i}.mp4"} for i in range(200)]}]},
    "50 tracks of 200": {
        "t": [{"tt": i % 9, "sg": [{"st": j * 50, "d": 50, "n": "x"} for j in range(200)]} for i in range(50)]
    },
    "huge durations": {
        "t": [{"tt": 0, "sg": [{"st": 1e300, "d": 10**400}, {"st": 0, "d": 1e18, "n": "big"}]}],
        "d": float("inf"),
    },
    "negative starts": {"t": [{"tt": 1, "sg": [{"st": -5000, "d": 3000, "n": "early"}, {"st": -1, "d": -9}]}]},
    "non-finite": {"t": [{"tt": 0, "sg": [{"st": float("nan"), "d": float("nan"), "n": "nan"}]}], "d": float("nan")},
    "zero durations": {"t": [{"tt": 0, "sg": [{"st": 0, "d": 0, "n": "a"}, {"st": 0, "d": 0, "n": "b"}]}], "d": 0},
    "long names and emoji": {
        "t": [
            {"tt": 0, "sg": [{"st": 0, "d": 4000, "n": "🎉" * 500 + "x" * 20_000}]},
            {"tt": 7, "sg": [{"st": 0, "d": 4000, "kind": "caption", "txt": "a\nb\x00\u202e👨‍👩‍👧 עברית 안녕 " * 50}]},
        ]
    },
    "stacked overlaps": {
        "t": [{"tt": 7, "sg": [{"st": i * 10, "d": 5000, "kind": "caption", "n": f"c{i}"} for i in range(60)]}]
    },
    "unknown track types": {"t": [{"tt": 99, "sg": [{"weird": 1}]}, {"tt": -1, "sg": [{"st": 10, "d": 10}]}]},
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_odd_drafts_degrade_into_a_bounded_picture(name, lang):
    draft = copy.deepcopy(HOSTILE[name])
    picture = tl.timeline_png(draft, lang)
    assert picture is not None
    assert draft == HOSTILE[name] or name in {"non-finite", "huge durations"}  # not modified (nan != nan)
    image = _image(picture)
    assert image.size == (picture.width, picture.height)
    assert picture.width == 1280 and picture.height <= MAX_HEIGHT
    assert 1 <= len(picture.layout.lanes) <= tl.MAX_LANES
    assert 0 <= picture.layout.total_ms <= tl.MAX_MS
    left, _, right, _ = picture.layout.axis
    for lane in picture.layout.lanes:
        assert len(lane.blocks) <= tl.MAX_BLOCKS
        for block in lane.blocks:
            x0, y0, x1, y1 = block.box
            assert left <= x0 < x1 <= right and lane.box[1] <= y0 < y1 <= lane.box[3]
    _assert_samples_pure(picture)


def test_fifty_tracks_draw_twelve_lanes_and_a_note():
    picture = tl.timeline_png(_many_tracks(50), "en")
    assert picture is not None
    assert len(picture.layout.lanes) == tl.MAX_LANES
    assert picture.layout.hidden_lanes == 38
    assert picture.layout.note == "+38 more track(s) not shown"
    assert picture.height <= MAX_HEIGHT
    image = _image(picture)
    note_row = (0, picture.height - tl.MARGIN - tl.NOTE_H, 400, picture.height - tl.MARGIN)
    assert _count_not(image, note_row, tl.BACKGROUND) > 100
    zh = tl.timeline_png(_many_tracks(13), "zh")
    assert zh is not None and zh.layout.note == "另有 1 条轨道未显示"


def test_two_hundred_segments_all_get_a_block():
    picture = tl.timeline_png(HOSTILE["200 segments"], "en")
    assert picture is not None
    (lane,) = picture.layout.lanes
    assert len(lane.blocks) == 200
    starts = [block.box[0] for block in lane.blocks]
    assert starts == sorted(starts)


def test_negative_starts_are_cut_at_zero():
    picture = tl.timeline_png(HOSTILE["negative starts"], "en")
    assert picture is not None
    early = picture.layout.lanes[0].blocks[0]
    assert early.start_ms == 0 and early.duration_ms == 3000
    assert early.box[0] == picture.layout.axis[0]


def test_a_long_name_is_cut_with_an_ellipsis_inside_its_block():
    draft = {"t": [{"tt": 0, "sg": [{"st": 0, "d": 1000, "n": "a very long clip name " * 20}]}], "d": 10_000}
    picture = tl.timeline_png(draft, "en")
    assert picture is not None
    (block,) = picture.layout.lanes[0].blocks
    assert block.name.endswith("...") and block.name.startswith("a very")
    face = fonts.font(tl.NAME_SIZE)
    assert face.getlength(block.name) <= block.box[2] - block.box[0] - 2 * tl.TEXT_PAD_X
    image = _image(picture)
    beyond = (block.box[2] + 1, block.box[1], block.box[2] + 80, block.box[3])
    assert tl.INK not in _colours(image, beyond)  # no text spilled out of the block


def test_a_narrow_block_has_no_text():
    draft = {"t": [{"tt": 0, "sg": [{"st": 0, "d": 100, "n": "tiny.mp4"}, {"st": 100, "d": 59_900, "n": "b"}]}]}
    picture = tl.timeline_png(draft, "en")
    assert picture is not None
    tiny = picture.layout.lanes[0].blocks[0]
    assert tiny.name == tiny.detail == ""
    x0, y0, x1, y1 = tiny.box
    assert _colours(_image(picture), (x0, y0 + tiny.radius, x1, y1 - tiny.radius)) == {tl.KIND_COLORS["video"]}


def test_overlapping_segments_stack_but_a_transition_keeps_its_row():
    captions = {
        "tt": 7,
        "sg": [{"st": 0, "d": 5000, "kind": "caption", "n": "a"}, {"st": 1000, "d": 2000, "kind": "caption", "n": "b"}],
    }
    video = {
        "tt": 0,
        "sg": [
            {"st": 0, "d": 3000, "n": "a.mp4"},
            {"st": 2500, "d": 3000, "n": "b.mp4", "tr": {"type": "fade", "d": 500}},
        ],
    }
    picture = tl.timeline_png({"t": [captions, video]}, "en")
    assert picture is not None
    first, second = picture.layout.lanes[0].blocks
    assert first.box[3] <= second.box[1]  # one above the other
    assert first.name == "a" and second.name == "b"
    one, two = picture.layout.lanes[1].blocks
    assert one.box[1] == two.box[1]  # same row
    assert one.box[2] == two.box[0] - tl.GAP
    _assert_samples_pure(picture)


def test_without_the_font_wheel_the_picture_falls_back_to_english(monkeypatch, caplog):
    monkeypatch.setattr(fonts, "FONT_RESOURCE", ("no_such_font_package", "none.otf"))
    fonts.font_file.cache_clear()
    fonts.font.cache_clear()
    fonts._warn_fallback.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.pictures.fonts"):
            first = tl.timeline_png(KNOWN, "zh")
            second = tl.timeline_png(KNOWN, "en")
        assert first is not None and second is not None
        assert [lane.label for lane in first.layout.lanes] == ["Video", "Music", "Title", "Leaderboard"]
        assert first.layout.title == "Timeline · 5.3 s"
        warnings = [r for r in caplog.records if r.name == "bot.pictures.fonts"]
        assert len(warnings) == 1 and "pylopdf-fonts-zh-cn" in warnings[0].getMessage()
        _assert_samples_pure(first)
    finally:
        monkeypatch.undo()
        fonts.font_file.cache_clear()
        fonts.font.cache_clear()
        fonts._warn_fallback.cache_clear()
    assert fonts.font_file() is not None


def test_a_drawing_failure_is_logged_not_raised(monkeypatch, caplog):
    def broken(layout):
        raise RuntimeError("boom")

    monkeypatch.setattr(tl, "draw", broken)
    with caplog.at_level(logging.ERROR, logger="bot.pictures.timeline"):
        assert tl.timeline_png(KNOWN, "en") is None
    assert "cannot draw the timeline picture" in caplog.text
