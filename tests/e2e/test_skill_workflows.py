"""End to end: each skill's main example prompts through the bot's engine, the emulator's agent
and a real ffmpeg render, checked on the delivered MP4 with PyAV: canvas size, duration, clip
order (frames at segment starts against the source clips), an audio stream where music was
asked, changed pixels where a title or overlay was asked.

Frames are compared small (1/8 of the canvas, luma only) by mean absolute difference. A source
frame is put on the canvas as the renderer does (``emulator.render.graph.fill_mode``: scaled,
scaled and cropped, or fitted inside over a blurred copy); only the picture area is compared."""

from __future__ import annotations

import array
import asyncio
import copy
import math
from pathlib import Path
from typing import Any

import av
import pytest

from bot.boundary import Attachment, ConversationKey, IncomingMessage
from emulator.media import run_ffmpeg
from emulator.render import render_draft

try:
    from emulator.render.graph import fill_mode
except ImportError:  # a renderer that always fits the picture inside, over black

    def fill_mode(display: tuple[int, int] | None, w: int, h: int) -> str:
        return "fit"


from tests.conftest import BIKES, BUNNY
from tests.recording import RecordingChannel

pytestmark = pytest.mark.e2e

K = 8  # frames are compared at 1/K of the canvas


# --------------------------------------------------------------------------- the conversation


def msg(key: ConversationKey, text: str = "", *files: Path) -> IncomingMessage:
    attachments = tuple(
        Attachment(filename=f.name, size=f.stat().st_size, path=f, content_type="video/mp4") for f in files
    )
    return IncomingMessage(conversation=key, sender="u", text=text, attachments=attachments, message_id="m")


class Conversation:
    """One chat with the bot (its own project), in one skill."""

    def __init__(self, runtime: Any, emulator: Any, tmp_path: Path, key: ConversationKey) -> None:
        self.runtime, self.emulator, self.key = runtime, emulator, key
        self.channel = RecordingChannel(keep_dir=tmp_path / f"delivered-{key.chat_id}")

    async def send(self, text: str = "", *files: Path) -> str:
        runs = sum(self.emulator.state.runs_per_session.values())
        await self.runtime.engine.handle(msg(self.key, text, *files), self.channel)
        if text and not text.startswith("/"):  # the agent ran (a GUI step may add a follow-up run)
            assert sum(self.emulator.state.runs_per_session.values()) >= runs + 1, self.channel.texts()[-3:]
        return self.channel.texts()[-1]

    async def draft(self) -> dict[str, Any]:
        conv = await self.runtime.store.get_conversation(str(self.key))
        return copy.deepcopy(self.emulator.state.sessions[conv.session_id].state["draft"])

    async def export(self) -> Path:
        before = len(self.channel.files)
        await self.send("/export")
        assert len(self.channel.files) == before + 1, self.channel.texts()[-3:]
        return self.channel.files[-1]


@pytest.fixture
def chat(runtime, emulator, tmp_path):
    made: list[Conversation] = []

    async def start(skill: str, *clips: Path) -> Conversation:
        c = Conversation(runtime, emulator, tmp_path, ConversationKey(platform="console", chat_id=f"c{len(made)}"))
        made.append(c)
        await c.send(f"/skill {skill}")
        if clips:
            assert "Added" in await c.send("", *clips)
        return c

    return start


# --------------------------------------------------------------------------- reading the MP4


def info(path: Path) -> tuple[int, int, float, bool]:
    """Width, height, duration (s) and whether there is an audio stream."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.width, v.codec_context.height, (c.duration or 0) / 1e6, bool(c.streams.audio)


def _gray(frame: av.VideoFrame, w: int, h: int) -> list[int]:
    plane = frame.reformat(width=w, height=h, format="gray").planes[0]
    data, ls = bytes(plane), plane.line_size
    return [b for y in range(h) for b in data[y * ls : y * ls + w]]


def _frame(path: Path, t: float) -> av.VideoFrame:
    """The frame shown at ``t`` seconds."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert s.time_base is not None
        c.seek(int(max(0.0, t - 1.0) / s.time_base), stream=s, backward=True)
        found = None
        for f in c.decode(s):
            if f.time is not None and f.time > t + 1e-3:
                break
            found = f
        assert found is not None
        return found


