"""Downloads: uploaded and generated media (``/cdn/...``), render outputs (``/renders/<id>.mp4``)
and the authenticated render download (contract section 5)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from emulator.records import RenderRecord
from emulator.routes.envelopes import render_error
from emulator.routes.renders import render_by_id
from emulator.routes.request_context import app_state, authenticate

__all__ = ["ROUTES", "cdn_file", "render_download", "render_file"]


def _read_head(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of a file (blocking)."""
    with path.open("rb") as fh:
        return fh.read(n)


async def _mp4_response(request: web.Request, rec: RenderRecord) -> web.StreamResponse:
    """A completed render's MP4; with ``config.break_downloads`` its first download breaks off
    half-way (the connection drops after half the promised bytes)."""
    assert rec.output_path is not None
    st = app_state(request)
    if st.config.break_downloads and rec.id not in st.broken_downloads:
        st.broken_downloads.add(rec.id)
        st.faults["broken_download"] = st.faults.get("broken_download", 0) + 1
        size = rec.output_path.stat().st_size
        resp = web.StreamResponse(headers={"Content-Type": "video/mp4", "Content-Length": str(size)})
        await resp.prepare(request)
        await resp.write(await st.file_io(_read_head, rec.output_path, size // 2))
        if request.transport is not None:
            request.transport.close()  # half the promised bytes, then the connection drops
        return resp
    return web.FileResponse(
        rec.output_path,
        headers={"Content-Type": "video/mp4", "Content-Disposition": f'attachment; filename="{rec.id}.mp4"'},
    )


async def cdn_file(request: web.Request) -> web.StreamResponse:
    """``GET /cdn/<folder>/<name>``: uploaded and generated media, no auth."""
    path = app_state(request).cdn_file(request.match_info["folder"], request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path)


async def render_download(request: web.Request) -> web.StreamResponse:
    """[5] ``GET /api/render/proxy/<id>/download`` (bearer): the MP4 bytes.

    404 for an unknown render, 409 when it has not completed.
    """
    user = authenticate(request)
    rec = render_by_id(request, user)
    if rec.status != "completed" or rec.output_path is None or not rec.output_path.is_file():
        raise render_error(409, f"render not completed (status {rec.status})")
    return await _mp4_response(request, rec)


async def render_file(request: web.Request) -> web.StreamResponse:
    """``GET /renders/<id>.mp4``: completed render outputs, no auth (``outputUrl``)."""
    name = request.match_info["name"]
    rec = app_state(request).renders.get(name[: -len(".mp4")] if name.endswith(".mp4") else "")
    if rec is None or rec.status != "completed" or rec.output_path is None or not rec.output_path.is_file():
        raise web.HTTPNotFound()
    return await _mp4_response(request, rec)


ROUTES = [
    web.get("/api/render/proxy/{rid}/download", render_download),
    web.get("/cdn/{folder}/{name}", cdn_file),
    web.get("/renders/{name}", render_file),
]
