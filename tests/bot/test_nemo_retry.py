"""The one retry policy (bot/nemo/retry.py) through NemoClient, against a real local aiohttp server.

Waits are asserted from an injected sleep (``RetryPolicy.sleep``), never by timing.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.nemo import errors as E
from bot.nemo.client import NemoClient, RetryPolicy, UploadSource
from bot.nemo.events import RunEnd, TextAnswer
from bot.nemo.retry import is_transient, retry_call, retrying

CREDITS = "/api/credits/balance/simple"
SESSION = "/api/tasks/me/with-session/nemo_agent"
CREDITS_OK = (200, {"code": 0, "data": {"available": 5, "frozen": 1, "total": 6}})
PAYLOAD = bytes(range(256)) * 40  # 10240 bytes


class Sleeps:
    """An injected sleep that records what it was asked to wait (s) and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Api:
    """A scripted NemoVideo: per path, a list of steps; the last step repeats.

    A step is ``(status, json_body[, headers])`` or an async handler. Anonymous tokens are
    numbered (``nmv_usr_1``, ``nmv_usr_2``...) so refreshes can be seen.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.script: dict[str, list] = {}
        self.tokens = 0
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.calls if p == path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.calls.append((request.method, request.path, request.headers.get("Authorization")))
        if request.path == "/api/auth/anonymous-token":
            self.tokens += 1
            return web.json_response({"code": 0, "data": {"token": f"nmv_usr_{self.tokens}", "user_id": "anon_1"}})
        steps = self.script.get(request.path) or [(200, {"code": 0, "data": {}})]
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if callable(step):
            return await step(request)
        status, body, *headers = step
        return web.json_response(body, status=status, headers=headers[0] if headers else None)

    async def __aenter__(self) -> Api:
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.close()


@pytest.fixture
async def api():
    async with Api() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(api, sleeps):
    policy = RetryPolicy(sleep=sleeps, backoff_s=0.5, rate_limit_wait_s=30.0)
    async with NemoClient(api.url, retry_policy=policy) as c:
        yield c


def _mp4(body: bytes = PAYLOAD):
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="video/mp4")

    return handler


def _broken_mp4(request_count: list[int]):
    """Promises ``len(PAYLOAD)`` bytes, sends half, then drops the connection."""

    async def handler(request: web.Request) -> web.StreamResponse:
        request_count.append(1)
        resp = web.StreamResponse(headers={"Content-Type": "video/mp4", "Content-Length": str(len(PAYLOAD))})
        await resp.prepare(request)
        await resp.write(PAYLOAD[: len(PAYLOAD) // 2])
        assert request.transport is not None
        request.transport.close()
        return resp

    return handler


# ---------------------------------------------------------------- 429 and Retry-After


async def test_retry_after_is_honoured(api, client, sleeps):
    api.script[CREDITS] = [(429, {"message": "slow"}, {"Retry-After": "7"}), CREDITS_OK]
    assert (await client.credits()).available == 5
    assert sleeps.waits == [7.0] and api.count(CREDITS) == 2


async def test_retry_after_as_http_date(api, client, sleeps):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    api.script[CREDITS] = [(429, {}, {"Retry-After": when}), CREDITS_OK]
    await client.credits()
    assert len(sleeps.waits) == 1 and 15 <= sleeps.waits[0] <= 20


async def test_429_without_retry_after_waits_the_configured_time(api, client, sleeps):
    api.script[SESSION] = [(429, {}), (200, {"code": 0, "data": {"task_id": "t", "session_id": "s"}})]
    assert (await client.create_session()).session_id == "s"  # a POST too: 429 means not accepted
    assert sleeps.waits == [30.0] and api.count(SESSION) == 2


async def test_429_is_retried_once_only(api, client, sleeps):
    api.script[CREDITS] = [(429, {}, {"Retry-After": "1"}), (429, {}, {"Retry-After": "2"}), CREDITS_OK]
    with pytest.raises(E.NemoRateLimited) as info:
        await client.credits()
    assert info.value.retry_after == 2 and sleeps.waits == [1.0] and api.count(CREDITS) == 2


async def test_too_long_retry_after_is_raised_at_once(api, client, sleeps):
    api.script[CREDITS] = [(429, {}, {"Retry-After": "3600"}), CREDITS_OK]
    with pytest.raises(E.NemoRateLimited):
        await client.credits()
    assert sleeps.waits == [] and api.count(CREDITS) == 1


# ---------------------------------------------------------------- 5xx, connection errors, timeouts


async def test_gets_retry_5xx_with_exponential_backoff_then_succeed(api, client, sleeps):
    api.script[CREDITS] = [(503, "busy"), (502, "bad"), (500, "boom"), CREDITS_OK]
    assert (await client.credits()).total == 6
    assert sleeps.waits == [0.5, 1.0, 2.0] and api.count(CREDITS) == 4


async def test_gets_give_up_after_the_configured_attempts(api, client, sleeps):
    api.script[CREDITS] = [(503, "busy")]
    with pytest.raises(E.NemoServerError):
        await client.credits()
    assert api.count(CREDITS) == 4 and sleeps.waits == [0.5, 1.0, 2.0]


async def test_get_retries_setting_still_applies(api, sleeps):
    api.script[CREDITS] = [(503, "busy")]
    async with NemoClient(api.url, get_retries=1, backoff_s=0) as c:
        with pytest.raises(E.NemoServerError):
            await c.credits()
    assert api.count(CREDITS) == 2


async def test_gets_retry_408(api, client, sleeps):
    api.script[CREDITS] = [(408, {"message": "request timeout"}), CREDITS_OK]
    await client.credits()
    assert api.count(CREDITS) == 2


async def test_gets_do_not_retry_other_4xx(api, client, sleeps):
    api.script["/api/render/proxy/lambda/render_x"] = [(404, {"success": False, "error": "no such render"})]
    with pytest.raises(E.NemoBadRequest):
        await client.render_status("render_x")
    assert api.count("/api/render/proxy/lambda/render_x") == 1 and sleeps.waits == []


async def test_posts_do_not_retry_5xx(api, client, sleeps):
    api.script[SESSION] = [(500, "boom"), (200, {"code": 0, "data": {"task_id": "t", "session_id": "s"}})]
    with pytest.raises(E.NemoServerError):
        await client.create_session()
    assert api.count(SESSION) == 1 and sleeps.waits == []


async def test_get_timeouts_are_retried(api, sleeps):
    async def slow(request):
        await asyncio.sleep(1)
        return web.json_response(CREDITS_OK[1])

    api.script[CREDITS] = [slow, slow, CREDITS_OK]
    policy = RetryPolicy(sleep=sleeps, backoff_s=0.1)
    async with NemoClient(api.url, retry_policy=policy, http_timeout_s=0.2) as c:
        assert (await c.credits()).available == 5
    assert sleeps.waits == [0.1, 0.2]


async def test_connection_refused_is_retried_then_raised(sleeps):
    async with NemoClient("http://127.0.0.1:9", retry_policy=RetryPolicy(sleep=sleeps, backoff_s=1)) as c:
        with pytest.raises(E.NemoConnectionError):
            await c.credits()
    # the anonymous-token POST is made inside each attempt of the GET
    assert sleeps.waits == [1.0, 2.0, 4.0]


async def test_backoff_is_capped(api, sleeps):
    api.script[CREDITS] = [(503, "busy")]
    policy = RetryPolicy(sleep=sleeps, transient_attempts=6, backoff_s=1, backoff_max_s=5)
    async with NemoClient(api.url, retry_policy=policy) as c:
        with pytest.raises(E.NemoServerError):
            await c.credits()
    assert sleeps.waits == [1, 2, 4, 5, 5]


# ---------------------------------------------------------------- auth failures


async def test_auth_failure_refreshes_the_token_and_retries_once(api, client, sleeps):
    api.script[CREDITS] = [(401, {"message": "expired"}), (200, {"code": 1001, "message": "expired"}), CREDITS_OK]
    with pytest.raises(E.NemoAuthError):
        await client.credits()
    auths = [auth for _, path, auth in api.calls if path == CREDITS]
    assert auths == ["Bearer nmv_usr_1", "Bearer nmv_usr_2"] and sleeps.waits == [0.0]
    assert (await client.credits()).available == 5  # the fresh token is kept


async def test_auth_failure_on_a_post_is_retried_too(api, client):
    api.script[SESSION] = [(401, {}), (200, {"code": 0, "data": {"task_id": "t", "session_id": "s"}})]
    assert (await client.create_session()).task_id == "t"
    assert api.tokens == 2


# ---------------------------------------------------------------- /run_sse


def _sse(*events: dict, drop: bool = False):
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in events:
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
        if drop:
            assert request.transport is not None
            request.transport.close()
        return resp

    return handler


ANSWER = {"content": {"parts": [{"text": "Done."}], "role": "model"}, "author": "nemo_agent"}


async def test_run_sse_is_not_retried_on_5xx_or_after_the_stream_started(api, client, sleeps):
    api.script["/run_sse"] = [(503, {"detail": "busy"}), _sse(ANSWER)]
    with pytest.raises(E.NemoServerError):
        [e async for e in client.run("s", "hi")]
    api.script["/run_sse"] = [_sse(ANSWER, drop=True), _sse(ANSWER)]
    with pytest.raises(E.NemoStreamDropped):
        [e async for e in client.run("s", "hi")]
    assert api.count("/run_sse") == 2 and sleeps.waits == []


async def test_run_sse_first_post_retries_429_and_auth_once(api, client, sleeps):
    api.script["/run_sse"] = [(429, {}, {"Retry-After": "4"}), (401, {}), _sse(ANSWER)]
    events = [e async for e in client.run("s", "hi")]
    assert isinstance(events[0], TextAnswer) and isinstance(events[-1], RunEnd)
    assert api.count("/run_sse") == 3 and sleeps.waits == [4.0, 0.0]


# ---------------------------------------------------------------- output downloads


async def test_download_retries_after_a_broken_off_body(api, client, sleeps, tmp_path):
    broken: list[int] = []
    api.script["/out.mp4"] = [_broken_mp4(broken), _mp4()]
    size = await client.download(f"{api.url}/out.mp4", tmp_path / "o.mp4")
    assert size == len(PAYLOAD) == (tmp_path / "o.mp4").stat().st_size and broken == [1]
    assert (tmp_path / "o.mp4").read_bytes() == PAYLOAD
    assert sleeps.waits == [0.5] and list(tmp_path.iterdir()) == [tmp_path / "o.mp4"]


async def test_download_gives_up_after_3_attempts(api, client, sleeps, tmp_path):
    broken: list[int] = []
    api.script["/out.mp4"] = [_broken_mp4(broken)]
    with pytest.raises(E.NemoConnectionError):
        await client.download(f"{api.url}/out.mp4", tmp_path / "o.mp4")
    assert len(broken) == 3 and sleeps.waits == [0.5, 1.0] and not list(tmp_path.iterdir())


async def test_download_retries_5xx_but_not_404(api, client, sleeps, tmp_path):
    api.script["/out.mp4"] = [(502, "bad gateway"), _mp4()]
    assert await client.download(f"{api.url}/out.mp4", tmp_path / "o.mp4") == len(PAYLOAD)
    api.script["/gone.mp4"] = [(404, {"message": "gone"})]
    with pytest.raises(E.NemoBadRequest):
        await client.download(f"{api.url}/gone.mp4", tmp_path / "g.mp4")
    assert api.count("/out.mp4") == 2 and api.count("/gone.mp4") == 1


async def test_download_sends_the_token_only_when_needed_and_refreshes_it(api, client, tmp_path):
    path = "/api/render/proxy/render_1/download"
    api.script["/out.mp4"] = [_mp4()]
    await client.download(f"{api.url}/out.mp4", tmp_path / "a.mp4")
    api.script[path] = [(401, {}), _mp4()]
    await client.download(client.fallback_download_url("render_1"), tmp_path / "b.mp4", needs_auth=True)
    auths = [(p, auth) for _, p, auth in api.calls if p in {"/out.mp4", path}]
    assert auths == [("/out.mp4", None), (path, "Bearer nmv_usr_1"), (path, "Bearer nmv_usr_2")]


async def test_download_over_the_limit_is_not_retried(api, client, sleeps, tmp_path):
    api.script["/out.mp4"] = [_mp4()]
    assert await client.download(f"{api.url}/out.mp4", tmp_path / "o.mp4", max_bytes=100) is None
    assert api.count("/out.mp4") == 1 and not list(tmp_path.iterdir())


# ---------------------------------------------------------------- uploads


async def test_one_shot_stream_upload_is_not_replayed_after_429(api, client, sleeps):
    path = "/api/upload-video/nemo_agent/me/s"
    api.script[path] = [(429, {}, {"Retry-After": "1"}), (200, {"code": 0, "data": {"files": []}})]

    async def chunks():
        yield b"data"

    with pytest.raises(E.NemoRateLimited):
        await client.upload_files("s", [UploadSource(filename="a.mp4", stream=chunks)])
    assert api.count(path) == 1 and sleeps.waits == []


async def test_path_upload_is_replayed_after_429(api, client, sleeps, tmp_path):
    path = "/api/upload-video/nemo_agent/me/s"
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"x" * 1000)
    api.script[path] = [(429, {}, {"Retry-After": "1"}), (200, {"code": 0, "data": {"files": [{"filename": "a.mp4"}]}})]
    files = await client.upload_files("s", [UploadSource(filename="a.mp4", path=clip)])
    assert [f.filename for f in files] == ["a.mp4"] and sleeps.waits == [1.0]


# ---------------------------------------------------------------- the helper on its own


async def test_retry_call_with_a_plain_callable(sleeps):
    failures = [E.NemoServerError("a", status=500), E.NemoConnectionError("b")]

    async def flaky() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    policy = RetryPolicy(sleep=sleeps, backoff_s=0.25)
    assert await retry_call(lambda: flaky(), policy, idempotent=True) == "ok"
    assert sleeps.waits == [0.25, 0.5]


async def test_retrying_as_an_async_iterator_and_non_nemo_errors_pass_through(sleeps):
    policy = RetryPolicy(sleep=sleeps)
    attempts = 0
    with pytest.raises(ValueError):
        async for attempt in retrying(policy, idempotent=True):
            with attempt:
                attempts += 1
                raise ValueError("not ours")
    assert attempts == 1 and sleeps.waits == []


async def test_not_idempotent_means_no_transient_retry(sleeps):
    calls = 0

    async def boom() -> None:
        nonlocal calls
        calls += 1
        raise E.NemoTimeoutError("slow")

    with pytest.raises(E.NemoTimeoutError):
        await retry_call(boom, RetryPolicy(sleep=sleeps), idempotent=False)
    assert calls == 1


def test_is_transient():
    assert is_transient(E.NemoServerError("x", status=502))
    assert is_transient(E.NemoStreamDropped("x"))  # a connection error; run_sse never retries it anyway
    assert is_transient(E.NemoBadRequest("x", status=408))
    assert not is_transient(E.NemoBadRequest("x", status=409))
    assert not is_transient(E.NemoRateLimited("x", status=429))
    assert not is_transient(ValueError())


async def test_configured_rate_limit_wait_is_not_capped(api, sleeps):
    api.script[CREDITS] = [(429, {}), CREDITS_OK]
    async with NemoClient(api.url, retry_policy=RetryPolicy(sleep=sleeps, rate_limit_wait_s=300)) as c:
        await c.credits()
    assert sleeps.waits == [300]
