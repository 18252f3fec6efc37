"""Timeline summary (contract section 4), readiness and the draft diff of silent runs."""

import copy

import pytest

from bot.nemo.timeline import diff, fmt_seconds, is_ready, summarize

DRAFT = {
    "t": [
        {"id": "v", "tt": 0, "sg": [{"id": "a", "st": 0, "d": 10000, "n": "city timelapse"}]},
        {"id": "b", "tt": 1, "sg": [{"id": "m", "st": 0, "d": 10000, "n": "Lo-fi", "vol": 0.35}]},
        {
            "id": "t",
            "tt": 7,
            "sg": [{"id": "x", "st": 0, "d": 3000, "txt": "Urban Dreams", "n": "Urban Dreams", "kind": "title"}],
        },
    ],
    "d": 10000,
    "m": {"title": "Urban Dreams", "width": 1920, "height": 1080},
}


def test_summary_matches_contract_example():
    assert summarize(DRAFT) == (
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )


@pytest.mark.parametrize("draft", [{}, {"t": []}, {"t": [{"tt": 0, "sg": []}]}, None, "garbage", {"t": "x"}])
def test_empty_drafts(draft):
    assert not is_ready(draft)
    assert summarize(draft) == "Timeline: empty"


def test_ready_with_one_segment():
    assert is_ready({"t": [{"tt": 7, "sg": [{"txt": "hi"}]}]})


def test_unknown_segment_keys_degrade():
    draft = {"t": [{"tt": 42, "sg": [{"weird": 1}]}, {"tt": 0, "sg": [{"st": "x", "d": None}]}]}
    assert summarize(draft) == "Timeline (2 tracks): 1. Track: clip (0-0s) 2. Video: clip (0-0s)"


def test_leaderboard_and_multi_clip_labels():
    draft = {
        "t": [
            {"id": "v", "tt": 0, "sg": [{"n": "a.mp4", "st": 0, "d": 2500}, {"n": "b.mp4", "st": 2500, "d": 2500}]},
            {"id": "l", "tt": 7, "sg": [{"n": "Top performers", "kind": "leaderboard", "st": 0, "d": 5000}]},
        ]
    }
    assert summarize(draft) == (
        'Timeline (2 tracks): 1. Video: 2 clips: a.mp4, b.mp4 (0-5s) 2. Leaderboard: "Top performers" (0-5s)'
    )


def test_diff_added_title():
    before = copy.deepcopy(DRAFT)
    before["t"] = before["t"][:2]
    after = copy.deepcopy(before)
    after["t"].append({"id": "t2", "tt": 7, "sg": [{"st": 0, "d": 5000, "txt": "Final Standings", "kind": "title"}]})
    assert diff(before, after) == ['Added title "Final Standings" (0-5s)']


def test_diff_removed_and_changed():
    after = copy.deepcopy(DRAFT)
    del after["t"][1]
    after["t"][0]["sg"][0]["d"] = 8000
    after["d"] = 8000
    assert diff(DRAFT, after) == [
        "Changed Video: city timelapse (0-8s)",
        "Removed BGM: Lo-fi (0-10s, 35%)",
        "Duration 10s -> 8s",
    ]


def test_diff_nothing():
    assert diff(DRAFT, copy.deepcopy(DRAFT)) == []
    assert diff({}, {}) == []


def test_diff_from_empty():
    assert diff({"t": []}, DRAFT)[0] == "Added video city timelapse (0-10s)"


@pytest.mark.parametrize(("ms", "text"), [(0, "0"), (10000, "10"), (5300, "5.3"), (2999, "3"), (1250, "1.2")])
def test_fmt_seconds(ms, text):
    assert fmt_seconds(ms) == text


def test_a_canvas_change_is_a_visible_change():
    from bot.nemo.timeline import diff

    video = {"tt": 0, "sg": [{"st": 0, "d": 5000, "n": "a.mp4"}]}
    before = {"t": [video], "d": 5000, "m": {"width": 1920, "height": 1080}}
    after = {"t": [video], "d": 5000, "m": {"width": 1080, "height": 1920}}
    assert diff(before, after) == ["Canvas 1920x1080 -> 1080x1920"]
    assert diff(after, after) == []
