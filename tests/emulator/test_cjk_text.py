"""Chinese titles render as real glyphs, not as empty boxes ("tofu").

A grey clip gets a Chinese title, then each character of three common titles alone, through
the emulator renderer. With the CJK font every character draws its own glyph; with the
Latin font alone (the old behaviour) every character is the same empty box.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import pytest

from emulator import media, render
from emulator.media import fonts
from emulator.render import render_draft
from emulator.render.overlays import TextOverlays, overlay_filters
from emulator.render.timeline import TextSeg

W, H = 640, 360
TITLES = ("最终排名", "我的第一个短片", "精彩集锦")
CHARS = list(dict.fromkeys("".join(TITLES)))  # the distinct characters, in order
TITLE_S, GAP_S, CHAR_S = 0.4, 0.4, 0.2  # the whole title, nothing, then one character at a time
GRID = 16  # glyph images are compared as GRID x GRID ink densities


def _draft() -> dict:
    segs = [{"st": 0, "d": round(TITLE_S * 1000), "txt": TITLES[0], "kind": "title"}]
    t0 = TITLE_S + GAP_S
    segs += [{"st": round((t0 + i * CHAR_S) * 1000), "d": round(CHAR_S * 1000), "txt": ch, "kind": "title"}
             for i, ch in enumerate(CHARS)]  # fmt: skip
    total = t0 + len(CHARS) * CHAR_S
    return {
        "t": [{"tt": 0, "sg": [{"st": 0, "d": round(total * 1000), "src": "grey"}]}, {"tt": 7, "sg": segs}],
        "d": round(total * 1000),
        "m": {"width": W, "height": H},
    }


def _times() -> dict[str, float]:
    """Sample time (mid-segment) per frame of interest: ``title``, ``none``, then each character."""
    t0 = TITLE_S + GAP_S
    out = {"title": TITLE_S / 2, "none": TITLE_S + GAP_S / 2}
    out.update({ch: t0 + (i + 0.5) * CHAR_S for i, ch in enumerate(CHARS)})
    return out


def gray_frames(path: Path, times: dict[str, float]) -> dict[str, list[bytes]]:
    """The luma rows of the first frame at or after each time."""
    want = sorted(times.items(), key=lambda kv: kv[1])
    out: dict[str, list[bytes]] = {}
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            while want and frame.time is not None and frame.time >= want[0][1] - 1e-6:
                gray = frame.reformat(format="gray")
                plane = gray.planes[0]
                buf, stride = bytes(plane), plane.line_size
                out[want.pop(0)[0]] = [buf[y * stride : y * stride + gray.width] for y in range(gray.height)]
            if not want:
                break
    assert not want, f"no frames for {want}"
    return out


def ink(rows: list[bytes], threshold: int = 180) -> list[tuple[int, int]]:
    """Coordinates of the white text pixels (the clip is mid grey, the title box darker)."""
    return [(x, y) for y, row in enumerate(rows) for x, v in enumerate(row) if v > threshold]


def glyph_image(rows: list[bytes]) -> list[float]:
    """The ink inside its bounding box as GRID x GRID densities (0..1)."""
    pts = ink(rows)
    assert len(pts) > 30, "no glyph drawn"
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts) + 1
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts) + 1
    cells = [0.0] * (GRID * GRID)
    counts = [0] * (GRID * GRID)
    for y in range(y0, y1):
        gy = (y - y0) * GRID // (y1 - y0)
        row = rows[y]
        for x in range(x0, x1):
            i = gy * GRID + (x - x0) * GRID // (x1 - x0)
            counts[i] += 1
            cells[i] += row[x] > 180
    return [c / n if n else 0.0 for c, n in zip(cells, counts, strict=True)]


def distance(a: list[float], b: list[float]) -> float:
    """Mean absolute difference of two glyph images (0 same, 1 opposite)."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


@pytest.fixture(scope="module")
def grey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    png = tmp_path_factory.mktemp("grey") / "grey.png"
    media.run_ffmpeg(
        ["-loglevel", "error", "-f", "lavfi", "-i", "color=c=0x808080:s=160x90", "-frames:v", "1", str(png)]
    )
    return png


