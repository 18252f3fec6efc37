"""Unit tests of the emulator's rule-based agent on the real fixture clips."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from emulator import agent, media
from emulator.render import render_draft
from emulator.state import initial_session_state

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BUNNY = FIXTURES / "bigbuckbunny.mp4"
BIKES = FIXTURES / "bikes.mp4"

# measured once per test session (real ffmpeg scores; stable for the same input)
_SCORE_CACHE: dict[tuple[str, int, int | None], float] = {}


def _info(path: Path) -> dict[str, Any]:
    info = media.probe(path)
    return {
        "filename": path.name,
        "file_type": info.kind,
        "cdn_url": f"http://emu.test/cdn/h_{path.stem}/{path.name}",
        "duration": info.duration_s,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "hash": f"h_{path.stem}",
    }


def _state(*paths: Path) -> dict[str, Any]:
    state = initial_session_state()
    state["video_infos"] = [_info(p) for p in paths]
    return state


def _ctx(state: dict[str, Any], tmp_path: Path, profile: str | None = None, **kw: Any) -> agent.AgentContext:
    files = {f"http://emu.test/cdn/h_{p.stem}/{p.name}": p for p in (BUNNY, BIKES)}

    def resolve(url: str) -> Path:
        if url in files:
            return files[url]
        raise KeyError(url)

    def new_media(name: str) -> tuple[str, Path]:
        url = f"http://emu.test/cdn/gen_{len(files)}/{name}"
        path = tmp_path / f"gen_{len(files)}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        files[url] = path
        return url, path

    return agent.AgentContext(
        state=copy.deepcopy(state),
        resolve=resolve,
        new_media=new_media,
        profile=profile,
        score_cache=_SCORE_CACHE,
        **kw,
    )


async def _run(text: str, state: dict[str, Any], tmp_path: Path, profile: str | None = None, **kw: Any):
    ctx = _ctx(state, tmp_path, profile, **kw)
    intent = agent.decide(text, profile, ctx.state)
    steps = [s async for s in agent.run(intent, ctx)]
    delta: dict[str, Any] = {}
    for s in steps:
        if isinstance(s, agent.ToolResult):
            delta.update(s.state_delta)
    return intent, steps, delta, ctx


def _answer(steps: list[Any]) -> str:
    answers = [s.text for s in steps if isinstance(s, agent.Answer)]
    assert len(answers) == 1
    return answers[0]


def _tools(steps: list[Any]) -> list[str]:
    return [s.name for s in steps if isinstance(s, agent.ToolCall)]


def _track(draft: dict[str, Any], tt: int, kind: str | None = None) -> dict[str, Any]:
    found = [t for t in draft["t"] if t["tt"] == tt and (kind is None or any(s.get("kind") == kind for s in t["sg"]))]
    assert len(found) == 1, draft
    return found[0]


def check_draft(draft: dict[str, Any]) -> None:
    """The draft follows docs/draft-format.md and its d/m are consistent."""
    assert set(draft) == {"t", "d", "m"}
    assert draft["m"]["width"] == 1920 and draft["m"]["height"] == 1080 and draft["m"]["fps"] == 30
    ends = []
    for t in draft["t"]:
        assert t["id"] and t["tt"] in (0, 1, 7) and t["n"] and t["sg"]
        starts = [s["st"] for s in t["sg"]]
        assert starts == sorted(starts)
        for s in t["sg"]:
            assert s["id"].startswith("seg_") and isinstance(s["st"], int) and isinstance(s["d"], int)
            assert s["d"] > 0 and s["st"] >= 0 and s["n"]
            if t["tt"] in (0, 1):
                assert s["src"] and s["ss"] >= 0 and 0 <= s["vol"] <= 1
            if t["tt"] == 7:
                assert s["txt"] and s["kind"] in ("title", "caption", "leaderboard")
            ends.append(s["st"] + s["d"])
    video = [s["st"] + s["d"] for t in draft["t"] if t["tt"] == 0 for s in t["sg"]]
    assert draft["d"] == (max(video) if video else max(ends, default=0))
    assert max(ends, default=0) <= draft["d"]


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("text", "profile", "kind"),
    [
        ("add a ranked leaderboard overlay showing the top performers", "video-leaderboard", "leaderboard"),
        ("加一个排行榜", None, "leaderboard"),
        ("rank these clips by action", "video-leaderboard-ai", "rank"),
        ("rank my clips", None, "rank"),
        ("给我的片段排名", None, "rank"),
        ("make a highlight reel with transitions and music", "ai-video-editor-gaming", "highlight"),
        ("做一个高光集锦", None, "highlight"),
        ("make a short example clip with a title", "what-is-video-clip-example", "example"),
        ("做一个带标题的示例短片", None, "example"),
        ("add background music", "game-music", "music"),
        ("加点背景音乐", None, "music"),
        ("add title 'Final Standings'", None, "title"),
        ("remove the music", None, "remove_music"),
        ("去掉配乐", None, "remove_music"),
        ("export it please", None, "export"),
        ("导出视频", None, "export"),
        ("hello there", "video-leaderboard", "chat"),
        ("make it", "video-leaderboard", "leaderboard"),
        ("make it", "ai-video-editor-gaming", "highlight"),
        ("帮我做", "game-music", "music"),
        ("make it", None, "chat"),
    ],
)
def test_classify(text: str, profile: str | None, kind: str) -> None:
    assert agent.classify(text, profile) == kind


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("add title 'Final Standings'", "Final Standings"),
        ('add title "Urban Dreams"', "Urban Dreams"),
        ("add a title: Race Day", "Race Day"),
        ("添加标题「冠军之夜」", "冠军之夜"),
        ("标题为：冠军", "冠军"),
        ("make a short example clip with a title", None),
        ("做一个带标题的示例短片", None),
        ("don't forget the leaderboard", None),
    ],
)
def test_extract_title(text: str, title: str | None) -> None:
    assert agent.extract_title(text) == title


def test_styles_from_message_and_profile() -> None:
    assert agent.extract_style("add epic music") == "epic"
    assert agent.extract_style("something chill please") == "chill"
    assert agent.extract_style("加点放松的音乐") == "chill"
    assert agent.extract_style("add background music") == "lofi"
    assert agent.extract_style("add background music", "game-music") == "epic"


def test_decide_needs_clips_and_language() -> None:
    empty = initial_session_state()
    intent = agent.decide("add a ranked leaderboard overlay", "video-leaderboard", empty)
    assert intent.kind == "need_clip" and intent.wanted == "leaderboard" and not intent.edits
    assert agent.decide("去掉音乐", None, empty).kind == "no_music"
    zh = agent.decide("加一个排行榜", None, _state(BUNNY))
    assert zh.kind == "leaderboard" and zh.lang == "zh" and zh.edits


# --------------------------------------------------------------------------- the five profiles


async def test_leaderboard_several_clips_scores_each_clip(tmp_path: Path) -> None:
    state = _state(BUNNY, BIKES)
    intent, steps, delta, _ = await _run(
        "add a ranked leaderboard overlay showing the top performers", state, tmp_path, "video-leaderboard"
    )
    assert intent.kind == "leaderboard"
    assert _tools(steps) == ["analyze_video", "edit_multitrack"]
    draft = delta["draft"]
    check_draft(draft)
    video = _track(draft, 0)
    assert [s["n"] for s in video["sg"]] == ["bigbuckbunny.mp4", "bikes.mp4"]  # upload order
    assert draft["d"] == 5312 + 10000
    board = _track(draft, 7, "leaderboard")["sg"][0]
    assert board["txt"] == "Top performers" and board["pos"] == "right"
    assert (board["st"], board["d"]) == (0, draft["d"])
    rows = board["rows"]
    assert [r["name"] for r in rows] == ["bikes.mp4", "bigbuckbunny.mp4"]  # real motion: bikes move more
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["score"] > rows[1]["score"] > 0
    assert rows[0]["score"] == media.motion_score(BIKES)
    assert draft["m"]["title"] == "Top performers"
    assert {a["filename"] for a in delta["video_analyses"]} == {"bigbuckbunny.mp4", "bikes.mp4"}
    answer = _answer(steps)
    assert "bikes.mp4" in answer and "Export button" in answer


async def test_leaderboard_one_clip_scores_five_parts(tmp_path: Path) -> None:
    _, steps, delta, _ = await _run('add a leaderboard titled "Best Plays"', _state(BIKES), tmp_path)
    assert _tools(steps) == ["analyze_video", "edit_multitrack"]
    draft = delta["draft"]
    check_draft(draft)
    rows = _track(draft, 7, "leaderboard")["sg"][0]["rows"]
    assert len(rows) == 5
    assert sorted(r["name"] for r in rows) == [f"Play {i}" for i in range(1, 6)]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
    # Play 2 is the 2-4 s window of bikes.mp4, the most active one
    assert rows[0]["name"] == "Play 2"
    assert rows[0]["score"] == media.motion_score(BIKES, start_s=2.0, duration_s=2.0)
    assert _track(draft, 7, "leaderboard")["sg"][0]["txt"] == "Best Plays"


async def test_leaderboard_keeps_existing_video_track(tmp_path: Path) -> None:
    state = _state(BUNNY, BIKES)
    _, _, delta, _ = await _run("add a title 'Intro'", state, tmp_path)
    state["draft"] = delta["draft"]
    state["draft"]["t"][0]["sg"] = state["draft"]["t"][0]["sg"][:1]  # user kept only the first clip
    agent.finalize_draft(state["draft"])
    _, _, delta, _ = await _run("add a ranked leaderboard", state, tmp_path)
    draft = delta["draft"]
    check_draft(draft)
    assert [s["n"] for s in _track(draft, 0)["sg"]] == ["bigbuckbunny.mp4"]
    assert _track(draft, 7, "title")["sg"][0]["txt"] == "Intro"
    assert len(_track(draft, 7, "leaderboard")["sg"][0]["rows"]) == 2


async def test_rank_clips_best_first_with_fades(tmp_path: Path) -> None:
    _, steps, delta, _ = await _run(
        "rank these clips by action", _state(BUNNY, BIKES), tmp_path, "video-leaderboard-ai"
    )
    assert _tools(steps) == ["rank_clips", "edit_multitrack"]
    draft = delta["draft"]
    check_draft(draft)
    segs = _track(draft, 0)["sg"]
    assert [s["n"] for s in segs] == ["bikes.mp4", "bigbuckbunny.mp4"]
    assert segs[0]["sc"] > segs[1]["sc"]
    assert "tr" not in segs[0] and segs[1]["tr"] == {"type": "fade", "d": 500}
    assert segs[1]["st"] == segs[0]["d"] - 500  # the fade overlaps, as the renderer plays it
    assert draft["d"] == 10000 + 5312 - 500
    rows = _track(draft, 7, "leaderboard")["sg"][0]["rows"]
    assert [r["name"] for r in rows] == ["bikes.mp4", "bigbuckbunny.mp4"]


async def test_rank_countdown_and_single_clip(tmp_path: Path) -> None:
    _, _, delta, _ = await _run("rank my clips as a countdown", _state(BUNNY, BIKES), tmp_path)
    assert [s["n"] for s in _track(delta["draft"], 0)["sg"]] == ["bigbuckbunny.mp4", "bikes.mp4"]
    _, _, delta, _ = await _run("rank my clips", _state(BIKES), tmp_path)
    draft = delta["draft"]
    check_draft(draft)
    segs = _track(draft, 0)["sg"]
    assert len(segs) == 5 and segs[0]["n"] == "bikes.mp4" and segs[0]["ss"] == 2000  # "Play 2"
    assert [s["sc"] for s in segs] == sorted((s["sc"] for s in segs), reverse=True)


async def test_highlight_reel_cuts_best_windows_and_adds_music(tmp_path: Path) -> None:
    _, steps, delta, ctx = await _run(
        "make a highlight reel with transitions and music", _state(BUNNY, BIKES), tmp_path, "ai-video-editor-gaming"
    )
    assert _tools(steps) == ["analyze_video", "generate_music", "edit_multitrack"]
    draft = delta["draft"]
    check_draft(draft)
    segs = _track(draft, 0)["sg"]
    # 15.3 s of footage -> a reel of about a quarter, in whole beats of the epic music
    # (128 BPM): 8 beats = 3.75 s, two cuts of 4 beats, every clip represented, in story order
    beat = 60_000 / 128
    assert draft["d"] == 3750 and len(segs) == 2
    assert [s["n"] for s in segs] == ["bigbuckbunny.mp4", "bikes.mp4"]
    assert all(abs(s["st"] / beat - round(s["st"] / beat)) < 0.01 for s in segs)
    assert all(s["tr"]["type"] == "fade" for s in segs[1:])
    analyses = {a["filename"]: a for a in delta["video_analyses"]}
    for s in segs:  # each clip's best window
        assert s["sc"] == max(w["score"] for w in analyses[s["n"]]["segments"])
    bgm = _track(draft, 1)["sg"][0]
    assert bgm["n"] == "Epic" and bgm["vol"] == 0.35 and (bgm["st"], bgm["d"]) == (0, draft["d"])
    music = ctx.resolve(bgm["src"])
    info = media.probe(music)
    assert info.kind == "audio" and abs(info.duration_s - draft["d"] / 1000) < 0.2
    assert delta["generated_media"][-1]["url"] == bgm["src"]
    assert "Drag" in _answer(steps)
    # the drafts with transitions and music render (small canvas to keep the test fast)
    small = copy.deepcopy(draft)
    small["m"].update(width=320, height=180)
    result = render_draft(small, ctx.resolve, tmp_path / "reel.mp4", preset="ultrafast")
    assert abs(result.duration_s - draft["d"] / 1000) < 0.1


async def test_example_clip_trims_to_five_seconds_with_title(tmp_path: Path) -> None:
    _, steps, delta, ctx = await _run(
        "make a short example clip with a title", _state(BIKES, BUNNY), tmp_path, "what-is-video-clip-example"
    )
    assert _tools(steps) == ["edit_multitrack"]
    draft = delta["draft"]
    check_draft(draft)
    segs = _track(draft, 0)["sg"]
    # the latest clip
    assert len(segs) == 1 and segs[0]["n"] == "bigbuckbunny.mp4" and segs[0]["d"] == 5000 and draft["d"] == 5000
    title = _track(draft, 7, "title")["sg"][0]
    assert (title["txt"], title["st"], title["d"]) == ("Example Clip", 0, 3000)
    _, _, delta, _ = await _run("做一个示例短片，标题：“夏日”", _state(BUNNY), tmp_path)
    assert _track(delta["draft"], 7, "title")["sg"][0]["txt"] == "夏日"
    assert delta["draft"]["d"] == 5000
    small = copy.deepcopy(draft)
    small["m"].update(width=320, height=180)
    assert render_draft(small, ctx.resolve, tmp_path / "ex.mp4", preset="ultrafast").size > 0


async def test_background_music_over_whole_video(tmp_path: Path) -> None:
    _, steps, delta, ctx = await _run("add some chill background music", _state(BUNNY, BIKES), tmp_path, "game-music")
    assert _tools(steps) == ["generate_music", "edit_multitrack"]
    draft = delta["draft"]
    check_draft(draft)
    assert draft["d"] == 15312
    seg = _track(draft, 1)["sg"][0]
    assert seg["n"] == "Chill" and seg["vol"] == 0.35 and seg["fi"] == 500 and seg["fo"] == 1000
    assert (seg["st"], seg["d"]) == (0, 15312)
    assert ctx.resolve(seg["src"]).is_file()
    # removing it
    state = _state(BUNNY, BIKES)
    state["draft"] = draft
    _, steps, delta, _ = await _run("remove the music", state, tmp_path)
    assert _tools(steps) == ["edit_multitrack"]
    assert [t["tt"] for t in delta["draft"]["t"]] == [0]
    check_draft(delta["draft"])


async def test_music_prefers_uploaded_audio(tmp_path: Path) -> None:
    state = _state(BUNNY)
    song = media.make_music(tmp_path / "song.m4a", 3.0, style="chill")
    state["video_infos"].append(
        {"filename": "song.m4a", "file_type": "audio", "cdn_url": "http://emu.test/cdn/x/song.m4a", "duration": 3.0}
    )
    _, steps, delta, _ = await _run("add background music", state, tmp_path)
    assert _tools(steps) == ["edit_multitrack"]
    seg = _track(delta["draft"], 1)["sg"][0]
    assert seg["src"] == "http://emu.test/cdn/x/song.m4a" and seg["n"] == "song.m4a"
    assert song.is_file()


async def test_add_title(tmp_path: Path) -> None:
    _, steps, delta, _ = await _run("add title 'Final Standings'", _state(BUNNY), tmp_path)
    draft = delta["draft"]
    check_draft(draft)
    seg = _track(draft, 7, "title")["sg"][0]
    assert (seg["txt"], seg["st"], seg["d"], seg["pos"]) == ("Final Standings", 0, 3000, "center")
    assert draft["m"]["title"] == "Final Standings"
    assert _answer(steps) == 'Added the title "Final Standings" for the first 3 seconds.'


async def test_requests_without_clips_or_unknown_change_nothing(tmp_path: Path) -> None:
    for text in ("add a ranked leaderboard overlay showing the top performers", "make a highlight reel"):
        _, steps, delta, _ = await _run(text, initial_session_state(), tmp_path)
        assert delta == {} and not _tools(steps)
        assert "upload" in _answer(steps)
    _, steps, delta, _ = await _run("what's the weather like?", _state(BUNNY), tmp_path)
    assert delta == {} and not _tools(steps) and "leaderboard" in _answer(steps)
    _, steps, delta, _ = await _run("加一个排行榜", initial_session_state(), tmp_path)
    assert "上传" in _answer(steps)


async def test_export_request_answers_with_gui_phrasing(tmp_path: Path) -> None:
    state = _state(BUNNY)
    _, _, delta, _ = await _run("add title 'X'", state, tmp_path)
    state["draft"] = delta["draft"]
    _, steps, delta, _ = await _run("export the video", state, tmp_path)
    assert delta == {} and "Export button" in _answer(steps)
    _, steps, _, _ = await _run("导出视频", state, tmp_path)
    assert "导出按钮" in _answer(steps)
    _, steps, _, _ = await _run("export the video", state, tmp_path, gui_phrasing=False)
    assert "button" not in _answer(steps).lower()


async def test_broken_media_answers_without_edit(tmp_path: Path) -> None:
    state = _state(BUNNY)
    ctx = _ctx(state, tmp_path)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    ctx.resolve = lambda url: broken
    ctx.score_cache = {}
    intent = agent.decide("add a leaderboard", None, ctx.state)
    steps = [s async for s in agent.run(intent, ctx)]
    assert not any(isinstance(s, agent.ToolResult) and "draft" in s.state_delta for s in steps)
    assert "couldn't process" in _answer(steps)
