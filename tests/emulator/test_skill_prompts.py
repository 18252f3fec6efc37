"""Every skill profile's example prompts (English and Chinese, ``bot/locales/*/nemobot.po``
``profile.*.example.N``) played against the emulator over HTTP on the fixture clips: the
resulting draft is checked for what the prompt describes (clip order, canvas, overlay text
and time, track kinds, durations, music mood)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import agent, media
from emulator.media import run_ffmpeg
from tests.conftest import BIKES, BUNNY

BUNNY_MS, BIKES_MS = 5312, 10000
FADE = 500


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON events of an SSE stream."""
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for line in text.split("\n"):
        if line.startswith("data:") and line[5:].strip():
            out.append(json.loads(line[5:]))
    return out


class Client:
    """A minimal NemoVideo client: one session of one skill profile."""

    def __init__(self, http: aiohttp.ClientSession, base: str, profile: str) -> None:
        self.http, self.base = http, base
        self.headers = {"X-Skill-Source": profile, "X-Skill-Version": "1.0.0", "X-Skill-Platform": "console"}
        self.sid = ""
        self.answers: list[str] = []

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        kw.setdefault("headers", self.headers)
        async with self.http.request(method, self.base + path, **kw) as r:
            body = await r.json()
        assert r.status == 200 and body.get("code", 0) == 0, body
        return body["data"]

    async def start(self, *clips: Path) -> Client:
        data = await self._json("POST", "/api/auth/anonymous-token", headers={"X-Client-Id": f"c-{id(self)}"})
        self.headers["Authorization"] = f"Bearer {data['token']}"
        self.sid = (await self._json("POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "p"}))[
            "session_id"
        ]
        if clips:
            await self.upload(*clips)
        return self

    async def upload(self, *clips: Path) -> None:
        form = aiohttp.FormData()
        for c in clips:
            form.add_field("files", io.BytesIO(c.read_bytes()), filename=c.name, content_type="video/mp4")
        await self._json("POST", f"/api/upload-video/nemo_agent/me/{self.sid}", data=form)

    async def say(self, text: str) -> dict[str, Any]:
        """Send one message; returns the session state after the run."""
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": self.sid,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }
        headers = {**self.headers, "Accept": "text/event-stream"}
        async with self.http.post(self.base + "/run_sse", json=body, headers=headers) as r:
            assert r.status == 200
            events = parse_events(await r.read())
        assert not any("error" in e or "errorCode" in e for e in events), events
        texts = [
            p["text"]
            for e in events
            if not e.get("partial")
            for p in (e.get("content") or {}).get("parts") or []
            if p.get("text") and not p.get("thought")
        ]
        assert texts, events
        self.answers.append(texts[-1])
        return await self.state()

    async def state(self) -> dict[str, Any]:
        return (await self._json("GET", f"/api/state/nemo_agent/me/{self.sid}/latest"))["state"]

    def resolve(self, emulator: Any, url: str) -> Path:
        return Path(emulator.state.resolve(url))


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def client(http, emulator):
    async def make(profile: str, *clips: Path) -> Client:
        return await Client(http, emulator.url, profile).start(*clips)

    return make


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory) -> Path:
    """A 2-minute 'gameplay recording' (moving test pattern, small and quick to make)."""
    path = tmp_path_factory.mktemp("rec") / "gameplay.mp4"
    run_ffmpeg(
        [
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=15:duration=120",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "30",
            str(path),
        ],
        timeout=120,
    )
    return path


# --------------------------------------------------------------------------- draft helpers


def tracks(draft: dict[str, Any], tt: int) -> list[dict[str, Any]]:
    return [t for t in draft["t"] if t["tt"] == tt]


def video(draft: dict[str, Any]) -> list[dict[str, Any]]:
    (track,) = tracks(draft, 0)
    return track["sg"]


def texts_of(draft: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for t in tracks(draft, 7) for s in t["sg"] if s.get("kind") == kind]


def track_by_id(draft: dict[str, Any], tid: str) -> dict[str, Any]:
    found = [t for t in draft["t"] if t["id"] == tid]
    assert len(found) == 1, draft
    return found[0]


