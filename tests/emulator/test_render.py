"""emulator.render: real ffmpeg renders of drafts built from the fixture clips (tests/fixtures)."""

from __future__ import annotations

import array
import math
import time
from pathlib import Path

import av
import pytest

from emulator import media, render
from emulator.render import RenderError, RenderResult, render_draft

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BBB = FIXTURES / "bigbuckbunny.mp4"
BIKES = FIXTURES / "bikes.mp4"

BBB_URL = "http://127.0.0.1:8765/cdn/ab12/bigbuckbunny.mp4"
BIKES_URL = "http://127.0.0.1:8765/cdn/cd34/bikes.mp4"
MUSIC_URL = "http://127.0.0.1:8765/cdn/gen_c3/lofi.m4a"


# --------------------------------------------------------------------------- helpers


def audio_rms(path: Path, start_s: float = 0.0, end_s: float = math.inf) -> float:
    """RMS of the decoded audio between start_s and end_s (float samples, full scale 1.0)."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=48000)
        total, n, pos = 0.0, 0, 0
        for frame in c.decode(stream):
            for out in resampler.resample(frame):
                data = array.array("f", bytes(out.planes[0]))[: out.samples * 2]
                a = max(0, int(start_s * 48000) - pos) * 2
                b = max(0, min(out.samples, int(min(end_s, 1e6) * 48000) - pos)) * 2
                chunk = data[a:b]
                total += sum(x * x for x in chunk)
                n += len(chunk)
                pos += out.samples
    return math.sqrt(total / n) if n else 0.0


def frame_at(path: Path, t: float) -> av.VideoFrame:
    """The first decoded frame at or after t seconds."""
    with av.open(str(path)) as c:
        last = None
        for frame in c.decode(video=0):
            last = frame
            if frame.time is not None and frame.time >= t - 1e-6:
                return frame
    assert last is not None
    return last


def luma_mean(frame: av.VideoFrame, box: tuple[float, float, float, float]) -> float:
    """Mean luma (0-255) in a box given as fractions of the frame (x0, y0, x1, y1)."""
    gray = frame.reformat(format="gray")
    w, h = gray.width, gray.height
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    plane = gray.planes[0]
    buf, stride = bytes(plane), plane.line_size
    total = sum(sum(buf[y * stride + x0 : y * stride + x1]) for y in range(y0, y1))
    return total / ((x1 - x0) * (y1 - y0))


def out_streams(path: Path) -> dict:
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return {
            "duration": c.duration / 1e6,
            "vcodec": v.codec_context.name,
            "size": (v.codec_context.width, v.codec_context.height),
            "pix_fmt": v.codec_context.pix_fmt,
            "fps": float(v.average_rate),
            "vdur": float(v.duration * v.time_base),
            "acodec": a.codec_context.name,
            "rate": a.codec_context.sample_rate,
            "channels": a.codec_context.channels,
            "adur": float(a.duration * a.time_base),
        }


def video_track(*segs: dict) -> dict:
    return {"id": "trk_v1", "tt": 0, "n": "Video", "sg": list(segs)}


def canvas(w: int, h: int) -> dict:
    return {"title": "t", "width": w, "height": h, "fps": 30}


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return media.make_music(tmp_path_factory.mktemp("music") / "lofi.m4a", 6.0, style="lofi")


@pytest.fixture(scope="module")
def resolve(music: Path):
    table = {BBB_URL: BBB, BIKES_URL: BIKES, MUSIC_URL: music}

    def _resolve(src: str) -> Path:
        return table[src]

    return _resolve


LEADERBOARD = {
    "id": "trk_t1", "tt": 7, "n": "Leaderboard", "sg": [
        {"id": "seg_c", "st": 0, "d": 5300, "n": "Top performers", "txt": "Top performers",
         "kind": "leaderboard", "pos": "right",
         "rows": [{"rank": 1, "name": "Player 1", "score": 92.0},
                  {"rank": 2, "name": "Player 2", "score": 81.5},
                  {"rank": 3, "name": "bikes.mp4", "score": 64.25}]}],
}  # fmt: skip
BGM = {
    "id": "trk_b1", "tt": 1, "n": "BGM", "sg": [
        {"id": "seg_b", "st": 0, "d": 5300, "n": "Lo-fi", "src": MUSIC_URL, "vol": 0.35, "fi": 500, "fo": 1000}],
}  # fmt: skip


# --------------------------------------------------------------------------- the demo draft at 1080p


@pytest.fixture(scope="module")
def demo_render(tmp_path_factory: pytest.TempPathFactory, resolve) -> tuple[RenderResult, list[float], float]:
    """bigbuckbunny 5.3 s + BGM + leaderboard at 1920x1080, as in docs/draft-format.md."""
    draft = {
        "t": [video_track({"id": "seg_a", "st": 0, "d": 5300, "n": "bigbuckbunny.mp4", "src": BBB_URL, "ss": 0}),
              BGM, LEADERBOARD],
        "d": 5300,
        "m": canvas(1920, 1080),
    }  # fmt: skip
    seen: list[float] = []
    out = tmp_path_factory.mktemp("demo") / "out" / "demo.mp4"
    t0 = time.perf_counter()
    result = render_draft(draft, resolve, out, progress=seen.append)
    return result, seen, time.perf_counter() - t0


def test_demo_render_format(demo_render) -> None:
    result, _, elapsed = demo_render
    print(f"1080p 5.3 s render with leaderboard + BGM took {elapsed:.2f} s")
    assert result.path.is_file()
    assert result.size == result.path.stat().st_size > 100_000
    assert result.duration_s == pytest.approx(5.3, abs=0.05)
    s = out_streams(result.path)
    assert s["vcodec"] == "h264" and s["pix_fmt"] == "yuv420p"
    assert s["size"] == (1920, 1080)
    assert s["fps"] == pytest.approx(30.0)
    assert s["acodec"] == "aac" and s["rate"] == 48000 and s["channels"] == 2
    assert s["duration"] == pytest.approx(5.3, abs=0.2)
    assert s["vdur"] == pytest.approx(5.3, abs=0.1)
    assert s["adur"] == pytest.approx(5.3, abs=0.1)
    assert not list(result.path.parent.glob("*.part"))
    with open(result.path, "rb") as f:  # +faststart: moov before mdat
        head = f.read(64 * 1024)
    moov, mdat = head.find(b"moov"), head.find(b"mdat")
    assert moov != -1 and (mdat == -1 or moov < mdat)


def test_demo_render_progress(demo_render) -> None:
    _, seen, _ = demo_render
    assert seen[-1] == 100
    assert all(0 <= p <= 100 for p in seen)
    assert seen == sorted(seen)
    assert len(seen) >= 2


def test_leaderboard_changes_pixels_in_its_panel(demo_render, resolve, tmp_path: Path) -> None:
    result, _, _ = demo_render
    plain = render_draft(
        {"t": [video_track({"st": 0, "d": 1000, "src": BBB_URL})], "m": canvas(1920, 1080)},
        resolve,
        tmp_path / "plain.mp4",
    )
    with_board, without = frame_at(result.path, 0.5), frame_at(plain.path, 0.5)
    panel = (0.72, 0.43, 0.95, 0.60)  # inside the right-hand panel
    elsewhere = (0.05, 0.10, 0.40, 0.40)  # far from it
    assert abs(luma_mean(with_board, panel) - luma_mean(without, panel)) > 15
    assert abs(luma_mean(with_board, elsewhere) - luma_mean(without, elsewhere)) < 3


def test_bgm_is_mixed_over_the_clip_audio(demo_render, resolve, music: Path, tmp_path: Path) -> None:
    result, _, _ = demo_render
    no_bgm = render_draft(
        {"t": [video_track({"st": 0, "d": 5300, "src": BBB_URL})], "m": canvas(320, 180)},
        resolve,
        tmp_path / "nobgm.mp4",
    )
    clip = audio_rms(no_bgm.path, 1.0, 4.0)
    bed = 0.35 * audio_rms(music, 1.0, 4.0)  # BGM vol 0.35, past the fade-in
    mixed = audio_rms(result.path, 1.0, 4.0)
    assert clip > 0.005 and bed > 0.005
    # uncorrelated signals add in power; a normalising amix would halve both (about 0.5x)
    assert mixed == pytest.approx(math.hypot(clip, bed), rel=0.15)


# --------------------------------------------------------------------------- smaller renders


def test_bgm_over_clip_without_audio(resolve, tmp_path: Path) -> None:
    silent = render_draft(
        {"t": [video_track({"st": 0, "d": 3000, "src": BIKES_URL, "ss": 1000})], "m": canvas(640, 360)},
        resolve,
        tmp_path / "silent.mp4",
    )
    s = out_streams(silent.path)
    assert s["acodec"] == "aac"
    assert s["adur"] == pytest.approx(3.0, abs=0.1)
    assert audio_rms(silent.path) < 1e-4

    bgm = {"tt": 1, "sg": [{"st": 500, "d": 2500, "src": MUSIC_URL, "fi": 300, "fo": 300}]}
    with_music = render_draft(
        {"t": [video_track({"st": 0, "d": 3000, "src": BIKES_URL, "ss": 1000}), bgm], "m": canvas(640, 360)},
        resolve,
        tmp_path / "music.mp4",
    )
    s = out_streams(with_music.path)
    assert s["duration"] == pytest.approx(3.0, abs=0.2)
    assert s["adur"] == pytest.approx(3.0, abs=0.1)
    assert audio_rms(with_music.path, 0.0, 0.45) < 1e-3  # adelay: nothing before st
    assert audio_rms(with_music.path, 1.0, 2.5) > 0.01


def test_xfade_shortens_by_the_transition(resolve, tmp_path: Path) -> None:
    draft = {
        "t": [video_track(
            {"st": 0, "d": 3000, "src": BBB_URL},
            {"st": 3000, "d": 3000, "src": BIKES_URL, "ss": 2000, "tr": {"type": "fade", "d": 1000}},
        )],
        "m": canvas(640, 360),
    }  # fmt: skip
    result = render_draft(draft, resolve, tmp_path / "xfade.mp4")
    assert result.duration_s == pytest.approx(5.0, abs=0.05)
    s = out_streams(result.path)
    assert s["duration"] == pytest.approx(5.0, abs=0.2)
    assert s["vdur"] == pytest.approx(5.0, abs=0.1)
    assert s["adur"] == pytest.approx(5.0, abs=0.1)
    # bigbuckbunny is green, bikes is grey: mid-transition sits between the two
    full = (0.0, 0.0, 1.0, 1.0)
    a, mid, b = (luma_mean(frame_at(result.path, t), full) for t in (1.5, 2.5, 3.5))
    assert min(a, b) + 5 < mid < max(a, b) - 5

    plain = dict(draft, t=[video_track(draft["t"][0]["sg"][0], dict(draft["t"][0]["sg"][1], tr=None))])
    assert render_draft(plain, resolve, tmp_path / "concat.mp4").duration_s == pytest.approx(6.0, abs=0.05)


def test_draft_duration_pads_with_black_and_keeps_text(resolve, tmp_path: Path) -> None:
    draft = {
        "t": [
            video_track({"st": 0, "d": 1000, "src": BIKES_URL}),
            {"tt": 7, "sg": [{"st": 1000, "d": 1000, "txt": "The End", "kind": "title", "pos": "center"}]},
        ],
        "d": 2000,
        "m": canvas(640, 360),
    }
    result = render_draft(draft, resolve, tmp_path / "pad.mp4")
    assert out_streams(result.path)["duration"] == pytest.approx(2.0, abs=0.2)
    late = frame_at(result.path, 1.5)
    assert luma_mean(late, (0.0, 0.0, 0.15, 0.15)) < 25  # padded picture is black
    assert luma_mean(late, (0.3, 0.4, 0.7, 0.6)) > luma_mean(late, (0.0, 0.0, 0.15, 0.15)) + 10  # title shows


def test_awkward_text_renders(resolve, tmp_path: Path) -> None:
    texts = [
        'It\'s 100% "great": C:\\temp\\x; [a,b] {c} %{pts} $HOME',
        "你好，世界 — 排行榜",
        "line one\nline two: a much longer line that has to be wrapped on a small canvas",
    ]
    segs = [
        {"st": i * 300, "d": 300, "txt": t, "kind": k, "pos": p}
        for i, (t, k, p) in enumerate(zip(texts, ["title", "caption", "title"], ["top", "bottom", "left"], strict=True))
    ]
    segs.append(
        {
            "st": 0,
            "d": 900,
            "kind": "leaderboard",
            "n": "Top 'players': 100%",
            "pos": "left",
            "rows": [{"rank": i, "name": f"clip: {i} 'x' 50%", "score": 99.95 - i} for i in range(1, 40)],
        }
    )
    draft = {"t": [{"tt": 7, "sg": segs}], "m": canvas(320, 180)}  # fmt: skip
    result = render_draft(draft, resolve, tmp_path / "text.mp4")
    assert result.duration_s == pytest.approx(0.9, abs=0.05)
    assert out_streams(result.path)["size"] == (320, 180)


def test_renders_without_a_font(resolve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render.pipeline, "font_path", lambda: None)
    draft = {
        "t": [video_track({"st": 0, "d": 500, "src": BIKES_URL}),
              {"tt": 7, "sg": [{"st": 0, "d": 500, "txt": "no font", "kind": "title"},
                               {"st": 0, "d": 500, "kind": "leaderboard", "rows": [{"rank": 1, "name": "a", "score": 1}]}]}],
        "m": canvas(320, 180),
    }  # fmt: skip
    assert render_draft(draft, resolve, tmp_path / "nofont.mp4").path.is_file()


def test_image_source_and_gap(resolve, tmp_path: Path) -> None:
    png = tmp_path / "still.png"
    media.run_ffmpeg(["-loglevel", "error", "-f", "lavfi", "-i", "color=c=white:s=160x90", "-frames:v", "1", str(png)])
    table = {"img": png, BIKES_URL: BIKES}
    draft = {
        "t": [video_track({"st": 0, "d": 600, "src": "img"}, {"st": 1200, "d": 600, "src": BIKES_URL})],
        "m": canvas(320, 180),
    }
    result = render_draft(draft, table.__getitem__, tmp_path / "gap.mp4")
    assert result.duration_s == pytest.approx(1.8, abs=0.05)
    assert luma_mean(frame_at(result.path, 0.3), (0.2, 0.2, 0.8, 0.8)) > 200  # the white still
    assert luma_mean(frame_at(result.path, 0.9), (0.0, 0.0, 1.0, 1.0)) < 25  # the gap is black


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "draft",
    [
        {},
        {"t": []},
        {"t": [{"tt": 0, "sg": []}, {"tt": 1, "n": "BGM"}]},
        {"t": [{"tt": 5, "sg": [{"st": 0, "d": 1000}]}]},
    ],
)
def test_empty_draft(draft: dict, resolve, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="nothing to render"):
        render_draft(draft, resolve, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_unknown_source(resolve, tmp_path: Path) -> None:
    draft = {"t": [video_track({"st": 0, "d": 1000, "src": "http://127.0.0.1:8765/cdn/zz/missing.mp4"})]}
    with pytest.raises(RenderError, match="unknown source"):
        render_draft(draft, resolve, tmp_path / "x.mp4")

    def missing_file(src: str) -> Path:
        raise FileNotFoundError(src)

    with pytest.raises(RenderError):
        render_draft(draft, missing_file, tmp_path / "x.mp4")


def test_broken_source(tmp_path: Path) -> None:
    fake = tmp_path / "x.mp4"
    fake.write_text("not a video")
    draft = {"t": [video_track({"st": 0, "d": 1000, "src": "u"})]}
    with pytest.raises(RenderError, match="not usable media"):
        render_draft(draft, lambda _: fake, tmp_path / "out.mp4")


def test_ffmpeg_failure_carries_stderr(resolve, tmp_path: Path) -> None:
    draft = {"t": [video_track({"st": 0, "d": 500, "src": BIKES_URL})], "m": canvas(320, 180)}
    with pytest.raises(RenderError, match="ffmpeg failed") as info:
        render_draft(draft, resolve, tmp_path / "x.mp4", preset="no-such-preset")
    assert "preset" in str(info.value).lower()
    assert not list(tmp_path.glob("x.mp4*"))


def test_progress_exception_stops_the_render(resolve, tmp_path: Path) -> None:
    def cancel(_: float) -> None:
        raise RuntimeError("cancelled")

    draft = {"t": [video_track({"st": 0, "d": 3000, "src": BIKES_URL})], "m": canvas(320, 180)}
    with pytest.raises(RuntimeError, match="cancelled"):
        render_draft(draft, resolve, tmp_path / "x.mp4", progress=cancel)
    assert not list(tmp_path.glob("x.mp4*"))
