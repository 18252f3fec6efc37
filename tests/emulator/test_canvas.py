"""The renderer honours the draft's canvas: 9:16, 1:1 and 16:9 outputs, pictures filled
sensibly, overlays placed inside the canvas, and an export through the emulator keeps it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from emulator import media
from emulator.app import Emulator
from emulator.config import EmulatorConfig
from emulator.render import render_draft
from emulator.render.graph import fill_mode
from emulator.render.timeline import canvas_size

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BUNNY = FIXTURES / "bigbuckbunny.mp4"
CANVASES = {"9:16": (1080, 1920), "1:1": (1080, 1080), "16:9": (1920, 1080)}
TIMES = {"plain": 0.15, "board": 0.45, "title": 0.75}  # what is on screen when
STEP = 2  # pixel sampling step for frame comparisons
ATTRIBUTION = {"X-Skill-Source": "video-leaderboard", "X-Skill-Version": "1.0.0", "X-Skill-Platform": "console"}

Gray = tuple[int, int, list[bytes]]  # width, height, luma rows


# --------------------------------------------------------------------------- helpers


def draft_for(src: str, w: int, h: int) -> dict[str, Any]:
    """0.9 s of ``src``; a leaderboard from 0.3 s, a title from 0.6 s."""
    rows = [{"rank": i, "name": f"clip_{i}.mp4", "score": 90.0 - 7 * i} for i in range(1, 6)]
    return {
        "t": [
            {"tt": 0, "n": "Video", "sg": [{"st": 0, "d": 900, "src": src}]},
            {"tt": 7, "n": "Leaderboard", "sg": [
                {"st": 300, "d": 300, "txt": "Top performers", "kind": "leaderboard", "pos": "right", "rows": rows}]},
            {"tt": 7, "n": "Title", "sg": [{"st": 600, "d": 300, "txt": "Final Standings", "kind": "title"}]},
        ],
        "d": 900,
        "m": {"title": "canvas", "width": w, "height": h, "fps": 30},
    }  # fmt: skip


def frames_at(path: Path, times: dict[str, float]) -> dict[str, Gray]:
    want = sorted(times.items(), key=lambda kv: kv[1])
    out: dict[str, Gray] = {}
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            while want and frame.time is not None and frame.time >= want[0][1] - 1e-6:
                g = frame.reformat(format="gray")
                buf, stride = bytes(g.planes[0]), g.planes[0].line_size
                out[want.pop(0)[0]] = (
                    g.width,
                    g.height,
                    [buf[y * stride : y * stride + g.width] for y in range(g.height)],
                )
            if not want:
                break
    assert not want
    return out


def changed_box(a: Gray, b: Gray, threshold: int = 25) -> tuple[int, tuple[int, int, int, int] | None]:
    """How many sampled pixels differ between two frames, and their bounding box (x0, y0, x1, y1)."""
    w, h, ra = a
    rb = b[2]
    n, xs, ys = 0, [], []
    for y in range(0, h, STEP):
        row_a, row_b = ra[y], rb[y]
        for x in range(0, w, STEP):
            if abs(row_a[x] - row_b[x]) > threshold:
                n += 1
                xs.append(x)
                ys.append(y)
    return n, ((min(xs), min(ys), max(xs), max(ys)) if n else None)


def band_stats(g: Gray, y0: float, y1: float) -> tuple[float, float]:
    """Mean luma and mean absolute horizontal gradient (sharpness) of rows y0..y1 (fractions)."""
    w, h, rows = g
    total = grad = 0
    n = 0
    for y in range(int(y0 * h), int(y1 * h), STEP):
        row = rows[y]
        for x in range(0, w - STEP, STEP):
            total += row[x]
            grad += abs(row[x + STEP] - row[x])
            n += 1
    return total / n, grad / n


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A detailed 16:9 picture (testsrc2 with pixel noise: sharp everywhere) as an image source:
    frames do not move, so any
    change between two output frames is an overlay."""
    png = tmp_path_factory.mktemp("still") / "pattern.png"
    media.run_ffmpeg(
        [
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=1,noise=alls=40:allf=u",
            "-frames:v",
            "1",
            str(png),
        ]
    )
    return png


