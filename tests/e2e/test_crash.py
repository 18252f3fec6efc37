"""Crash tests: ``nemobot run`` is killed with SIGKILL in the middle of renders and agent runs,
started again on the same database, and nothing is lost, duplicated or re-sent.

The bot runs as a subprocess against the in-test emulator and fake Telegram Bot API.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from emulator.media import make_sample_clip
from tests.fakes.telegram import FakeTelegram

CONVERSATIONS = 20
pytestmark = pytest.mark.e2e


def base_env(emulator, db: Path) -> dict[str, str]:
    """``nemobot run``'s environment against the emulator: quick polls, no platform yet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "TELEGRAM_", "DISCORD_"))}
    env["HEALTH_PORT"] = "off"  # another nemobot on this machine may hold 8080
    env.update(
        NEMO_API_URL=emulator.url,
        DATABASE_URL=f"sqlite:///{db}",
        PROGRESS_EDIT_INTERVAL_S="0.2",
        RENDER_POLL_INITIAL_S="0.2",
        RENDER_POLL_MAX_S="0.5",
        LOG_LEVEL="INFO",
        PYTHONWARNINGS="error,ignore:'audioop' is deprecated:DeprecationWarning",
    )
    return env


def bot_env(emulator, tg, db: Path) -> dict[str, str]:
    env = base_env(emulator, db)
    env.update(TELEGRAM_TOKEN=tg.token, TELEGRAM_API_URL=tg.url, TELEGRAM_EDIT_INTERVAL_S="0.2")
    return env


async def start_bot(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with open(log, "ab") as err:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )


async def stop_bot(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 30)


def texts(tg, chat_id):
    return [m.text or m.caption or "" for m in tg.bot_messages(chat_id)]


@pytest.fixture
async def tg(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg") as fake:
        yield fake


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_sample_clip(tmp_path / "clip.mp4", duration_s=1.0, width=320, height=240)


@pytest.mark.parametrize(("how", "n"), [("SIGKILL", CONVERSATIONS), ("SIGTERM", 5)])
async def test_stop_during_renders_every_video_arrives_once(emulator, tg, tmp_path, clip, how, n):
    env = bot_env(emulator, tg, tmp_path / "bot.db")
    log = tmp_path / "bot.log"
    chats = [tg.private_chat(user_id=20_000 + i) for i in range(n)]
    first = await start_bot(env, tmp_path, log)
    try:
        for i, chat in enumerate(chats):
            tg.user_media(chat, "video", tg.add_file(clip, file_name=f"clip{i}.mp4"), caption=f"add title 'Clip {i}'")
        await tg.wait_until(
            lambda: all(any(m.reply_markup for m in tg.bot_messages(c["id"])) for c in chats), timeout=120
        )
        emulator.config.render_pending_s = 4.0  # renders stay in flight while the bot dies
        for chat in chats:
            tg.user_text(chat, "/export")
        await tg.wait_until(lambda: len(emulator.state.renders) == n, timeout=60)
        if how == "SIGKILL":
            first.kill()  # no cleanup at all
            await first.wait()
        else:
            assert await stop_bot(first) == 0  # graceful: leaves the jobs resumable
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    if how == "SIGKILL":
        assert not tg.calls_of("sendVideo")  # every video is still owed
    emulator.config.render_pending_s = 0.2

    second = await start_bot(env, tmp_path, log)
    try:
        await tg.wait_until(lambda: len(tg.calls_of("sendVideo")) >= n, timeout=240)
        await asyncio.sleep(1.5)  # anything duplicated would show up now
        assert await stop_bot(second) == 0
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()

    per_chat = {}
    for call in tg.calls_of("sendVideo"):
        per_chat[call.params["chat_id"]] = per_chat.get(call.params["chat_id"], 0) + 1
    assert per_chat == {c["id"]: 1 for c in chats}, "every conversation gets its video exactly once"
    for chat in chats:
        status = [m for m in tg.bot_messages(chat["id"]) if m.edits and "Render" in (m.text or "")]
        assert status and status[-1].text.startswith("✅ Rendered in"), texts(tg, chat["id"])
    assert len(emulator.state.renders) == n  # nothing rendered twice
    bot_log = log.read_text()
    assert "Traceback" not in bot_log and "Task was destroyed" not in bot_log and "never awaited" not in bot_log
    print(f"crash test (renders, {how}): {n} exports stopped mid-render, 0 lost, 0 duplicated")


async def test_kill_during_agent_runs_nothing_is_resent(emulator, tg, tmp_path, clip):
    env = bot_env(emulator, tg, tmp_path / "bot.db")
    log = tmp_path / "bot.log"
    chats = [tg.private_chat(user_id=30_000 + i) for i in range(CONVERSATIONS)]
    first = await start_bot(env, tmp_path, log)
    try:
        for i, chat in enumerate(chats):
            tg.user_media(chat, "video", tg.add_file(clip, file_name=f"clip{i}.mp4"))
        await tg.wait_until(lambda: all(any("Added clip" in t for t in texts(tg, c["id"])) for c in chats), timeout=60)
        emulator.config.step_delay_s = 1.0  # runs take several seconds
        for i, chat in enumerate(chats):
            tg.user_text(chat, f"add title 'Run {i}'")
        await tg.wait_until(lambda: sum(emulator.state.runs_per_session.values()) == CONVERSATIONS, timeout=60)
        await asyncio.sleep(0.5)
        first.kill()
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    await emulator.state.idle()  # NemoVideo finishes the edits on its own
    emulator.config.step_delay_s = 0.0

    second = await start_bot(env, tmp_path, log)
    try:
        await tg.wait_until(
            lambda: all(any(t.startswith("I restarted while working on") for t in texts(tg, c["id"])) for c in chats),
            timeout=60,
        )
        assert await stop_bot(second) == 0
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    assert set(emulator.state.runs_per_session.values()) == {1}, "no run is ever sent twice"
    for i, chat in enumerate(chats):
        report = next(t for t in texts(tg, chat["id"]) if t.startswith("I restarted"))
        assert f"\"add title 'Run {i}'\"" in report and f'Added title "Run {i}"' in report
    print(f"crash test (runs): {CONVERSATIONS} runs cut off, 0 re-sent, {CONVERSATIONS} users told")
