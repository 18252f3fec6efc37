"""End to end: the demo on the real fixtures for each of the five profiles, output checked
with ffmpeg/PyAV (1920x1080, H.264, expected duration) and for the overlay or music really
being there."""

from __future__ import annotations

import array
import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import pytest

from bot.demo import run_demo
from emulator.media import ffmpeg_exe
from tests.conftest import BIKES, BUNNY

W, H = 1920, 1080


def gray_frame(path: Path, t: float, *, fit: bool = False) -> bytes:
    """One frame at ``t`` seconds as 1920x1080 8-bit luma; ``fit`` scales and pads a source like the renderer."""
    vf = f"scale={W}:{H}:force_original_aspect_ratio=decrease,pad={W}:{H}:(ow-iw)/2:(oh-ih)/2" if fit else "null"
    out = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-ss",
            str(t),
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-vf",
            vf,
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    assert len(out) == W * H
    return out


def region_diff(a: bytes, b: bytes, box: tuple[float, float, float, float]) -> float:
    """Mean absolute luma difference inside ``box`` (fractions x0, y0, x1, y1), sampled every 4 px."""
    x0, y0, x1, y1 = int(box[0] * W), int(box[1] * H), int(box[2] * W), int(box[3] * H)
    total = n = 0
    for y in range(y0, y1, 4):
        row = y * W
        for x in range(x0, x1, 4):
            total += abs(a[row + x] - b[row + x])
            n += 1
    return total / n


def audio_rms(path: Path) -> float:
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    samples = array.array("h", raw)
    return math.sqrt(sum(s * s for s in samples[::4]) / max(1, len(samples[::4])))


def video_info(path: Path) -> tuple[str, int, int, float, bool]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return (
            v.codec_context.name,
            v.codec_context.width,
            v.codec_context.height,
            c.duration / 1e6,
            bool(c.streams.audio),
        )


def timeline_end(transcript: str) -> float:
    match = re.search(r"Video: .*?\(0-([\d.]+)s\)", transcript)
    assert match, transcript
    return float(match.group(1))


PANEL = (0.68, 0.32, 0.96, 0.68)  # the leaderboard panel (default position: right)
LEFT = (0.03, 0.32, 0.30, 0.68)  # nothing drawn there


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("skill", "clips"),
    [
        ("video-leaderboard", [BUNNY]),
        ("video-leaderboard-ai", [BUNNY, BIKES]),
        ("ai-video-editor-gaming", [BUNNY, BIKES]),
        ("what-is-video-clip-example", [BIKES]),
        ("game-music", [BIKES]),
    ],
)
async def test_demo_profile(skill, clips, tmp_path):
    out = tmp_path / f"{skill}.mp4"
    buf = io.StringIO()
    saved = await run_demo(clips=clips, skill=skill, out=out, stream=buf)
    transcript = buf.getvalue()
    assert saved == out and out.is_file()
    assert "Traceback" not in transcript and "nmv_usr_" not in transcript
    assert "✅ Video ready (1920x1080" in transcript
    codec, width, height, duration, has_audio = video_info(out)
    assert (codec, width, height) == ("h264", 1920, 1080)
    assert has_audio
    assert abs(duration - timeline_end(transcript)) < 0.2

    if skill in ("video-leaderboard", "video-leaderboard-ai"):
        ranked = skill == "video-leaderboard-ai"  # by action: bikes first, a 0.5 s fade into bunny
        expected = sum(video_info(c)[3] for c in clips) - (0.5 if ranked else 0.0)
        assert abs(duration - expected) < 0.3  # whole clips, one after another
        rendered = gray_frame(out, 2.5)
        source = gray_frame(BIKES if ranked else BUNNY, 2.5, fit=True)
        assert region_diff(rendered, source, PANEL) > 20  # the leaderboard panel is drawn
        if ranked:  # the best clip comes first (the renderer fits it over a blurred copy of itself)
            assert region_diff(rendered, source, LEFT) < region_diff(rendered, gray_frame(BUNNY, 2.5, fit=True), LEFT)
        else:
            assert region_diff(rendered, source, LEFT) < 6  # the rest is the clip
    elif skill == "what-is-video-clip-example":
        assert duration == pytest.approx(5.0, abs=0.1)
        rendered = gray_frame(out, 1.5)
        source = gray_frame(BIKES, 1.5, fit=True)
        assert region_diff(rendered, source, (0.2, 0.35, 0.8, 0.65)) > 8  # the title is drawn
        assert region_diff(rendered, source, (0.0, 0.3, 0.15, 0.7)) < 6  # beside the title: the clip
    elif skill == "game-music":
        assert duration == pytest.approx(10.0, abs=0.1)
        assert audio_rms(out) > 300  # bikes.mp4 has no audio: what is heard is the music
    elif skill == "ai-video-editor-gaming":
        assert 3.0 < duration < 15.3  # a cut, shorter than the two clips
        assert audio_rms(out) > 300
        assert "fade" in transcript.lower() or "transition" in transcript.lower()


def test_readme_demo_command_without_a_clip(tmp_path):
    """`nemobot demo` as a newcomer runs it: no clip, sample made with ffmpeg, MP4 saved."""
    out = tmp_path / "demo.mp4"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "DATABASE_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "you: add a ranked leaderboard overlay showing the top performers" in proc.stdout
    assert "📋 Timeline (2 tracks)" in proc.stdout
    assert f"Saved {out}" in proc.stdout
    assert "h264 1920x1080" in proc.stdout
    assert proc.stderr.strip() == ""


def test_demo_reports_a_missing_clip(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--clip", str(tmp_path / "nope.mp4")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"demo failed: clip not found: {tmp_path / 'nope.mp4'}"
