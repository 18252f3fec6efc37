"""NemoClient against the emulator in every dialect of contract section 9, and against small
local aiohttp servers for the failures the emulator does not produce (429, 5xx, stalls)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from bot.nemo import errors as E
from bot.nemo.client import MemoryTokenStore, NemoClient, PollPolicy, UploadSource
from bot.nemo.events import Heartbeat, RunEnd, StateChanged, TextAnswer, ToolCall, ToolResult
from bot.nemo.models import RenderState
from emulator.app import Emulator
from tests.conftest import BIKES, BUNNY, fast_emulator_config

FAST = PollPolicy(initial_s=0.05, max_s=0.2)
LEADERBOARD = "add a ranked leaderboard overlay showing the top performers"


@pytest.fixture
async def client(emulator):
    async with NemoClient(emulator.url, rate_limit_wait_s=0.01, backoff_s=0.01) as c:
        yield c


async def _session_with_clip(client, clip: Path = BUNNY) -> str:
    session = await client.create_session("en")
    await client.upload_files(session.session_id, [UploadSource(filename=clip.name, path=clip)])
    return session.session_id


async def _collect(aiter):
    return [e async for e in aiter]


# ---------------------------------------------------------------- auth


async def test_anonymous_identity_is_created_once_and_reused(emulator):
    store = MemoryTokenStore()
    async with NemoClient(emulator.url, token_store=store) as c1:
        await c1.credits()
    first = store.value
    assert first.token.startswith("nmv_usr_") and first.user_id.startswith("anon_")
    async with NemoClient(emulator.url, token_store=store) as c2:
        await c2.credits()
    assert store.value == first  # same token, no new anonymous call
    assert len(emulator.state.tokens) == 1


async def test_client_id_setting_is_used(emulator):
    store = MemoryTokenStore()
    cid = "0b8e3d0e-4f5a-4c1e-9a77-5b7a4f1c2d3e"
    async with NemoClient(emulator.url, token_store=store, client_id=cid) as c:
        await c.credits()
    assert store.value.client_id == cid


@pytest.mark.parametrize("dialect", ["1001", "1010", "1011", "http401"])
async def test_expired_token_refreshed_once_in_every_dialect(emulator, dialect):
    emulator.config.auth_failure = dialect
    store = MemoryTokenStore()
    async with NemoClient(emulator.url, token_store=store) as c:
        await c.credits()
        old = store.value.token
        emulator.expire_tokens()
        credits = await c.credits()
        assert credits.available == 100
        assert store.value.token != old
        assert store.value.client_id  # same client id kept
        sid = (await c.create_session()).session_id
        emulator.expire_tokens()
        events = await _collect(c.run(sid, "hello"))  # run_sse refreshes before the stream starts
        assert isinstance(events[-1], RunEnd)


async def test_token_max_calls_mid_conversation(emulator):
    emulator.config.token_max_calls = 3
    async with NemoClient(emulator.url) as c:
        for _ in range(8):
            await c.credits()


async def test_fixed_token_rejected_is_a_clear_error(emulator):
    async with NemoClient(emulator.url, fixed_token="nmv_usr_not_valid") as c:
        with pytest.raises(E.NemoAuthError, match="NEMO_TOKEN was rejected"):
            await c.credits()


async def test_attribution_headers_on_every_call(emulator, client):
    from bot.nemo.models import Attribution

    attr = Attribution("game-music", "1.0.0", "telegram")
    sid = (await client.create_session(attribution=attr)).session_id
    await client.state(sid, attribution=attr)
    assert emulator.state.sessions[sid].attribution == {
        "source": "game-music",
        "version": "1.0.0",
        "platform": "telegram",
    }


# ---------------------------------------------------------------- endpoints and dialects


@pytest.mark.parametrize("with_user_id", [False, True])
async def test_session_answer_with_or_without_user_id(emulator, client, with_user_id):
    emulator.config.session_user_id = with_user_id
    info = await client.create_session("zh-CN")
    assert info.session_id and info.task_id
    assert (info.user_id is not None) == with_user_id


@pytest.mark.parametrize("shape", ["total", "granted"])
async def test_credits_both_shapes(emulator, client, shape):
    emulator.config.credits_shape = shape
    c = await client.credits()
    assert (c.available, c.frozen, c.total_or_sum) == (100, 0, 100)


async def test_multi_file_upload_and_state(client):
    sid = (await client.create_session()).session_id
    files = await client.upload_files(
        sid, [UploadSource(filename="bigbuckbunny.mp4", path=BUNNY), UploadSource(filename="bikes.mp4", path=BIKES)]
    )
    assert [(f.filename, f.width, f.height) for f in files] == [
        ("bigbuckbunny.mp4", 1280, 720),
        ("bikes.mp4", 640, 272),
    ]
    assert abs(files[0].duration - 5.3) < 0.1 and abs(files[1].duration - 10) < 0.1
    state = await client.state(sid)
    assert len(state.video_infos) == 2


async def test_upload_from_async_iterator(client):
    sid = (await client.create_session()).session_id

    async def chunks():
        with open(BIKES, "rb") as fh:
            while block := fh.read(64 * 1024):
                yield block
                await asyncio.sleep(0)

    files = await client.upload_files(
        sid, [UploadSource(filename="bikes.mp4", stream=chunks, content_type="video/mp4")]
    )
    assert files[0].width == 640


async def test_url_upload(client, emulator):
    async def clip(request):
        return web.FileResponse(BIKES)

    app = web.Application()
    app.router.add_get("/clip.mp4", clip)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sid = (await client.create_session()).session_id
        files = await client.upload_urls(sid, [f"http://127.0.0.1:{port}/clip.mp4"])
        assert files[0].height == 272
    finally:
        await runner.cleanup()


async def test_upload_errors(client, emulator, tmp_path):
    sid = (await client.create_session()).session_id
    txt = tmp_path / "a.txt"
    txt.write_text("x")
    with pytest.raises(E.NemoUnsupportedFile):
        await client.upload_files(sid, [UploadSource(filename="a.txt", path=txt)])
    emulator.config.max_upload_bytes = 1000
    with pytest.raises(E.NemoFileTooLarge):
        await client.upload_files(sid, [UploadSource(filename="bikes.mp4", path=BIKES)])


async def test_session_gone(client, emulator):
    sid = (await client.create_session()).session_id
    emulator.drop_session(sid)
    with pytest.raises(E.NemoSessionNotFound) as info:
        await client.state(sid)
    assert info.value.code == 1002
    with pytest.raises(E.NemoSessionNotFound) as info:
        await _collect(client.run(sid, "hi"))
    assert info.value.status == 404


async def test_out_of_credits(client, emulator):
    sid = (await client.create_session()).session_id
    emulator.set_credits(client.user_id, 0)
    with pytest.raises(E.NemoOutOfCredits):
        await _collect(client.run(sid, "hi"))
    assert client.registration_link() == f"https://nemovideo.com/register?bind={client.user_id}"


async def test_claim_link(client):
    info = await client.create_session()
    link = await client.claim_link(info.task_id, info.session_id)
    assert link.startswith("https://nemovideo.com/workspace/claim?ct=clm_")


# ---------------------------------------------------------------- the agent stream


@pytest.mark.parametrize("style", ["json", "empty", "comment"])
async def test_run_events_in_every_heartbeat_style(emulator, client, style):
    emulator.config.heartbeat_style = style
    emulator.config.heartbeat_interval_s = 0.01
    emulator.config.step_delay_s = 0.02
    sid = await _session_with_clip(client)
    events = await _collect(client.run(sid, LEADERBOARD))
    kinds = {type(e) for e in events}
    assert {ToolCall, ToolResult, StateChanged, TextAnswer, Heartbeat, RunEnd} <= kinds
    assert isinstance(events[-1], RunEnd)
    assert any("draft" in e.keys for e in events if isinstance(e, StateChanged))
    assert emulator.state.runs_per_session[sid] == 1


async def test_silent_run_has_no_text(emulator, client):
    emulator.config.silent_share = 1.0
    sid = await _session_with_clip(client)
    events = await _collect(client.run(sid, LEADERBOARD))
    assert not [e for e in events if isinstance(e, TextAnswer)]
    assert [e for e in events if isinstance(e, StateChanged)]


async def test_dropped_stream_raises_and_is_never_resent(emulator, client):
    emulator.config.drop_stream_after = 2
    sid = await _session_with_clip(client)
    with pytest.raises(E.NemoStreamDropped):
        await _collect(client.run(sid, LEADERBOARD))
    await asyncio.sleep(0.5)
    assert emulator.state.runs_per_session[sid] == 1


# ---------------------------------------------------------------- renders


@pytest.mark.parametrize("shape", ["A", "B", "C"])
async def test_export_in_every_render_shape(emulator, client, shape, tmp_path):
    emulator.config.render_shape = shape
    sid = await _session_with_clip(client, BIKES)
    await _collect(client.run(sid, "add background music"))
    draft = (await client.state(sid)).draft
    seen: list[str] = []
    submitted: list[str] = []

    async def on_progress(status):
        seen.append(status.status)

    async def on_submit(rid):
        submitted.append(rid)

    outcome = await client.export(sid, draft, on_submit=on_submit, on_progress=on_progress, poll=FAST)
    assert outcome.render_id == submitted[0] and not outcome.needs_auth
    assert (seen[-1] == "completed" and "processing" in seen) or "pending" in seen
    size = await client.download(outcome.download_url, tmp_path / "out.mp4")
    assert size and (tmp_path / "out.mp4").read_bytes()[4:8] == b"ftyp"


async def test_failed_render_fails_once_and_reports_the_status(emulator, client):
    """The client submits once; resubmitting is the render tracker's decision (bot/renders.py)."""
    emulator.config.fail_first_render = True
    sid = await _session_with_clip(client, BIKES)
    await _collect(client.run(sid, "add background music"))
    draft = (await client.state(sid)).draft
    ids: list[str] = []

    async def on_submit(rid):
        ids.append(rid)

    with pytest.raises(E.NemoRenderFailed) as info:
        await client.export(sid, draft, on_submit=on_submit, poll=FAST)
    status = info.value.status
    assert len(ids) == 1 and emulator.state.render_attempts[sid] == 1
    assert status is not None and status.status is RenderState.FAILED and status.status == "failed"
    assert status.render_id == ids[0] and not status.cancelled
    assert status.error and info.value.message == status.error


