"""Connections to NemoVideo are sized for many agent runs at once (issue 12: aiohttp's default of
100 capped the SSE streams at 100)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.nemo.errors import NemoBadRequest, NemoFetchRefused
from bot.nemo.models import Attribution
from bot.nemo.transport import Transport

WANTED = 150


async def test_more_than_100_exchanges_are_in_flight_at_once():
    in_flight = 0
    everyone = asyncio.Event()

    async def hold(request):
        nonlocal in_flight
        in_flight += 1
        if in_flight >= WANTED:
            everyone.set()
        try:
            await asyncio.wait_for(everyone.wait(), 10)
        except TimeoutError:
            return web.json_response({"code": 500, "message": f"only {in_flight} at once"}, status=500)
        return web.json_response({"code": 0, "data": {}})

    app = web.Application()
    app.router.add_get("/hold", hold)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    transport = Transport(
        f"http://127.0.0.1:{runner.addresses[0][1]}", Attribution("video-leaderboard", "1.0.0", "test"), 30.0
    )
    try:
        results = await asyncio.gather(
            *(transport.send("GET", "/hold", attribution=None, token=None) for _ in range(WANTED)),
            return_exceptions=True,
        )
    finally:
        await transport.close()
        await runner.cleanup()
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert in_flight == WANTED


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_the_start_of_a_file_is_read_with_a_range_and_no_further(tmp_path):
    """``fetch_head`` (poster frames of videos too large to send): a server that honours Range
    sends the start; one that ignores it is read only up to the limit."""
    body = bytes(range(256)) * 40_000  # 10 MB
    (tmp_path / "big.mp4").write_bytes(body)
    seen: list[str | None] = []

    async def ranged(request):
        seen.append(request.headers.get("Range"))
        return web.FileResponse(tmp_path / "big.mp4")  # aiohttp answers Range with 206

    async def whole(request):
        seen.append(request.headers.get("Range"))
        response = web.StreamResponse()
        response.content_length = len(body)
        await response.prepare(request)
        for i in range(0, len(body), 65536):
            await response.write(body[i : i + 65536])
        return response

    app = web.Application()
    app.router.add_get("/ranged.mp4", ranged)
    app.router.add_get("/whole.mp4", whole)
    runner, url = await _serve(app)
    transport = Transport(url, Attribution("video-leaderboard", "1.0.0", "test"), 30.0)
    try:
        assert await transport.fetch_head(f"{url}/ranged.mp4", headers={}, max_bytes=1000) == body[:1000]
        assert await transport.fetch_head(f"{url}/whole.mp4", headers={}, max_bytes=300_000) == body[:300_000]
        with pytest.raises(NemoFetchRefused):  # the outbound rules hold: only the API's own host is trusted
            await transport.fetch_head("http://10.0.0.1/x.mp4", headers={}, max_bytes=1000)
        with pytest.raises(NemoBadRequest):
            await transport.fetch_head(f"{url}/missing.mp4", headers={}, max_bytes=1000)
    finally:
        await transport.close()
        await runner.cleanup()
    assert seen == ["bytes=0-999", "bytes=0-299999"]
