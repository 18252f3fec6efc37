"""emulator.routes.sse: waiting with heartbeats, and cancellation while waiting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from emulator.config import EmulatorConfig
from emulator.routes.sse import RunStream, with_heartbeats
from emulator.state import EmulatorState


def _frames(stream: RunStream) -> list[str]:
    kinds = []
    while not stream.queue.empty():
        item = stream.queue.get_nowait()
        assert item is not None
        kinds.append(item[0])
    return kinds


async def test_heartbeats_flow_until_the_result(tmp_path: Path) -> None:
    st = EmulatorState(EmulatorConfig(heartbeat_interval_s=0.01), tmp_path)
    stream = RunStream("e-test")

    async def slow() -> str:
        await asyncio.sleep(0.1)
        return "done"

    try:
        assert await with_heartbeats(st, stream, slow()) == "done"
    finally:
        await st.aclose()
    assert _frames(stream).count("heartbeat") >= 3


async def test_cancellation_propagates_and_stops_the_awaited_work(tmp_path: Path) -> None:
    st = EmulatorState(EmulatorConfig(heartbeat_interval_s=0.01), tmp_path)
    stream = RunStream("e-test")
    stopped = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # winds down for a moment
            stopped.set()
            raise

    waiter = asyncio.ensure_future(with_heartbeats(st, stream, work()))
    try:
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    finally:
        await st.aclose()
    assert stopped.is_set()  # the work was cancelled and waited for