def out_frame(path: Path, t: float, w: int, h: int) -> list[int]:
    """The output's frame at ``t``, 1/K size, luma."""
    return _gray(_frame(path, t), w // K, h // K)


def fitted_frame(src: Path, t: float, w: int, h: int) -> list[int]:
    """The source's frame at ``t`` on a ``w`` x ``h`` canvas as the renderer puts it there
    (1/K size; -1 where the canvas shows no picture of it)."""
    frame = _frame(src, t)
    cw, ch = w // K, h // K
    mode = fill_mode((frame.width, frame.height), w, h)
    if mode == "scale":
        return _gray(frame, cw, ch)
    pick = max if mode == "cover" else min
    scale = pick(cw / frame.width, ch / frame.height)
    fw, fh = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    pic = _gray(frame, fw, fh)
    out = [-1] * (cw * ch)
    x0, y0 = (cw - fw) // 2, (ch - fh) // 2  # negative when cropped
    for y in range(ch):
        sy = y - y0
        if not 0 <= sy < fh:
            continue
        for x in range(cw):
            sx = x - x0
            if 0 <= sx < fw:
                out[y * cw + x] = pic[sy * fw + sx]
    return out


def diff(a: list[int], b: list[int], w: int, h: int, box: tuple[float, float, float, float]) -> float:
    """Mean absolute difference inside ``box`` (fractions x0, y0, x1, y1 of the canvas),
    over the pixels both frames have (-1: outside a fitted picture)."""
    cw, ch = w // K, h // K
    total = n = 0
    for y in range(int(box[1] * ch), int(box[3] * ch)):
        for x in range(int(box[0] * cw), int(box[2] * cw)):
            p, q = a[y * cw + x], b[y * cw + x]
            if p >= 0 and q >= 0:
                total += abs(p - q)
                n += 1
    assert n > 20, "the box holds too little picture"
    return total / n


def shows(out: Path, t: float, src: Path, src_t: float, others: list[tuple[Path, float]], box: Any) -> float:
    """Assert the output at ``t`` shows ``src`` at ``src_t`` (closer than any of ``others``)."""
    w, h, _, _ = info(out)
    frame = out_frame(out, t, w, h)
    # the nearest source frame (the output is resampled to 30 fps)
    mine = min(diff(frame, fitted_frame(src, max(0.0, src_t + dt), w, h), w, h, box) for dt in (-0.034, 0.0, 0.034))
    for other, other_t in others:
        theirs = diff(frame, fitted_frame(other, other_t, w, h), w, h, box)
        assert mine < 12 and mine < theirs * 0.6, (t, src.name, mine, other.name, theirs)
    return mine


def audio_rms(path: Path) -> float:
    """RMS of the sound (16-bit mono samples)."""
    samples = array.array("h")
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0.0
        for frame in c.decode(c.streams.audio[0]):
            for out in resampler.resample(frame):
                samples.frombytes(bytes(out.planes[0])[: out.samples * 2])
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def region_max(frame: list[int], w: int, h: int, box: tuple[float, float, float, float]) -> int:
    """The brightest pixel inside ``box`` (fractions of the canvas)."""
    cw, ch = w // K, h // K
    return max(
        frame[y * cw + x]
        for y in range(int(box[1] * ch), int(box[3] * ch))
        for x in range(int(box[0] * cw), int(box[2] * cw))
    )


def video_segments(draft: dict[str, Any]) -> list[dict[str, Any]]:
    return next(t for t in draft["t"] if t["tt"] == 0)["sg"]


SOURCES = {"bigbuckbunny.mp4": BUNNY, "bikes.mp4": BIKES}


def check_order(out: Path, draft: dict[str, Any], box: Any, extra: dict[str, Path] | None = None) -> None:
    """Each video segment's picture, just after its transition, is its source clip at its in-point."""
    sources = {**SOURCES, **(extra or {})}
    segs = video_segments(draft)
    for seg in segs:
        lead = (seg.get("tr") or {}).get("d", 0) + 150
        t = (seg["st"] + lead) / 1000
        src_t = (seg["ss"] + lead) / 1000
        others = [(p, src_t) for name, p in sources.items() if name != seg["n"]]
        shows(out, t, sources[seg["n"]], src_t, others, box)


# --------------------------------------------------------------------------- the workflows


async def test_video_leaderboard_workflow(chat, emulator, tmp_path):
    """Leaderboard, 9:16, "GG" at the end, a title: a vertical video with all three on screen."""
    c = await chat("video-leaderboard", BUNNY)
    await c.send("add a ranked leaderboard overlay showing the top performers")
    assert "1080x1920" in await c.send("make it 9:16 vertical")
    await c.send("add text overlay 'GG' at the end")
    await c.send("add title 'Final Standings'")
    out = await c.export()
    w, h, duration, has_audio = info(out)
    assert (w, h) == (1080, 1920)
    assert abs(duration - 5.312) < 0.15 and has_audio

    # the same frames without the title and the text, for comparison
    draft = await c.draft()
    bare = copy.deepcopy(draft)
    bare["t"] = [t for t in bare["t"] if t["id"] not in ("trk_t1", "trk_t3")]
    plain = tmp_path / "plain.mp4"
    await asyncio.to_thread(render_draft, bare, emulator.state.resolve, plain, preset="ultrafast")
    assert info(plain)[:2] == (1080, 1920)

    def changed(t: float, box: tuple[float, float, float, float]) -> float:
        return diff(out_frame(out, t, w, h), out_frame(plain, t, w, h), w, h, box)

    centre = (0.1, 0.42, 0.9, 0.58)
    assert changed(1.5, centre) > 15  # "Final Standings" (0-3 s)
    assert changed(4.6, (0.43, 0.47, 0.57, 0.53)) > 12  # "GG" in the last 2 s
    assert changed(3.15, centre) < 3  # neither
    # the leaderboard panel (right) over the bunny, and the picture is the bunny
    frame = out_frame(out, 3.15, w, h)
    source = fitted_frame(BUNNY, 3.15, w, h)
    assert diff(frame, source, w, h, (0.6, 0.36, 0.93, 0.64)) > 20
    assert diff(frame, source, w, h, (0.03, 0.36, 0.4, 0.64)) < 10


async def test_video_leaderboard_ai_workflow(chat):
    """Ranking by engagement: bikes (more action) first, the bunny fades in after; each clip's
    rank at the top while it plays, the leaderboard on the right."""
    c = await chat("video-leaderboard-ai", BUNNY, BIKES)
    answer = await c.send("rank these videos by engagement score and show me the top performers")
    assert "1. bikes.mp4" in answer
    out = await c.export()
    w, h, duration, _ = info(out)
    assert (w, h) == (1920, 1080)
    assert abs(duration - (10.0 + 5.312 - 0.5)) < 0.15
    draft = await c.draft()
    assert [s["n"] for s in video_segments(draft)] == ["bikes.mp4", "bigbuckbunny.mp4"]
    check_order(out, draft, (0.05, 0.25, 0.6, 0.85))
    top = (0.4, 0.075, 0.6, 0.12)  # "#1 bikes", then "#2 bigbuckbunny"
    # bikes is letterboxed: its rank is drawn in white above the picture, over its dimmed blur
    frame = out_frame(out, 1.0, w, h)
    assert region_max(frame, w, h, top) > region_max(frame, w, h, (0.02, 0.075, 0.2, 0.12)) + 60
    # the bunny fills the frame: its rank changes the picture at the top
    frame = out_frame(out, 11.0, w, h)
    assert diff(frame, fitted_frame(BUNNY, 1.5, w, h), w, h, top) > 10
    panel = (0.72, 0.4, 0.94, 0.6)
    assert diff(out_frame(out, 5.0, w, h), fitted_frame(BIKES, 5.0, w, h), w, h, panel) > 15


async def test_gaming_highlight_workflows(chat, tmp_path):
    """Highlight reels: a quarter of the footage, cut on the beat, the chosen moments in story
    order, with music; a recording sent with the request is cut the same way."""
    c = await chat("ai-video-editor-gaming", BUNNY, BIKES)
    await c.send("make a highlight reel with transitions and music")
    out = await c.export()
    w, h, duration, has_audio = info(out)
    assert (w, h) == (1920, 1080)
    assert abs(duration - 3.75) < 0.1  # 15.3 s of footage -> 8 beats at 128 BPM
    assert has_audio and audio_rms(out) > 300
    draft = await c.draft()
    assert {s["n"] for s in video_segments(draft)} == {"bigbuckbunny.mp4", "bikes.mp4"}
    check_order(out, draft, (0.05, 0.3, 0.95, 0.7))

    recording = tmp_path / "gameplay.mp4"
    run_ffmpeg(
        [
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=30:duration=20",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            str(recording),
        ],
        timeout=60,
    )
    c = await chat("ai-video-editor-gaming")
    await c.send("add a 2-minute gameplay recording and make a highlight reel with epic music", recording)
    out = await c.export()
    w, h, duration, has_audio = info(out)
    assert (w, h) == (1920, 1080)
    beat = 60 / 128
    assert abs(duration - 5.0) < beat  # a quarter of 20 s, in whole beats
    assert abs(duration / beat - round(duration / beat)) < 0.1
    assert has_audio and audio_rms(out) > 300
    draft = await c.draft()
    assert {s["n"] for s in video_segments(draft)} == {"gameplay.mp4"} and len(video_segments(draft)) >= 2
    check_order(out, draft, (0.1, 0.3, 0.9, 0.7), extra={"gameplay.mp4": recording})


async def test_example_clip_workflow(chat):
    """A square example clip: 5 s of the latest clip, 1080x1080, the title on it."""
    c = await chat("what-is-video-clip-example", BIKES)
    await c.send("", BUNNY)
    await c.send("make a 1:1 square example clip")
    out = await c.export()
    w, h, duration, _ = info(out)
    assert (w, h) == (1080, 1080)
    assert abs(duration - 5.0) < 0.1
    box = (0.05, 0.25, 0.95, 0.75)
    shows(out, 3.6, BUNNY, 3.6, [(BIKES, 3.6)], box)  # the latest clip, after the title
    frame = out_frame(out, 1.5, w, h)
    assert diff(frame, fitted_frame(BUNNY, 1.5, w, h), w, h, (0.15, 0.44, 0.85, 0.56)) > 15  # "Example Clip"


async def test_game_music_workflow(chat):
    """Atmospheric music under a silent clip: an audio stream that is heard, the whole length."""
    c = await chat("game-music", BIKES)
    assert "Atmospheric" in await c.send("add atmospheric background music")
    out = await c.export()
    w, h, duration, has_audio = info(out)
    assert (w, h) == (1920, 1080)
    assert abs(duration - 10.0) < 0.1
    assert has_audio and audio_rms(out) > 300  # bikes.mp4 has no sound: this is the music
    shows(out, 5.0, BIKES, 5.0, [(BUNNY, 5.0)], (0.05, 0.2, 0.95, 0.8))
