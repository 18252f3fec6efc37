"""HTTP tests of the NemoVideo emulator (emulator/app.py and emulator/routes/) against the contract."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from emulator.app import Emulator, serve
from emulator.config import EmulatorConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BUNNY = FIXTURES / "bigbuckbunny.mp4"
BIKES = FIXTURES / "bikes.mp4"
ATTRIBUTION = {"X-Skill-Source": "video-leaderboard", "X-Skill-Version": "1.0.0", "X-Skill-Platform": "console"}
LEADERBOARD = "add a ranked leaderboard overlay showing the top performers"


def fast_config(**kw: Any) -> EmulatorConfig:
    base: dict[str, Any] = dict(
        step_delay_s=0.0,
        heartbeat_interval_s=0.02,
        silent_share=0.0,
        render_pending_s=0.02,
        render_preset="ultrafast",
    )
    base.update(kw)
    return EmulatorConfig(**base)


# --------------------------------------------------------------------------- a tiny SSE parser


def parse_sse(raw: bytes) -> list[tuple[str, Any]]:
    """Split a raw stream into ("event", dict) / ("empty", None) / ("comment", text) frames."""
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    out: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        if not block.strip("\n"):
            continue
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":"):
                out.append(("comment", line[1:].strip()))
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        if data:
            payload = "\n".join(data)
            out.append(("event", json.loads(payload)) if payload else ("empty", None))
    return out


def adk_events(frames: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [f for k, f in frames if k == "event" and f.get("type") != "heartbeat"]


def texts(events: list[dict[str, Any]], *, partial: bool = False) -> list[str]:
    out = []
    for ev in events:
        if bool(ev.get("partial")) != partial:
            continue
        for p in (ev.get("content") or {}).get("parts", []):
            if "text" in p and not p.get("thought"):
                out.append(p["text"])
    return out


def has_nulls(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(has_nulls(v) for v in value.values())
    if isinstance(value, list):
        return any(has_nulls(v) for v in value)
    return False


# --------------------------------------------------------------------------- client helpers


class Api:
    """A minimal NemoVideo client for the tests (plain aiohttp)."""

    def __init__(self, http: aiohttp.ClientSession, emu: Emulator) -> None:
        self.http = http
        self.emu = emu
        self.base = emu.url
        self.token = ""
        self.user_id = ""
        self.sid = ""
        self.headers = dict(ATTRIBUTION)

    @property
    def auth(self) -> dict[str, str]:
        return {**self.headers, "Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        kw.setdefault("headers", self.auth)
        async with self.http.request(method, self.base + path, **kw) as r:
            body = await r.read()
            try:
                return r.status, json.loads(body)
            except ValueError:
                return r.status, body.decode(errors="replace")

    async def login(self, client_id: str = "client-1") -> dict[str, Any]:
        status, body = await self.request("POST", "/api/auth/anonymous-token", headers={"X-Client-Id": client_id})
        assert status == 200 and body["code"] == 0, body
        self.token, self.user_id = body["data"]["token"], body["data"]["user_id"]
        return body["data"]

    async def new_session(self) -> str:
        status, body = await self.request(
            "POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "project", "language": "en"}
        )
        assert status == 200 and body["code"] == 0, body
        self.sid = body["data"]["session_id"]
        return self.sid

    async def upload(self, *paths: Path, names: list[str] | None = None) -> tuple[int, Any]:
        form = aiohttp.FormData()
        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
        try:
            for i, (p, fh) in enumerate(zip(paths, handles, strict=True)):
                form.add_field(
                    "files", fh, filename=(names[i] if names else p.name), content_type="application/octet-stream"
                )
            return await self.request("POST", f"/api/upload-video/nemo_agent/me/{self.sid}", data=form)
        finally:
            for fh in handles:
                fh.close()

    async def ready(self, *paths: Path) -> None:
        await self.login()
        await self.new_session()
        status, body = await self.upload(*(paths or (BUNNY,)))
        assert status == 200 and body["code"] == 0, body

    def run_body(self, text: str, sid: str | None = None) -> dict[str, Any]:
        return {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid or self.sid,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }

    async def run(self, text: str, **kw: Any) -> list[tuple[str, Any]]:
        headers = {**self.auth, "Accept": "text/event-stream"}
        async with self.http.post(self.base + "/run_sse", json=self.run_body(text, **kw), headers=headers) as r:
            assert r.status == 200, await r.text()
            assert r.content_type == "text/event-stream"
            return parse_sse(await r.read())

    async def state(self) -> dict[str, Any]:
        status, body = await self.request("GET", f"/api/state/nemo_agent/me/{self.sid}/latest")
        assert status == 200 and body["code"] == 0, body
        return body["data"]["state"]

    async def submit_render(self, rid: str, draft: dict[str, Any] | None = None, **kw: Any) -> tuple[int, Any]:
        if draft is None:
            draft = (await self.state())["draft"]
        body = {"id": rid, "sessionId": self.sid, "draft": draft, "output": {"format": "mp4", "quality": "high"}}
        return await self.request("POST", "/api/render/proxy/lambda", json=body, **kw)

    async def poll(self, rid: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until completed/failed; returns the last answer; checks progress never drops."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        last = -1
        while loop.time() < end:
            status, body = await self.request("GET", f"/api/render/proxy/lambda/{rid}")
            assert status == 200, body
            view = body["data"] if "success" in body else body
            assert view["progress"] >= last
            last = view["progress"]
            if view["status"] in ("completed", "failed"):
                return body
            await asyncio.sleep(0.05)
        raise AssertionError("render did not finish")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(fast_config()) as e:
        yield e


@pytest.fixture
async def api(http: aiohttp.ClientSession, emu: Emulator) -> Api:
    return Api(http, emu)


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("shape", ["A", "B", "C"])
async def test_end_to_end_leaderboard_render(http: aiohttp.ClientSession, shape: str) -> None:
    async with Emulator(fast_config(render_shape=shape)) as emu:
        api = Api(http, emu)
        data = await api.login()
        assert data["token"].startswith("nmv_usr_") and data["user_id"].startswith("anon_") and data["credits"] == 100
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", data["expires_at"])
        await api.new_session()
        status, body = await api.upload(BUNNY)
        assert status == 200 and body["code"] == 0 and body["data"]["session_state_applied"] is True
        (info,) = body["data"]["files"]
        assert info["filename"] == "bigbuckbunny.mp4" and info["file_type"] == "video"
        assert (info["width"], info["height"], info["fps"]) == (1280, 720, 25.0)
        assert abs(info["duration"] - 5.31) < 0.05 and len(info["hash"]) == 64
        async with http.get(info["cdn_url"]) as r:  # served by the emulator, no auth
            assert r.status == 200 and (await r.read()) == BUNNY.read_bytes()

        frames = await api.run(LEADERBOARD)
        events = adk_events(frames)
        for ev in events:
            assert ev["author"] == "nemo_agent" and ev["invocationId"].startswith("e-")
            assert isinstance(ev["id"], str) and isinstance(ev["timestamp"], float)
            assert ev["actions"].keys() == {"stateDelta", "artifactDelta"}
            assert not has_nulls(ev)
        assert len({ev["invocationId"] for ev in events}) == 1
        calls = [p["functionCall"]["name"] for ev in events for p in ev["content"]["parts"] if "functionCall" in p]
        assert calls == ["analyze_video", "edit_multitrack"]
        deltas = [ev["actions"]["stateDelta"]["draft"] for ev in events if "draft" in ev["actions"]["stateDelta"]]
        assert len(deltas) == 1
        assert texts(events, partial=True) and "leaderboard" in texts(events)[-1]

        state = await api.state()
        assert state["draft"] == deltas[0]
        board = [s for t in state["draft"]["t"] if t["tt"] == 7 for s in t["sg"] if s.get("kind") == "leaderboard"]
        assert len(board) == 1 and len(board[0]["rows"]) == 5
        assert emu.state.runs_per_session == {api.sid: 1}
        assert emu.state.attribution[api.sid] == {
            "source": "video-leaderboard",
            "version": "1.0.0",
            "platform": "console",
        }

        status, body = await api.submit_render("render_e2e")
        assert (status, body) == (200, {"success": True, "data": {"id": "render_e2e", "status": "pending"}})
        final = await api.poll("render_e2e")
        if shape == "A":
            assert final["success"] is True
            view = final["data"]
            assert view["id"] == "render_e2e" and view["createdAt"] and view["completedAt"]
            url = view["outputUrl"]
        elif shape == "B":
            assert set(final) == {"id", "status", "progress", "output"}
            url = final["output"]["url"]
        else:
            assert final["taskId"] == "render_e2e"
            assert abs(final["output"]["duration"] - 5.31) < 0.1 and final["output"]["size"] > 10_000
            url = final["output"]["url"]
        status_view = final.get("data", final)
        assert status_view["status"] == "completed" and status_view["progress"] == 100
        async with http.get(url) as r:
            assert r.status == 200 and r.content_type == "video/mp4"
            mp4 = await r.read()
        assert mp4[4:8] == b"ftyp"
        assert emu.state.renders["render_e2e"].attempt == 1


# --------------------------------------------------------------------------- the stream


@pytest.mark.parametrize(
    ("style", "kind", "expected"),
    [("json", "event", {"type": "heartbeat"}), ("empty", "empty", None), ("comment", "comment", "keep-alive")],
)
async def test_heartbeat_styles_on_the_wire(api: Api, style: str, kind: str, expected: Any) -> None:
    api.emu.config.heartbeat_style = style
    api.emu.config.heartbeat_interval_s = 0.005
    await api.ready(BIKES)
    frames = await api.run(LEADERBOARD)
    beats = [f for f in frames if f == (kind, expected)]
    assert beats, frames
    others = {"json": [("empty", None)], "empty": [("event", {"type": "heartbeat"})], "comment": [("empty", None)]}[
        style
    ]
    assert not [f for f in frames if f in others]
    assert adk_events(frames)  # real events still there


async def test_heartbeat_raw_bytes(api: Api) -> None:
    api.emu.config.heartbeat_style = "empty"
    api.emu.config.heartbeat_interval_s = 0.005
    await api.ready(BIKES)
    async with api.http.post(api.base + "/run_sse", json=api.run_body(LEADERBOARD), headers=api.auth) as r:
        raw = await r.read()
    assert b"\n\ndata:\n\n" in raw and raw.startswith(b"data: {")


async def test_silent_share_zero_and_one(api: Api) -> None:
    await api.ready()
    api.emu.config.silent_share = 1.0
    for text in (LEADERBOARD, "add title 'One'"):
        events = adk_events(await api.run(text))
        assert texts(events) == [] and texts(events, partial=True) == []
        assert any("draft" in ev["actions"]["stateDelta"] for ev in events)
    assert (await api.state())["draft"]["m"]["title"] == "One"
    # runs that change nothing always answer
    assert texts(adk_events(await api.run("hello")))
    api.emu.config.silent_share = 0.0
    for text in ("add title 'Two'", "add title 'Three'", "add title 'Four'"):
        assert texts(adk_events(await api.run(text)))


async def test_silence_is_seeded_per_session_and_run(api: Api) -> None:
    api.emu.config.silent_share = 0.5
    api.emu.config.seed = 7
    await api.ready()
    for run_index in range(1, 7):
        events = adk_events(await api.run(f"add title 'T{run_index}'"))
        expected = random.Random(f"7:{api.sid}:{run_index}").random() < 0.5
        assert (texts(events) == []) is expected


async def test_thought_partial_and_final_text(api: Api) -> None:
    api.emu.config.thought_share = 1.0
    await api.ready()
    events = adk_events(await api.run(LEADERBOARD))
    first = events[0]["content"]["parts"][0]
    assert first["thought"] is True and first["text"]
    assert events[1]["partial"] is True and events[1]["content"]["role"] == "model"
    responses = [ev for ev in events if "functionResponse" in ev["content"]["parts"][0]]
    assert all(ev["content"]["role"] == "user" for ev in responses)
    assert "partial" not in events[-1] and events[-1]["content"]["parts"][0]["text"] == texts(events)[-1]
    assert "Export button" in texts(events)[-1]  # GUI phrasing the bot must translate


async def test_run_accepts_camel_case_body_and_chinese(api: Api) -> None:
    await api.ready()
    body = {
        "appName": "nemo_agent",
        "userId": "me",
        "sessionId": api.sid,
        "newMessage": {"role": "user", "parts": [{"text": "导出视频"}]},
    }
    async with api.http.post(api.base + "/run_sse", json=body, headers=api.auth) as r:
        assert r.status == 200
        events = adk_events(parse_sse(await r.read()))
    assert any("导出按钮" in t or "上传" in t or "没有" in t for t in texts(events))
    assert api.emu.state.runs_per_session[api.sid] == 1


async def test_run_unknown_session_is_404(api: Api) -> None:
    await api.login()
    async with api.http.post(api.base + "/run_sse", json=api.run_body("hi", sid="ses_nope"), headers=api.auth) as r:
        assert r.status == 404
        assert await r.json() == {"detail": "Session not found: ses_nope"}


async def test_no_clip_answers_asking_for_one(api: Api) -> None:
    await api.login()
    await api.new_session()
    events = adk_events(await api.run(LEADERBOARD))
    assert "upload" in texts(events)[-1]
    assert not any(ev["actions"]["stateDelta"] for ev in events)
    assert (await api.state())["draft"] == {"t": [], "d": 0, "m": {"width": 1920, "height": 1080, "fps": 30}}


async def test_drop_stream_after_still_lands_edit(api: Api) -> None:
    api.emu.config.drop_stream_after = 2
    await api.ready()
    got = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with api.http.post(api.base + "/run_sse", json=api.run_body(LEADERBOARD), headers=api.auth) as r:
            assert r.status == 200
            async for chunk in r.content.iter_any():
                got += chunk
    assert len(adk_events(parse_sse(got))) == 2
    for _ in range(200):
        if (await api.state())["draft"]["t"]:
            break
        await asyncio.sleep(0.02)
    draft = (await api.state())["draft"]
    assert any(s.get("kind") == "leaderboard" for t in draft["t"] for s in t["sg"])
    await api.emu.state.idle()
    assert api.emu.state.runs_per_session[api.sid] == 1


@pytest.mark.parametrize("failure", ["errorCode", "error"])
async def test_fail_next_run(api: Api, failure: str) -> None:
    await api.ready()
    api.emu.config.fail_next_run_with = failure
    frames = await api.run(LEADERBOARD)
    payloads = [f for k, f in frames if k == "event"]
    if failure == "errorCode":
        assert payloads[-1]["errorCode"] == "MALFORMED_FUNCTION_CALL" and payloads[-1]["errorMessage"]
    else:
        assert payloads[-1]["error"].startswith("ValueError: ")
        assert payloads[-1]["error_details"]["error_type"] == "ValueError"
    assert (await api.state())["draft"]["t"] == []
    assert api.emu.config.fail_next_run_with is None
    status, body = await api.request("GET", "/api/credits/balance/simple")
    assert status == 200 and body["data"] == {"available": 100, "frozen": 0, "total": 100}  # refunded
    assert texts(adk_events(await api.run(LEADERBOARD)))  # the next run works


async def test_trailing_issue_text(api: Api) -> None:
    api.emu.config.trailing_issue_text = True
    await api.ready()
    answers = texts(adk_events(await api.run("add title 'X'")))
    assert len(answers) == 2 and "temporary issue" in answers[1]


async def test_concurrent_runs_of_a_session_are_serialised(api: Api) -> None:
    await api.ready(BUNNY, BIKES)
    first, second = await asyncio.gather(api.run(LEADERBOARD), api.run("add title 'Both'"))
    assert texts(adk_events(first)) and texts(adk_events(second))
    draft = (await api.state())["draft"]
    kinds = {s.get("kind") for t in draft["t"] if t["tt"] == 7 for s in t["sg"]}
    assert kinds == {"leaderboard", "title"}  # no lost update
    assert api.emu.state.runs_per_session[api.sid] == 2


async def test_rate_limit_429(api: Api) -> None:
    await api.ready()
    api.emu.config.rate_limit_next = 2
    api.emu.config.rate_limit_retry_after_s = 3
    for _ in range(2):
        async with api.http.get(api.base + "/api/credits/balance/simple", headers=api.auth) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "3"
            assert (await r.json())["code"] == 429
    status, body = await api.request("GET", "/api/credits/balance/simple")
    assert status == 200 and body["code"] == 0


async def test_client_leaving_does_not_stop_the_run(api: Api) -> None:
    await api.ready(BIKES)
    async with api.http.post(api.base + "/run_sse", json=api.run_body(LEADERBOARD), headers=api.auth) as r:
        await r.content.readline()  # first event only, then hang up
    await api.emu.state.idle()
    assert (await api.state())["draft"]["t"]


# --------------------------------------------------------------------------- auth and credits


async def test_anonymous_token_needs_client_id_and_keeps_user(api: Api) -> None:
    status, body = await api.request("POST", "/api/auth/anonymous-token", headers={})
    assert status == 400 and body["code"] == 400
    first = await api.login("same-client")
    await api.new_session()
    await api.upload(BUNNY)
    await api.run("add title 'A'")
    second = await api.login("same-client")
    assert second["token"] != first["token"] and second["user_id"] == first["user_id"]
    assert second["credits"] == 99  # kept, minus the run
    other = await api.login("other-client")
    assert other["user_id"] != first["user_id"] and other["credits"] == 100


@pytest.mark.parametrize(
    ("dialect", "status", "code"),
    [("1001", 401, 1001), ("1010", 200, 1010), ("1011", 200, 1011), ("http401", 401, None)],
)
async def test_auth_failure_dialects(api: Api, dialect: str, status: int, code: int | None) -> None:
    api.emu.config.auth_failure = dialect
    await api.login()
    await api.new_session()
    api.emu.expire_tokens()
    for headers in ({**ATTRIBUTION, "Authorization": "Bearer nmv_usr_bogus"}, ATTRIBUTION, api.auth):
        got_status, body = await api.request("GET", "/api/credits/balance/simple", headers=headers)
        assert got_status == status
        if code is None:
            assert body == "Unauthorized"
        else:
            assert body["code"] == code and body["message"]
    async with api.http.post(api.base + "/run_sse", json=api.run_body("hi"), headers=api.auth) as r:
        assert r.status == status
    await api.login()  # a fresh token from the same client id works again
    got_status, body = await api.request("GET", "/api/credits/balance/simple")
    assert got_status == 200 and body["code"] == 0


async def test_token_max_calls(api: Api) -> None:
    api.emu.config.token_max_calls = 2
    await api.login()
    assert (await api.request("GET", "/api/credits/balance/simple"))[0] == 200
    assert (await api.request("GET", "/api/credits/balance/simple"))[0] == 200
    status, body = await api.request("GET", "/api/credits/balance/simple")
    assert (status, body["code"]) == (401, 1001)
    await api.login()
    assert (await api.request("GET", "/api/credits/balance/simple"))[0] == 200


async def test_credits_freeze_consume_and_2001(api: Api) -> None:
    api.emu.config.run_cost = 5
    api.emu.config.step_delay_s = 0.05
    await api.ready()
    async with api.http.post(api.base + "/run_sse", json=api.run_body("add title 'X'"), headers=api.auth) as r:
        await r.content.readline()
        _, during = await api.request("GET", "/api/credits/balance/simple")
        await r.read()
    assert during["data"] == {"available": 95, "frozen": 5, "total": 100}
    await api.emu.state.idle()
    _, after = await api.request("GET", "/api/credits/balance/simple")
    assert after["data"] == {"available": 95, "frozen": 0, "total": 95}
    api.emu.config.credits_shape = "granted"
    _, granted = await api.request("GET", "/api/credits/balance/simple")
    assert granted["data"] == {"available": 95, "frozen": 0, "total_granted": 100, "total_consumed": 5}

    api.emu.set_credits(api.user_id, 4)
    async with api.http.post(api.base + "/run_sse", json=api.run_body("add title 'Y'"), headers=api.auth) as r:
        assert r.status == 200 and r.content_type == "application/json"
        body = await r.json()
    assert body["code"] == 2001 and body["message"]
    assert api.emu.state.runs_per_session[api.sid] == 1


# --------------------------------------------------------------------------- sessions


async def test_session_variants_claim_token_and_1002(api: Api) -> None:
    await api.login()
    sid = await api.new_session()
    status, body = await api.request(
        "POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "p", "language": "zh-CN"}
    )
    assert "user_id" not in body["data"]
    api.emu.config.session_user_id = True
    status, body = await api.request(
        "POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "p", "language": "en"}
    )
    assert body["data"]["user_id"] == api.user_id
    state = await api.state()
    assert state == {
        "draft": {"t": [], "d": 0, "m": {"width": 1920, "height": 1080, "fps": 30}},
        "video_infos": [],
        "canvas_config": {"width": 1920, "height": 1080, "aspect_ratio": "16:9"},
        "generated_media": [],
        "video_analyses": [],
    }
    status, body = await api.request("POST", "/api/auth/claim-token", json={"task_id": "t", "session_id": sid})
    assert body["code"] == 0 and body["data"]["claim_token"].startswith("clm_") and body["data"]["expires_in"] == 604800

    api.emu.drop_session(sid)
    status, body = await api.request("GET", f"/api/state/nemo_agent/me/{sid}/latest")
    assert (status, body["code"]) == (200, 1002)
    status, body = await api.upload(BUNNY)
    assert body["code"] == 1002
    status, body = await api.request("POST", "/api/auth/claim-token", json={"task_id": "t", "session_id": sid})
    assert body["code"] == 1002
    async with api.http.post(api.base + "/run_sse", json=api.run_body("hi"), headers=api.auth) as r:
        assert r.status == 404


async def test_sessions_are_private_to_their_user(http: aiohttp.ClientSession, emu: Emulator) -> None:
    alice, bob = Api(http, emu), Api(http, emu)
    await alice.login("alice")
    await alice.new_session()
    await bob.login("bob")
    status, body = await bob.request("GET", f"/api/state/nemo_agent/me/{alice.sid}/latest")
    assert status == 200 and body["code"] == 1002  # a business error: HTTP 200 with the envelope


# --------------------------------------------------------------------------- uploads


async def test_upload_two_files_appends_video_infos(api: Api) -> None:
    await api.ready(BUNNY, BIKES)
    status, body = await api.upload(BIKES, names=["../race day é.mp4"])
    assert status == 200 and body["code"] == 0 and body["data"]["files"][0]["filename"] == "race day é.mp4"
    async with api.http.get(body["data"]["files"][0]["cdn_url"]) as r:
        assert r.status == 200 and len(await r.read()) == BIKES.stat().st_size
    infos = (await api.state())["video_infos"]
    assert [i["filename"] for i in infos] == ["bigbuckbunny.mp4", "bikes.mp4", "race day é.mp4"]
    assert infos[1]["width"] == 640 and infos[1]["duration"] == 10.0
    assert [u.filename for u in api.emu.state.uploads] == ["bigbuckbunny.mp4", "bikes.mp4", "race day é.mp4"]
    assert all(u.source == "multipart" and u.path.is_file() for u in api.emu.state.uploads)


async def test_upload_rejections(api: Api, tmp_path: Path) -> None:
    await api.login()
    await api.new_session()
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    status, body = await api.upload(txt)
    assert (status, body["code"]) == (200, 4001) and "mp4" in body["message"]
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 5000)
    status, body = await api.upload(fake)
    assert body["code"] == 4001
    # one bad file rejects the whole request
    status, body = await api.upload(BUNNY, fake)
    assert body["code"] == 4001
    api.emu.config.max_upload_bytes = 100_000
    status, body = await api.upload(BUNNY)
    assert (status, body["code"]) == (200, 4002)
    assert (await api.state())["video_infos"] == [] and api.emu.state.uploads == []
    assert not any((api.emu.state.incoming_dir).iterdir())  # partial files removed
    status, body = await api.request("POST", f"/api/upload-video/nemo_agent/me/{api.sid}", json={"nothing": 1})
    assert (status, body["code"]) == (400, 400)


async def test_upload_is_streamed_not_buffered(api: Api) -> None:
    """A 200 MB multipart body must not grow the server's memory (tests and server share the process)."""
    await api.login()
    await api.new_session()
    chunk = b"\x00" * (1024 * 1024)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(200):
            yield chunk

    proc = psutil.Process()
    before = proc.memory_info().rss
    with aiohttp.MultipartWriter("form-data") as mp:
        part = mp.append(body())
        part.set_content_disposition("form-data", name="files", filename="huge.mp4")
        status, answer = await api.request("POST", f"/api/upload-video/nemo_agent/me/{api.sid}", data=mp)
    grown = proc.memory_info().rss - before
    assert status == 200 and answer["code"] == 4001  # streamed to disk, counted, then found undecodable
    assert grown < 60 * 1024 * 1024, grown