@pytest.fixture(scope="module")
def rendered(still: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Gray]]]:
    folder = tmp_path_factory.mktemp("canvas")
    out = {}
    for name, (w, h) in CANVASES.items():
        path = folder / f"{name.replace(':', 'x')}.mp4"
        render_draft(draft_for("still", w, h), {"still": still}.__getitem__, path, preset="ultrafast")
        out[name] = (path, frames_at(path, TIMES))
    return out


# --------------------------------------------------------------------------- unit checks


@pytest.mark.parametrize(
    ("meta", "size"),
    [
        ({"width": 1080, "height": 1920}, (1080, 1920)),
        ({"aspect_ratio": "9:16"}, (1080, 1920)),
        ({"aspect_ratio": "1:1"}, (1080, 1080)),
        ({"ratio": "16:9"}, (1920, 1080)),
        ({"aspect_ratio": "4:5"}, (1080, 1350)),
        ({"aspect_ratio": "wide"}, (1920, 1080)),
        ({}, (1920, 1080)),
        ({"width": 1081, "height": 99999}, (1080, 4096)),
    ],
)
def test_canvas_size(meta: dict[str, Any], size: tuple[int, int]) -> None:
    assert canvas_size(meta) == size


@pytest.mark.parametrize(
    ("display", "canvas", "mode"),
    [
        ((1280, 720), (1920, 1080), "scale"),
        ((1280, 800), (1920, 1080), "cover"),  # 16:10 on 16:9: crop 10 %
        ((640, 272), (1920, 1080), "fit"),  # 2.35:1 on 16:9: would lose 25 %
        ((1280, 720), (1080, 1920), "fit"),  # landscape clip on a story
        ((1280, 720), (1080, 1080), "fit"),
        ((1080, 1350), (1080, 1920), "fit"),  # 4:5 on 9:16 would lose 30 %
        ((720, 1200), (1080, 1920), "cover"),  # 3:5 on 9:16: crop 6 %
        ((720, 1280), (1080, 1920), "scale"),
        (None, (1080, 1920), "fit"),
    ],
)
def test_fill_mode(display: tuple[int, int] | None, canvas: tuple[int, int], mode: str) -> None:
    assert fill_mode(display, *canvas) == mode


# --------------------------------------------------------------------------- renders on each canvas


@pytest.mark.parametrize("name", list(CANVASES))
def test_output_has_the_canvas_size(rendered, name: str) -> None:
    path, frames = rendered[name]
    w, h = CANVASES[name]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (w, h)
        assert float(v.sample_aspect_ratio or 1) == 1.0
        assert c.duration / 1e6 == pytest.approx(0.9, abs=0.1)
    assert all(g[:2] == (w, h) for g in frames.values())


@pytest.mark.parametrize("name", list(CANVASES))
def test_picture_fills_the_canvas(rendered, name: str) -> None:
    """16:9 picture: full frame on 16:9; on 9:16 and 1:1 fitted across the width, the bands
    above and below a blurred, dimmed copy of it (not black bars, not a stretched picture)."""
    _, frames = rendered[name]
    plain = frames["plain"]
    w, h = CANVASES[name]
    mid_mean, mid_sharp = band_stats(plain, 0.45, 0.55)
    assert mid_mean > 40 and mid_sharp > 4  # the pattern itself
    if name == "16:9":
        top_mean, top_sharp = band_stats(plain, 0.0, 0.05)
        assert top_mean > 40 and top_sharp > 4  # no bars
        return
    picture_h = round(w * 9 / 16)
    edge = (h - picture_h) / 2 / h  # the fitted picture spans edge..1-edge
    top_mean, top_sharp = band_stats(plain, 0.0, edge * 0.8)
    bottom_mean, bottom_sharp = band_stats(plain, 1 - edge * 0.8, 1.0)
    for mean, sharp in ((top_mean, top_sharp), (bottom_mean, bottom_sharp)):
        assert mean > 25, "black bars instead of a blurred background"
        assert sharp < mid_sharp / 3, "the background is not blurred"
    _, inside_sharp = band_stats(plain, edge + 0.02, edge + 0.06)
    assert inside_sharp > 4  # the sharp picture starts right after the band