async def test_fallback_download_without_output_url(emulator, client, tmp_path):
    emulator.config.omit_output_url = True
    sid = await _session_with_clip(client, BIKES)
    await _collect(client.run(sid, "add background music"))
    outcome = await client.export(sid, (await client.state(sid)).draft, poll=FAST)
    assert outcome.needs_auth and outcome.download_url.endswith(f"/api/render/proxy/{outcome.render_id}/download")
    size = await client.download(outcome.download_url, tmp_path / "o.mp4", needs_auth=True)
    assert size and size == (tmp_path / "o.mp4").stat().st_size
    assert await client.download(outcome.download_url, tmp_path / "small.mp4", needs_auth=True, max_bytes=100) is None
    assert not list(tmp_path.glob("small.mp4*"))


async def test_render_without_attribution_is_402(emulator, client):
    import aiohttp

    sid = await _session_with_clip(client, BIKES)
    token = await client._token()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.url}/api/render/proxy/lambda",
            json={"id": "render_x", "sessionId": sid, "draft": {}, "output": {}},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 402


async def test_cancel_render(emulator, client):
    sid = await _session_with_clip(client, BIKES)
    await _collect(client.run(sid, "add background music"))
    rid = await client.submit_render(sid, (await client.state(sid)).draft)
    await client.cancel_render(rid)
    status = await client.wait_render(rid, poll=PollPolicy(0.05, 0.1, 1.5, 30))
    assert status.cancelled and status.status is RenderState.CANCELLED and status.render_id == rid