@pytest.fixture(scope="module")
def renders(grey: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[bytes]]]:
    """Frames of the draft rendered with the CJK font (``cjk``) and without it (``latin``)."""
    assert fonts.cjk_font_path() is not None, "no CJK font installed (pip install pylopdf-fonts-zh-cn)"
    folder = tmp_path_factory.mktemp("cjk")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for name in ("cjk", "latin"):
            if name == "latin":
                mp.setattr(render.pipeline, "cjk_font_path", lambda: None)
            result = render_draft(_draft(), {"grey": grey}.__getitem__, folder / f"{name}.mp4", preset="ultrafast")
            with av.open(str(result.path)) as c:
                v = c.streams.video[0].codec_context
                assert (v.width, v.height) == (W, H)
            out[name] = gray_frames(result.path, _times())
    return out


def test_the_cjk_font_comes_from_the_wheel() -> None:
    path = fonts.cjk_font_path()
    assert path is not None and path.is_file()
    assert path.name == "NotoSansSC-Regular.otf" and "pylopdf_fonts_zh_cn" in str(path)
    assert path.read_bytes()[:4] in (b"OTTO", b"\x00\x01\x00\x00", b"ttcf")
    assert "[" not in str(path) and "]" not in str(path)


def test_has_cjk_and_font_choice() -> None:
    for text in (*TITLES, "Final 排行榜", "ひらがな", "한국어", "全角！"):
        assert fonts.has_cjk(text), text
        assert fonts.font_for(text) == fonts.cjk_font_path()
    for text in ("Final Standings", "Ünïcödé — 100%", ""):
        assert not fonts.has_cjk(text), text
        assert fonts.font_for(text) == media.font_path()


def test_overlays_draw_chinese_with_the_cjk_font(tmp_path: Path) -> None:
    latin, cjk = Path("/fonts/latin.ttf"), Path("/fonts/cjk.otf")
    ov = TextOverlays(tmp_path, 1080, 1920, latin, cjk_font=cjk)
    segs = [
        TextSeg(0, 1000, {"txt": "最终排名", "kind": "title"}),
        TextSeg(0, 1000, {"txt": "Final Standings", "kind": "caption"}),
        TextSeg(
            0, 1000, {"txt": "Top", "kind": "leaderboard", "rows": [{"rank": 1, "name": "我的第一个短片", "score": 9}]}
        ),
    ]
    title, caption, *board = overlay_filters(segs, 1.0, ov)
    assert "cjk.otf" in title and "latin.ttf" not in title
    assert "latin.ttf" in caption
    texts = [f for f in board if f.startswith("drawtext")]
    assert len(texts) == 3 and all("cjk.otf" in f for f in texts)  # one font for the whole panel


def test_chinese_title_draws_glyph_pixels(renders: dict[str, dict[str, list[bytes]]]) -> None:
    frames = renders["cjk"]
    with_title, without = frames["title"], frames["none"]
    changed = [
        (x, y)
        for y, (ra, rb) in enumerate(zip(with_title, without, strict=True))
        for x, (a, b) in enumerate(zip(ra, rb, strict=True))
        if abs(a - b) > 20
    ]
    assert len(changed) > 0.02 * W * H, f"only {len(changed)} pixels changed"
    assert all(W * 0.2 < x < W * 0.8 and H * 0.3 < y < H * 0.7 for x, y in changed)  # a centred title
    assert len(ink(with_title)) > 400
    assert not ink(without)


def test_each_character_has_its_own_glyph_not_a_tofu_box(renders: dict[str, dict[str, list[bytes]]]) -> None:
    glyphs = {ch: glyph_image(renders["cjk"][ch]) for ch in CHARS}
    tofu = {ch: glyph_image(renders["latin"][ch]) for ch in CHARS}
    pairs = list(itertools.combinations(CHARS, 2))
    cjk_d = {(a, b): distance(glyphs[a], glyphs[b]) for a, b in pairs}
    tofu_d = {(a, b): distance(tofu[a], tofu[b]) for a, b in pairs}
    print(f"\n{len(CHARS)} characters; CJK font: closest pair {min(cjk_d.values()):.3f} "
          f"{min(cjk_d, key=cjk_d.__getitem__)}; Latin font only: farthest pair {max(tofu_d.values()):.3f}")  # fmt: skip
    # the old font draws every character as the same box; the CJK font draws distinct glyphs
    assert max(tofu_d.values()) < 0.03
    assert min(cjk_d.values()) > 0.08
    for ch in CHARS:
        assert distance(glyphs[ch], tofu[ch]) > 0.08, ch
