"""Fault injection switches of the emulator, seen through the real client."""

from __future__ import annotations

import pytest

from bot.nemo import errors as E
from bot.nemo.client import NemoClient, PollPolicy, UploadSource
from tests.conftest import BIKES


async def _ready_render(client):
    sid = (await client.create_session()).session_id
    await client.upload_files(sid, [UploadSource(filename="bikes.mp4", path=BIKES)])
    async for _ in client.run(sid, "add background music"):
        pass
    return sid, await client.export(sid, (await client.state(sid)).draft, poll=PollPolicy(0.05, 0.2))


async def test_fault_rate_injects_429_and_5xx(emulator):
    emulator.config.rate_limit_retry_after_s = 0
    async with NemoClient(emulator.url, backoff_s=0.01, get_retries=0) as client:
        await client.credits()
        emulator.config.fault_rate = 1.0
        with pytest.raises((E.NemoServerError, E.NemoRateLimited)):
            await client.credits()
        emulator.config.fault_rate = 0.5
        outcomes = []
        for _ in range(40):
            try:
                await client.credits()
                outcomes.append("ok")
            except (E.NemoServerError, E.NemoRateLimited) as exc:
                outcomes.append(type(exc).__name__)
    faults = emulator.state.faults
    assert {"ok", "NemoServerError"} <= set(outcomes)
    assert sum(faults.values()) >= 10 and set(faults) <= {"429", "500", "502", "503"}


async def test_gets_mostly_ride_out_a_10_percent_fault_rate(emulator):
    emulator.config.rate_limit_retry_after_s = 0
    emulator.config.fault_rate = 0.1
    ok = 0
    async with NemoClient(emulator.url, backoff_s=0.01) as client:
        for _ in range(50):
            try:
                ok += (await client.credits()).available == 100
            except E.NemoRateLimited:
                pass  # 429 twice in a row: the contract allows one retry
    assert ok >= 47 and sum(emulator.state.faults.values()) > 0


async def test_broken_download_then_retry(emulator, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    emulator.config.break_downloads = True
    async with NemoClient(emulator.url, download_attempts=1) as client:  # no built-in retry: see the break
        _, outcome = await _ready_render(client)
        with pytest.raises(E.NemoConnectionError):
            await client.download(outcome.download_url, tmp_path / "a.mp4")
        assert not list(tmp_path.iterdir())  # no half file left behind
        size = await client.download(outcome.download_url, tmp_path / "a.mp4")
    assert size == (tmp_path / "a.mp4").stat().st_size > 0
    assert emulator.state.faults["broken_download"] == 1


async def test_broken_download_is_ridden_out_by_the_client_retries(emulator, tmp_path):
    emulator.config.break_downloads = True
    async with NemoClient(emulator.url, backoff_s=0.01) as client:
        _, outcome = await _ready_render(client)
        size = await client.download(outcome.download_url, tmp_path / "a.mp4")
    assert size == (tmp_path / "a.mp4").stat().st_size > 0
    assert emulator.state.faults["broken_download"] == 1


async def test_heartbeat_only_stall_is_a_timeout(emulator):
    emulator.config.stall_s = 3.0
    emulator.config.heartbeat_interval_s = 0.05
    async with NemoClient(emulator.url) as client:
        sid = (await client.create_session()).session_id
        with pytest.raises(E.NemoTimeoutError, match="only heartbeats"):
            async for _ in client.run(sid, "hello", idle_timeout_s=0.5):
                pass


async def test_slow_calls(emulator):
    import time

    emulator.config.slow_rate = 1.0
    emulator.config.slow_s = 0.3
    async with NemoClient(emulator.url) as client:
        started = time.monotonic()
        await client.credits()
        assert time.monotonic() - started >= 0.6  # the token call and the credits call