@pytest.mark.parametrize("name", list(CANVASES))
def test_leaderboard_panel_lies_inside_the_canvas(rendered, name: str) -> None:
    _, frames = rendered[name]
    w, h = CANVASES[name]
    n, box = changed_box(frames["board"], frames["plain"])
    assert box is not None and n * STEP * STEP > 0.03 * w * h, f"the leaderboard barely shows ({n} samples)"
    x0, y0, x1, y1 = box
    margin = 0.02 * min(w, h)
    assert margin < x0 and x1 < w - margin and margin < y0 and y1 < h - margin, box  # inside, off the edges
    assert (x0 + x1) / 2 > w / 2  # pos "right"
    assert abs((y0 + y1) / 2 - h / 2) < 0.1 * h  # vertically centred
    assert x1 - x0 >= 0.3 * min(w, h)  # wide enough to read names on a narrow canvas


@pytest.mark.parametrize("name", list(CANVASES))
def test_title_is_centred_inside_the_canvas(rendered, name: str) -> None:
    _, frames = rendered[name]
    w, h = CANVASES[name]
    n, box = changed_box(frames["title"], frames["plain"])
    assert box is not None and n > 200, f"the title barely shows ({n} samples)"
    x0, y0, x1, y1 = box
    assert x0 > 0 and x1 < w - 1 and y0 > 0 and y1 < h - 1, box
    assert abs((x0 + x1) / 2 - w / 2) < 0.05 * w
    assert abs((y0 + y1) / 2 - h / 2) < 0.05 * h


def test_type_size_follows_the_short_side(rendered) -> None:
    """All three canvases have a 1080-pixel short side: the same title is the same size."""
    heights = {}
    for name in CANVASES:
        _, frames = rendered[name]
        _, box = changed_box(frames["title"], frames["plain"])
        assert box is not None
        heights[name] = box[3] - box[1]
    assert max(heights.values()) - min(heights.values()) <= 0.1 * min(heights.values()), heights


# --------------------------------------------------------------------------- an export through the emulator


async def _call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as r:
        body = await r.read()
        assert r.status == 200, body[:300]
        return json.loads(body)


async def test_export_keeps_a_portrait_canvas(tmp_path: Path) -> None:
    config = EmulatorConfig(step_delay_s=0.0, heartbeat_interval_s=0.02, silent_share=0.0, render_pending_s=0.02,
                            render_preset="ultrafast")  # fmt: skip
    async with Emulator(config) as emu, aiohttp.ClientSession() as http:
        base = emu.url
        login = await _call(http, "POST", f"{base}/api/auth/anonymous-token", headers={"X-Client-Id": "canvas"})
        auth = {**ATTRIBUTION, "Authorization": f"Bearer {login['data']['token']}"}
        task = await _call(http, "POST", f"{base}/api/tasks/me/with-session/nemo_agent", headers=auth,
                           json={"task_name": "story", "language": "zh"})  # fmt: skip
        sid = task["data"]["session_id"]
        form = aiohttp.FormData()
        with open(BUNNY, "rb") as fh:
            form.add_field("files", fh, filename=BUNNY.name, content_type="video/mp4")
            up = await _call(http, "POST", f"{base}/api/upload-video/nemo_agent/me/{sid}", headers=auth, data=form)
        url = up["data"]["files"][0]["cdn_url"]
        draft = draft_for(url, 1080, 1920)
        draft["t"][2]["sg"][0]["txt"] = "我的第一个短片"
        body = {"id": "render_story", "sessionId": sid, "draft": draft, "output": {"format": "mp4", "quality": "high"}}
        await _call(http, "POST", f"{base}/api/render/proxy/lambda", headers=auth, json=body)
        for _ in range(1200):
            view = await _call(http, "GET", f"{base}/api/render/proxy/lambda/render_story", headers=auth)
            data = view.get("data", view)
            if data["status"] in ("completed", "failed"):
                break
            await asyncio.sleep(0.05)
        assert data["status"] == "completed", data
        async with http.get(f"{base}/renders/render_story.mp4") as r:
            assert r.status == 200
            (tmp_path / "story.mp4").write_bytes(await r.read())
    with av.open(str(tmp_path / "story.mp4")) as c:
        v = c.streams.video[0].codec_context
        assert (v.width, v.height) == (1080, 1920)
        assert c.duration / 1e6 == pytest.approx(0.9, abs=0.1)