def names(draft: dict[str, Any]) -> list[str]:
    return [s["n"] for s in video(draft)]


def canvas(state: dict[str, Any]) -> tuple[int, int]:
    m = state["draft"]["m"]
    cfg = state["canvas_config"]
    assert (cfg["width"], cfg["height"]) == (m["width"], m["height"])
    return m["width"], m["height"]


def consistent(draft: dict[str, Any]) -> None:
    """``d`` is the end of the video and nothing sticks out of it."""
    end = max(s["st"] + s["d"] for s in video(draft))
    assert draft["d"] == end
    for t in draft["t"]:
        for s in t["sg"]:
            assert s["d"] > 0 and s["st"] >= 0 and s["st"] + s["d"] <= end, s


def bgm(draft: dict[str, Any]) -> dict[str, Any]:
    (track,) = tracks(draft, 1)
    (seg,) = track["sg"]
    return seg


def style_name(style: str) -> str:
    """The BGM name for a mood (its nearest style while :mod:`emulator.media.music` lacks it)."""
    from emulator.agent.tools import STYLE_NAMES, playable_style

    return STYLE_NAMES[playable_style(style)]


def on_beat(ms: int, bpm: float) -> bool:
    beat = 60_000 / bpm
    return abs(ms / beat - round(ms / beat)) * beat <= 1.0


def bpm_of(style: str) -> float:
    from emulator.agent.tools import beat_ms

    return 60_000 / beat_ms(style)


# --------------------------------------------------------------------------- video-leaderboard