async def test_export_of_a_cancelled_render_raises_with_its_status(emulator, client):
    sid = await _session_with_clip(client, BIKES)
    await _collect(client.run(sid, "add background music"))

    async def cancel_it(status):
        if status.render_id and not status.done:
            await client.cancel_render(status.render_id)

    with pytest.raises(E.NemoRenderFailed, match="cancelled") as info:
        await client.export(sid, (await client.state(sid)).draft, on_progress=cancel_it, poll=FAST)
    assert info.value.status is not None and info.value.status.status is RenderState.CANCELLED


# ---------------------------------------------------------------- failures from a scripted server


class Scripted:
    """A local aiohttp server answering a scripted list of responses per path."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.script: dict[str, list] = {}
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        if request.path == "/api/auth/anonymous-token":
            return web.json_response({"code": 0, "data": {"token": "nmv_usr_t", "user_id": "anon_1"}})
        steps = self.script.get(request.path, [])
        step = steps.pop(0) if len(steps) > 1 else (steps[0] if steps else (200, {"code": 0, "data": {}}))
        if callable(step):
            return await step(request)
        status, body, *headers = step
        return web.json_response(body, status=status, headers=headers[0] if headers else None)

    async def __aenter__(self) -> Scripted:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


CREDITS_OK = (200, {"code": 0, "data": {"available": 5, "frozen": 1, "total": 6}})


async def test_429_waits_retry_after_then_retries_once():
    async with Scripted() as srv:
        srv.script["/api/credits/balance/simple"] = [(429, {"message": "slow"}, {"Retry-After": "0.05"}), CREDITS_OK]
        async with NemoClient(srv.url) as c:
            assert (await c.credits()).available == 5
        assert srv.calls.count(("GET", "/api/credits/balance/simple")) == 2
        srv.script["/api/credits/balance/simple"] = [(429, {}), (429, {}), CREDITS_OK]
        async with NemoClient(srv.url, rate_limit_wait_s=0.01) as c:
            with pytest.raises(E.NemoRateLimited):
                await c.credits()


async def test_gets_retry_5xx_with_backoff_posts_do_not():
    async with Scripted() as srv:
        srv.script["/api/credits/balance/simple"] = [(503, "busy"), (502, "bad"), CREDITS_OK]
        srv.script["/api/tasks/me/with-session/nemo_agent"] = [
            (500, "boom"),
            (200, {"code": 0, "data": {"task_id": "t", "session_id": "s"}}),
        ]
        async with NemoClient(srv.url, backoff_s=0.01) as c:
            assert (await c.credits()).total == 6
            with pytest.raises(E.NemoServerError):
                await c.create_session()
        assert srv.calls.count(("POST", "/api/tasks/me/with-session/nemo_agent")) == 1


async def test_run_sse_is_never_retried_on_5xx():
    async with Scripted() as srv:
        srv.script["/run_sse"] = [(500, {"detail": "boom"})]
        async with NemoClient(srv.url) as c:
            with pytest.raises(E.NemoServerError):
                await _collect(c.run("s", "hi"))
        assert srv.calls.count(("POST", "/run_sse")) == 1


async def test_heartbeats_only_is_a_timeout():
    async def stalls(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(200):
            await resp.write(b'data: {"type":"heartbeat"}\n\n')
            await asyncio.sleep(0.02)
        return resp

    async with Scripted() as srv:
        srv.script["/run_sse"] = [stalls]
        async with NemoClient(srv.url) as c:
            with pytest.raises(E.NemoTimeoutError, match="only heartbeats"):
                await _collect(c.run("s", "hi", idle_timeout_s=0.3, hard_timeout_s=10))


async def test_hard_limit_even_with_progress():
    async def chatty(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        event = {"content": {"parts": [{"functionCall": {"name": "edit_multitrack", "args": {}}}], "role": "model"}}
        for _ in range(200):
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
            await asyncio.sleep(0.02)
        return resp

    async with Scripted() as srv:
        srv.script["/run_sse"] = [chatty]
        async with NemoClient(srv.url) as c:
            with pytest.raises(E.NemoTimeoutError, match="limit"):
                await _collect(c.run("s", "hi", idle_timeout_s=5, hard_timeout_s=0.3))


async def test_silence_is_a_timeout():
    async def silent(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await asyncio.sleep(5)
        return resp

    async with Scripted() as srv:
        srv.script["/run_sse"] = [silent]
        async with NemoClient(srv.url) as c:
            with pytest.raises(E.NemoTimeoutError):
                await _collect(c.run("s", "hi", idle_timeout_s=0.3, hard_timeout_s=10))


async def test_connection_refused_is_a_nemo_error():
    async with NemoClient("http://127.0.0.1:9", backoff_s=0.01) as c:
        with pytest.raises(E.NemoConnectionError) as info:
            await c.credits()
    assert "aiohttp" not in type(info.value).__module__


async def test_close_is_idempotent(emulator):
    c = NemoClient(emulator.url)
    await c.credits()
    await c.close()
    await c.close()
    with pytest.raises(E.NemoConnectionError, match="closed"):
        await c.credits()


async def test_emulator_render_shapes_are_read_without_client(tmp_path):
    """A second emulator instance proves the fixture isn't special: shape C carries size."""
    async with (
        Emulator(fast_emulator_config(render_shape="C"), data_dir=tmp_path / "e") as emu,
        NemoClient(emu.url) as c,
    ):
        sid = await _session_with_clip(c, BIKES)
        await _collect(c.run(sid, "add background music"))
        outcome = await c.export(sid, (await c.state(sid)).draft, poll=FAST)
        assert outcome.size and outcome.size > 10_000 and outcome.duration_s