async def test_url_upload_from_local_server(api: Api) -> None:
    async def clip(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(FIXTURES / request.match_info["name"])

    files = web.Application()
    files.router.add_get("/media/{name}", clip)
    async with TestServer(files, host="127.0.0.1") as server:
        await api.login()
        await api.new_session()
        urls = [str(server.make_url("/media/bikes.mp4")), str(server.make_url("/media/bigbuckbunny.mp4"))]
        status, body = await api.request(
            "POST", f"/api/upload-video/nemo_agent/me/{api.sid}", json={"urls": urls, "source_type": "url"}
        )
        assert status == 200 and body["code"] == 0, body
        assert [f["filename"] for f in body["data"]["files"]] == ["bikes.mp4", "bigbuckbunny.mp4"]
        assert body["data"]["files"][0]["height"] == 272
        assert [u.source for u in api.emu.state.uploads] == ["url", "url"]
        missing = str(server.make_url("/media/nope.mp4"))
        status, body = await api.request("POST", f"/api/upload-video/nemo_agent/me/{api.sid}", json={"urls": [missing]})
        assert body["code"] == 4003
        readme = str(server.make_url("/media/README.md"))
        status, body = await api.request("POST", f"/api/upload-video/nemo_agent/me/{api.sid}", json={"urls": [readme]})
        assert body["code"] == 4001
        api.emu.config.max_upload_bytes = 1000
        status, body = await api.request("POST", f"/api/upload-video/nemo_agent/me/{api.sid}", json={"urls": urls[:1]})
        assert body["code"] == 4002
    # never leaves the machine by default
    status, body = await api.request(
        "POST", f"/api/upload-video/nemo_agent/me/{api.sid}", json={"urls": ["https://example.com/a.mp4"]}
    )
    assert body["code"] == 4003
    assert len((await api.state())["video_infos"]) == 2


# --------------------------------------------------------------------------- renders


async def test_render_needs_attribution_headers(api: Api) -> None:
    await api.ready()
    await api.run("add title 'X'")
    draft = (await api.state())["draft"]
    headers = {"Authorization": f"Bearer {api.token}", "X-Skill-Source": "video-leaderboard"}
    status, body = await api.submit_render("render_402", draft, headers=headers)
    assert status == 402 and body["success"] is False and "X-Skill-Version" in body["error"]
    assert api.emu.state.attribution[api.sid] == {"source": "video-leaderboard", "version": None, "platform": None}
    assert "render_402" not in api.emu.state.renders


async def test_render_errors(api: Api) -> None:
    await api.ready()
    status, body = await api.submit_render("render_empty")
    assert (status, body) == (400, {"success": False, "error": "nothing to render: the draft has no segments"})
    status, body = await api.request("GET", "/api/render/proxy/lambda/nope")
    assert (status, body) == (404, {"success": False, "error": "not found"})
    status, body = await api.request("POST", "/api/render/proxy/lambda/nope/cancel")
    assert status == 404
    await api.run("add title 'X'")
    api.emu.config.render_pending_s = 0.5
    assert (await api.submit_render("render_a"))[0] == 200
    status, body = await api.submit_render("render_b")
    assert (status, body) == (409, {"success": False, "error": "render already in progress"})
    status, body = await api.request("GET", "/api/render/proxy/render_a/download")
    assert status == 409
    await api.poll("render_a")
    status, body = await api.submit_render("render_a")
    assert status == 409 and "already used" in body["error"]


async def test_fail_first_render_then_retry(api: Api) -> None:
    api.emu.config.fail_first_render = True
    await api.ready()
    await api.run("add title 'Retry'")
    await api.submit_render("render_1")
    first = await api.poll("render_1")
    assert first["data"]["status"] == "failed" and first["data"]["error"] and "outputUrl" not in first["data"]
    await api.submit_render("render_2")
    second = await api.poll("render_2")
    assert second["data"]["status"] == "completed" and second["data"]["outputUrl"]
    assert [r.attempt for r in api.emu.state.renders.values()] == [1, 2]
    assert api.emu.state.render_attempts[api.sid] == 2


@pytest.mark.parametrize("shape", ["A", "B", "C"])
async def test_omit_output_url_and_download_fallback(api: Api, shape: str) -> None:
    api.emu.config.omit_output_url = True
    api.emu.config.render_shape = shape
    await api.ready()
    await api.run("make a short example clip with a title")
    await api.submit_render("render_dl")
    final = await api.poll("render_dl")
    assert "http" not in json.dumps(final)
    async with api.http.get(api.base + "/api/render/proxy/render_dl/download") as r:
        assert r.status == 401  # bearer required
    async with api.http.get(api.base + "/api/render/proxy/render_dl/download", headers=api.auth) as r:
        assert r.status == 200 and r.content_type == "video/mp4"
        assert (await r.read())[4:8] == b"ftyp"


async def test_cancel_render_kills_ffmpeg(api: Api) -> None:
    await api.ready(BIKES, BUNNY)
    await api.run("rank my clips")
    draft = (await api.state())["draft"]
    await api.submit_render("render_c", draft)
    for _ in range(400):
        _, body = await api.request("GET", "/api/render/proxy/lambda/render_c")
        if body["data"]["status"] == "processing" and body["data"]["progress"] > 0:
            break
        await asyncio.sleep(0.01)
    status, body = await api.request("POST", "/api/render/proxy/lambda/render_c/cancel")
    assert (status, body) == (
        200,
        {"success": True, "data": {"id": "render_c", "status": "failed", "error": "cancelled"}},
    )
    await asyncio.wait_for(api.emu.state.idle(), 10)  # ffmpeg stopped, job over
    _, body = await api.request("GET", "/api/render/proxy/lambda/render_c")
    assert body["data"]["status"] == "failed" and body["data"]["error"] == "cancelled"
    assert not (api.emu.state.renders_dir / "render_c.mp4").exists()
    async with api.http.get(api.base + "/renders/render_c.mp4") as r:
        assert r.status == 404
    status, body = await api.request("POST", "/api/render/proxy/lambda/render_c/cancel")
    assert status == 409
    assert (await api.submit_render("render_d", draft))[0] == 200  # a new render is allowed


# --------------------------------------------------------------------------- lifecycle


async def test_stop_during_work_is_clean(http: aiohttp.ClientSession) -> None:
    emu = Emulator(fast_config(render_pending_s=0.0))
    await emu.start()
    data_dir = emu.state.data_dir
    api = Api(http, emu)
    await api.ready(BIKES)
    await api.run("add title 'X'")
    await api.submit_render("render_stop")
    async with api.http.post(api.base + "/run_sse", json=api.run_body(LEADERBOARD), headers=api.auth) as r:
        await r.content.readline()
        await emu.stop()
    assert not data_dir.exists()
    assert not emu.state._tasks
    await emu.stop()  # idempotent


async def test_keeps_given_data_dir(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with Emulator(fast_config(), data_dir=tmp_path / "data") as emu:
        api = Api(http, emu)
        await api.ready()
    assert any((tmp_path / "data" / "cdn").rglob("bigbuckbunny.mp4"))


async def test_serve_logs_url_and_stops_on_cancel(
    capsys: pytest.CaptureFixture[str], http: aiohttp.ClientSession
) -> None:
    task = asyncio.create_task(serve("127.0.0.1", 0, fast_config()))
    url = None
    for _ in range(200):
        await asyncio.sleep(0.01)
        m = re.search(r"(http://127\.0\.0\.1:\d+)", capsys.readouterr().err)
        if m:
            url = m.group(1)
            break
    assert url
    async with http.post(url + "/api/auth/anonymous-token", headers={"X-Client-Id": "x"}) as r:
        assert (await r.json())["code"] == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