LEADERBOARD = {
    "en": (
        "add a ranked leaderboard overlay showing the top performers",
        "make it 9:16 vertical",
        "add text overlay 'GG' at the end",
        "add title 'Final Standings'",
    ),
    "zh": (
        "添加排名排行榜叠加层，展示表现最好的选手",
        "改成 9:16 竖屏",
        "在结尾添加文字「GG」",
        "添加标题「最终排名」",
    ),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_video_leaderboard_examples(client, lang: str) -> None:
    board, vertical, gg, title = LEADERBOARD[lang]
    c = await client("video-leaderboard", BUNNY, BIKES)

    state = await c.say(board)
    draft = state["draft"]
    consistent(draft)
    assert names(draft) == ["bigbuckbunny.mp4", "bikes.mp4"]  # the timeline is kept as uploaded
    assert draft["d"] == BUNNY_MS + BIKES_MS
    (panel,) = texts_of(draft, "leaderboard")
    assert (panel["st"], panel["d"]) == (0, draft["d"])
    assert [r["name"] for r in panel["rows"]] == ["bikes.mp4", "bigbuckbunny.mp4"]
    assert canvas(state) == (1920, 1080)

    state = await c.say(vertical)
    draft = state["draft"]
    assert canvas(state) == (1080, 1920) and state["canvas_config"]["aspect_ratio"] == "9:16"
    assert names(draft) == ["bigbuckbunny.mp4", "bikes.mp4"] and len(texts_of(draft, "leaderboard")) == 1
    assert "1080x1920" in c.answers[-1]

    state = await c.say(gg)
    draft = state["draft"]
    consistent(draft)
    (text,) = track_by_id(draft, "trk_t3")["sg"]
    assert text["txt"] == "GG" and text["kind"] == "caption"
    assert (text["st"], text["d"]) == (draft["d"] - 2000, 2000)  # the last 2 s
    assert canvas(state) == (1080, 1920)  # later edits keep the canvas
    assert len(texts_of(draft, "leaderboard")) == 1

    state = await c.say(title)
    draft = state["draft"]
    consistent(draft)
    (head,) = track_by_id(draft, "trk_t1")["sg"]
    words = "Final Standings" if lang == "en" else "最终排名"
    assert (head["txt"], head["kind"], head["st"], head["d"]) == (words, "title", 0, 3000)
    assert draft["m"]["title"] == words
    assert [s["txt"] for s in track_by_id(draft, "trk_t3")["sg"]] == ["GG"]
    assert canvas(state) == (1080, 1920)
    assert {t["id"] for t in draft["t"]} == {"trk_v1", "trk_t1", "trk_t2", "trk_t3"}


# --------------------------------------------------------------------------- video-leaderboard-ai

RANK = {
    "en": (
        "rank these videos by engagement score and show me the top performers",
        "rank my clips by action and add a leaderboard",
        "rank these clips and add title 'Top Plays'",
    ),
    "zh": (
        "按互动分数给这些视频排名，并展示表现最好的",
        "按动作强度给我的视频排名并添加排行榜",
        "给这些视频排名并添加标题「最佳操作」",
    ),
}


def check_ranked(draft: dict[str, Any]) -> None:
    """bikes.mp4 moves more than the bunny: it comes first, the bunny fades in after it,
    each clip's rank is on screen while it plays, the leaderboard spans the video."""
    consistent(draft)
    segs = video(draft)
    assert names(draft) == ["bikes.mp4", "bigbuckbunny.mp4"]
    assert segs[0]["sc"] > segs[1]["sc"]
    assert "tr" not in segs[0] and segs[1]["tr"] == {"type": "fade", "d": FADE}
    assert segs[1]["st"] == BIKES_MS - FADE and draft["d"] == BIKES_MS + BUNNY_MS - FADE
    ranks = track_by_id(draft, "trk_t4")["sg"]
    assert [r["txt"] for r in ranks] == ["#1 bikes", "#2 bigbuckbunny"]
    assert [(r["st"], r["st"] + r["d"]) for r in ranks] == [(0, segs[1]["st"]), (segs[1]["st"] + FADE, draft["d"])]
    assert all(r["kind"] == "caption" and r["pos"] == "top" for r in ranks)
    (panel,) = texts_of(draft, "leaderboard")
    assert [r["name"] for r in panel["rows"]] == ["bikes.mp4", "bigbuckbunny.mp4"]
    assert (panel["st"], panel["d"]) == (0, draft["d"])


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_video_leaderboard_ai_examples(client, lang: str) -> None:
    engagement, action, titled = RANK[lang]
    for prompt in (engagement, action):
        c = await client("video-leaderboard-ai", BUNNY, BIKES)
        state = await c.say(prompt)
        check_ranked(state["draft"])
        assert canvas(state) == (1920, 1080)
        assert "1. bikes.mp4" in c.answers[-1]
        if prompt == engagement:
            assert ("engagement" if lang == "en" else "互动分数") in c.answers[-1]

    c = await client("video-leaderboard-ai", BUNNY, BIKES)
    state = await c.say(titled)
    draft = state["draft"]
    check_ranked(draft)
    words = "Top Plays" if lang == "en" else "最佳操作"
    (head,) = track_by_id(draft, "trk_t1")["sg"]
    assert (head["txt"], head["kind"], head["st"], head["d"]) == (words, "title", 0, 3000)
    assert draft["m"]["title"] == words


async def test_rank_countdown_and_rank_on_a_vertical_canvas(client) -> None:
    c = await client("video-leaderboard-ai", BUNNY, BIKES)
    await c.say("make it vertical")
    state = await c.say("rank my clips as a countdown")
    draft = state["draft"]
    assert names(draft) == ["bigbuckbunny.mp4", "bikes.mp4"]  # best last
    assert [r["txt"] for r in track_by_id(draft, "trk_t4")["sg"]] == ["#2 bigbuckbunny", "#1 bikes"]
    assert canvas(state) == (1080, 1920)


# --------------------------------------------------------------------------- ai-video-editor-gaming

HIGHLIGHT = {
    "en": (
        "make a highlight reel with transitions and music",
        "add a 2-minute gameplay recording and make a highlight reel with epic music",
        "cut the best moments and add atmospheric music",
    ),
    "zh": (
        "制作带转场和音乐的高光集锦",
        "添加一段 2 分钟的游戏录像，做成配史诗感音乐的高光集锦",
        "剪出最精彩的时刻并添加氛围感音乐",
    ),
}


LENGTHS = {"bigbuckbunny.mp4": BUNNY_MS, "bikes.mp4": BIKES_MS, "gameplay.mp4": 120_000}


def check_reel(draft: dict[str, Any], total_ms: int, style: str, emulator: Any) -> None:
    """A reel of about a quarter of the footage (at least 3 s, at most 60 s, in whole beats),
    cut on the music's beat, with fades and generated music of the mood as long as the reel."""
    consistent(draft)
    bpm = bpm_of(style)
    beat = 60_000 / bpm
    if total_ms / 4 < 3000:
        assert 3000 <= draft["d"] < 3000 + beat, draft["d"]
    else:
        assert abs(draft["d"] - min(total_ms / 4, 60_000)) <= beat / 2 + 1, draft["d"]
    segs = video(draft)
    assert all(on_beat(s["st"], bpm) for s in segs) and on_beat(draft["d"], bpm)
    assert all(s["tr"]["type"] == "fade" for s in segs[1:]) and "tr" not in segs[0]
    assert all(s["ss"] + s["d"] <= LENGTHS[s["n"]] for s in segs)
    music = bgm(draft)
    assert music["n"] == style_name(style) and (music["st"], music["d"]) == (0, draft["d"])
    info = media.probe(Path(emulator.state.resolve(music["src"])))
    assert info.kind == "audio" and abs(info.duration_s * 1000 - draft["d"]) < 100


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_gaming_highlight_examples(client, emulator, long_recording, lang: str) -> None:
    reel, long_reel, atmospheric = HIGHLIGHT[lang]

    c = await client("ai-video-editor-gaming", BUNNY, BIKES)
    draft = (await c.say(reel))["draft"]
    check_reel(draft, BUNNY_MS + BIKES_MS, "epic", emulator)
    assert set(names(draft)) == {"bigbuckbunny.mp4", "bikes.mp4"}  # every clip is used
    assert draft["d"] == 3750  # 8 beats at 128 BPM

    c = await client("ai-video-editor-gaming", BUNNY, BIKES)
    draft = (await c.say(atmospheric))["draft"]
    check_reel(draft, BUNNY_MS + BIKES_MS, "atmospheric", emulator)

    if lang == "en":  # the long recording once (its music takes a while to make)
        c = await client("ai-video-editor-gaming", long_recording)
        draft = (await c.say(long_reel))["draft"]
        check_reel(draft, 120_000, "epic", emulator)
        assert draft["d"] == 30_000 and len(video(draft)) >= 6  # a quarter of 2 minutes, many cuts
    else:
        c = await client("ai-video-editor-gaming", BIKES)
        draft = (await c.say(long_reel))["draft"]
        check_reel(draft, BIKES_MS, "epic", emulator)


async def test_highlight_keeps_the_canvas_and_uses_later_uploads(client, emulator) -> None:
    c = await client("ai-video-editor-gaming", BUNNY)
    await c.say("make it square")
    await c.upload(BIKES)
    state = await c.say("make a highlight reel with chill music")
    assert canvas(state) == (1080, 1080)
    check_reel(state["draft"], BUNNY_MS + BIKES_MS, "chill", emulator)
    assert set(names(state["draft"])) == {"bigbuckbunny.mp4", "bikes.mp4"}


# --------------------------------------------------------------------------- what-is-video-clip-example

EXAMPLE = {
    "en": (
        "make a short example clip with a title",
        "make a 1:1 square example clip",
        "make a short clip with title 'My First Clip'",
    ),
    "zh": ("制作一个带标题的简短示例短片", "制作一个 1:1 方形示例短片", "制作一个示例短片，标题为「我的第一个短片」"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_example_clip_examples(client, lang: str) -> None:
    with_title, square, my_first = EXAMPLE[lang]
    c = await client("what-is-video-clip-example", BIKES, BUNNY)

    def check(draft: dict[str, Any], title: str) -> None:
        consistent(draft)
        (seg,) = video(draft)
        assert (seg["n"], seg["ss"], seg["d"], draft["d"]) == ("bigbuckbunny.mp4", 0, 5000, 5000)  # the latest clip
        (head,) = track_by_id(draft, "trk_t1")["sg"]
        assert (head["txt"], head["kind"], head["st"], head["d"]) == (title, "title", 0, 3000)
        assert draft["m"]["title"] == title

    state = await c.say(with_title)
    check(state["draft"], "Example Clip" if lang == "en" else "示例短片")
    assert canvas(state) == (1920, 1080)

    state = await c.say(square)
    check(state["draft"], "Example Clip" if lang == "en" else "示例短片")
    assert canvas(state) == (1080, 1080) and state["canvas_config"]["aspect_ratio"] == "1:1"

    state = await c.say(my_first)
    check(state["draft"], "My First Clip" if lang == "en" else "我的第一个短片")
    assert canvas(state) == (1080, 1080)  # kept

    state = await c.say(square)  # a new example keeps the title it had
    check(state["draft"], "My First Clip" if lang == "en" else "我的第一个短片")

    await c.upload(BIKES)  # a later upload: the next example uses it
    state = await c.say(with_title)
    (seg,) = video(state["draft"])
    assert seg["n"] == "bikes.mp4" and seg["d"] == 5000


# --------------------------------------------------------------------------- game-music

MUSIC = {
    "en": ("add background music", "add atmospheric background music", "add tense music", "remove the music"),
    "zh": ("添加背景音乐", "添加氛围感背景音乐", "添加紧张的音乐", "移除音乐"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_game_music_examples(client, emulator, lang: str) -> None:
    plain, atmospheric, tense, remove = MUSIC[lang]
    c = await client("game-music", BIKES)
    for prompt, style in ((plain, "epic"), (atmospheric, "atmospheric"), (tense, "tense")):
        draft = (await c.say(prompt))["draft"]
        consistent(draft)
        assert names(draft) == ["bikes.mp4"] and draft["d"] == BIKES_MS
        music = bgm(draft)
        assert music["n"] == style_name(style) and (music["st"], music["d"]) == (0, BIKES_MS)
        assert music["vol"] == 0.35
        generated = (await c.state())["generated_media"][-1]
        assert generated["url"] == music["src"] and generated["style"] == agent_style(style)
        assert Path(emulator.state.resolve(music["src"])).is_file()
    draft = (await c.say(remove))["draft"]
    assert [t["tt"] for t in draft["t"]] == [0] and names(draft) == ["bikes.mp4"]


def agent_style(style: str) -> str:
    from emulator.agent.tools import playable_style

    return playable_style(style)


def test_mood_words_pick_the_music_style() -> None:
    cases = {
        "atmospheric": ("add atmospheric music", "some ambient music please", "加点氛围音乐"),
        "chill": ("chill music", "something relaxed", "轻松的音乐"),
        "epic": ("epic music", "史诗音乐", "an intense soundtrack"),
        "tense": ("add tense music", "suspense music", "紧张的音乐"),
        "retro": ("retro music", "8-bit music", "复古音乐"),
        "lofi": ("lo-fi music", "lofi beats", "低保真音乐"),
    }
    for style, prompts in cases.items():
        for prompt in prompts:
            assert agent.explicit_style(prompt) == style, prompt
        assert style in media.MUSIC_STYLES  # emulator.media.music offers every mood


# --------------------------------------------------------------------------- texts and their time


@pytest.mark.parametrize(
    ("prompt", "kind", "words", "start", "length"),
    [
        ("add text overlay 'GG' at the end", "caption", "GG", BIKES_MS - 2000, 2000),
        ("add text 'Go!' at the start", "caption", "Go!", 0, 3000),
        ("add text 'Jump' at 0:05", "caption", "Jump", 5000, 3000),
        ("add a caption 'Wow' at 2s for 4 seconds", "caption", "Wow", 2000, 4000),
        ("add title: Race Day at the end", "title", "Race Day", BIKES_MS - 2000, 2000),
        ('add title "Intro" for 5 seconds', "title", "Intro", 0, 5000),
        ("在结尾添加文字「完」", "caption", "完", BIKES_MS - 2000, 2000),
        ("在开头添加文字「开始」", "caption", "开始", 0, 3000),
        ("在第5秒添加文字「冲」持续3秒", "caption", "冲", 5000, 3000),
        ("添加标题「决赛」，显示4秒", "title", "决赛", 0, 4000),
    ],
)
async def test_text_with_the_users_words_at_the_asked_time(client, prompt, kind, words, start, length) -> None:
    c = await client("video-leaderboard", BIKES)
    draft = (await c.say(prompt))["draft"]
    consistent(draft)
    (seg,) = texts_of(draft, kind)
    assert (seg["txt"], seg["st"], seg["d"]) == (words, start, length)


async def test_text_at_the_end_stays_at_the_end(client) -> None:
    c = await client("video-leaderboard", BUNNY)
    await c.say("add text overlay 'GG' at the end")
    await c.upload(BIKES)  # joins the timeline with the next edit
    draft = (await c.say("add background music"))["draft"]
    assert names(draft) == ["bigbuckbunny.mp4", "bikes.mp4"] and draft["d"] == BUNNY_MS + BIKES_MS
    (seg,) = texts_of(draft, "caption")
    assert (seg["st"], seg["d"]) == (draft["d"] - 2000, 2000)
    assert (bgm(draft)["st"], bgm(draft)["d"]) == (0, draft["d"])


# --------------------------------------------------------------------------- uploads join the timeline


async def test_every_upload_joins_the_timeline_once(client) -> None:
    c = await client("video-leaderboard", BUNNY)
    draft = (await c.say("add title 'One'"))["draft"]
    assert names(draft) == ["bigbuckbunny.mp4"] and draft["m"]["uploads"] == 1
    await c.upload(BIKES)
    assert names((await c.state())["draft"]) == ["bigbuckbunny.mp4", "bikes.mp4"]  # at once, before any edit
    draft = (await c.say("add title 'Two'"))["draft"]
    assert names(draft) == ["bigbuckbunny.mp4", "bikes.mp4"]
    assert video(draft)[1]["st"] == BUNNY_MS and draft["d"] == BUNNY_MS + BIKES_MS
    draft = (await c.say("add title 'Three'"))["draft"]
    assert names(draft) == ["bigbuckbunny.mp4", "bikes.mp4"]  # not twice
    # batch requests use all clips
    draft = (await c.say("add a leaderboard"))["draft"]
    assert len(texts_of(draft, "leaderboard")[0]["rows"]) == 2


async def test_upload_after_a_ranking_blends_in(client) -> None:
    c = await client("video-leaderboard-ai", BUNNY, BIKES)
    await c.say("rank my clips")
    await c.upload(BUNNY)
    draft = (await c.say("make it 16:9"))["draft"]
    segs = video(draft)
    assert len(segs) == 3 and segs[2]["tr"]["d"] == FADE and segs[2]["st"] == segs[1]["st"] + segs[1]["d"] - FADE
    consistent(draft)


async def test_aspect_without_clips_sets_the_canvas(client) -> None:
    c = await client("video-leaderboard")
    state = await c.say("竖屏")
    assert canvas(state) == (1080, 1920) and state["draft"]["t"] == []
    await c.upload(BUNNY)
    state = await c.say("add title 'Hi'")
    assert canvas(state) == (1080, 1920) and names(state["draft"]) == ["bigbuckbunny.mp4"]
    state = await c.say("make it landscape")
    assert canvas(state) == (1920, 1080) and state["canvas_config"]["aspect_ratio"] == "16:9"


def test_sync_uploads_appends_new_clips_to_a_timeline_with_video() -> None:
    from emulator.state import initial_session_state

    def info(name: str, dur: float) -> dict[str, Any]:
        return {"filename": name, "file_type": "video", "cdn_url": f"http://e/cdn/{name}/{name}", "duration": dur}

    state = initial_session_state()
    state["video_infos"] = [info("a.mp4", 4.0)]
    assert not agent.sync_uploads(state)  # no video yet: the next edit decides
    state["draft"]["t"] = [
        {"id": "trk_v1", "tt": 0, "n": "Video", "sg": [{"id": "seg_1", "st": 0, "d": 4000, "n": "a.mp4", "src": "x"}]}
    ]
    state["draft"]["m"]["uploads"] = 1
    state["video_infos"].append(info("b.mp4", 2.5))
    assert agent.sync_uploads(state)
    assert [(s["n"], s["st"], s["d"]) for s in state["draft"]["t"][0]["sg"]] == [
        ("a.mp4", 0, 4000),
        ("b.mp4", 4000, 2500),
    ]
    assert state["draft"]["d"] == 6500 and state["draft"]["m"]["uploads"] == 2
    assert not agent.sync_uploads(state)  # once
