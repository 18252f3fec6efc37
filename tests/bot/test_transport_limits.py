"""Connections to NemoVideo are sized for many agent runs at once (issue 12: aiohttp's default of
100 capped the SSE streams at 100)."""

from __future__ import annotations

import asyncio

from aiohttp import web

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
