"""Moving an install from SQLite to PostgreSQL (issue 14): ``nemobot run`` on SQLite is killed
with renders and an agent run in flight, ``nemobot store copy`` moves its database into
PostgreSQL, and ``nemobot run`` on PostgreSQL picks everything up: each video is delivered
exactly once, the cut-off run is reported, nothing is rendered or re-sent twice.

Every step is a real subprocess, against the in-test emulator and fake Telegram Bot API (as
``tests/e2e/test_crash.py``), and the test run's PostgreSQL (``tests/postgres.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from emulator.media import make_sample_clip
from store import JobStatus, open_store
from tests.fakes.telegram import FakeTelegram
from tests.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # fixtures

pytestmark = pytest.mark.e2e


def bot_env(emulator, tg, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO", "TELEGRAM_", "DISCORD_", "DATABASE_"))}
    env.update(
        NEMO_API_URL=emulator.url,
        DATABASE_URL=database_url,
        PROGRESS_EDIT_INTERVAL_S="0.2",
        RENDER_POLL_INITIAL_S="0.2",
        RENDER_POLL_MAX_S="0.5",
        LOG_LEVEL="INFO",
        HEALTH_PORT="off",
        PYTHONWARNINGS="error,ignore:'audioop' is deprecated:DeprecationWarning",
        TELEGRAM_TOKEN=tg.token,
        TELEGRAM_API_URL=tg.url,
        TELEGRAM_EDIT_INTERVAL_S="0.2",
    )
    return env


async def start_bot(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with open(log, "ab") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=cwd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err
        )


async def store_copy(source: str, target: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "store",
        "copy",
        source,
        target,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def texts(tg, chat_id) -> list[str]:
    return [m.text or m.caption or "" for m in tg.bot_messages(chat_id)]


async def jobs(url: str):
    store = open_store(url)
    await store.open()
    try:
        return {job.conversation_key: job for job in await store.list_renders()}
    finally:
        await store.close()


@pytest.fixture
async def tg(tmp_path):
    async with FakeTelegram(files_dir=tmp_path / "tg") as fake:
        yield fake


async def test_a_sqlite_install_moved_to_postgres_resumes_its_render_and_delivers_once(
    emulator, tg, tmp_path, postgres_url
):
    clip = make_sample_clip(tmp_path / "clip.mp4", duration_s=1.0, width=320, height=240)
    sqlite_url = f"sqlite:///{tmp_path / 'bot.db'}"
    log = tmp_path / "bot.log"
    exporting = [tg.private_chat(user_id=40_000 + i) for i in range(2)]
    running = tg.private_chat(user_id=40_100)

    first = await start_bot(bot_env(emulator, tg, sqlite_url), tmp_path, log)
    try:
        for i, chat in enumerate(exporting):
            tg.user_media(chat, "video", tg.add_file(clip, file_name=f"clip{i}.mp4"), caption=f"add title 'Clip {i}'")
        tg.user_media(running, "video", tg.add_file(clip, file_name="clip_run.mp4"))
        await tg.wait_until(
            lambda: (
                all(any(m.reply_markup for m in tg.bot_messages(c["id"])) for c in exporting)
                and any("Added clip" in t for t in texts(tg, running["id"]))
            ),
            timeout=120,
        )
        emulator.config.render_pending_s = 10.0  # still rendering while the install moves
        for chat in exporting:
            tg.user_text(chat, "/export")
        await tg.wait_until(lambda: len(emulator.state.renders) == len(exporting), timeout=60)
        emulator.config.step_delay_s = 1.0  # and an agent run is under way when the process dies
        tg.user_text(running, "add title 'Moved'")
        await tg.wait_until(lambda: sum(emulator.state.runs_per_session.values()) == 3, timeout=60)
        await asyncio.sleep(0.5)
        first.kill()  # a process that stopped mid-render: no cleanup at all
        await first.wait()
    finally:
        await kill(first)
    assert not tg.calls_of("sendVideo")
    before = await jobs(sqlite_url)
    assert {job.status for job in before.values()} <= {JobStatus.SUBMITTING, JobStatus.PENDING}
    assert len(before) == len(exporting)

    code, out, err = await store_copy(sqlite_url, postgres_url, tmp_path, bot_env(emulator, tg, sqlite_url))
    assert code == 0, err
    lines = {tuple(line.split()) for line in out.splitlines()}
    assert {("conversations", "3"), ("render_jobs", "2")} <= lines, out
    assert {rec.status for rec in emulator.state.renders.values()} <= {"pending", "processing"}  # still running
    await emulator.state.idle()  # NemoVideo finishes the agent's edit on its own
    emulator.config.step_delay_s = 0.0
    emulator.config.render_pending_s = 0.2

    second = await start_bot(bot_env(emulator, tg, postgres_url), tmp_path, log)
    try:
        await tg.wait_until(
            lambda: (
                len(tg.calls_of("sendVideo")) >= len(exporting)
                and any(t.startswith("I restarted while working on") for t in texts(tg, running["id"]))
            ),
            timeout=240,
        )
        await asyncio.sleep(1.5)  # anything duplicated would show up now
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
    finally:
        await kill(second)

    per_chat: dict[int, int] = {}
    for call in tg.calls_of("sendVideo"):
        per_chat[call.params["chat_id"]] = per_chat.get(call.params["chat_id"], 0) + 1
    assert per_chat == {c["id"]: 1 for c in exporting}, "each video exactly once, from the PostgreSQL install"
    for chat in exporting:
        status = [m for m in tg.bot_messages(chat["id"]) if m.edits and "Render" in (m.text or "")]
        assert status and status[-1].text.startswith("✅ Rendered in"), texts(tg, chat["id"])
    report = next(t for t in texts(tg, running["id"]) if t.startswith("I restarted"))
    assert "add title 'Moved'" in report and 'Added title "Moved"' in report
    assert len(emulator.state.renders) == len(exporting)  # nothing rendered twice
    assert set(emulator.state.runs_per_session.values()) == {1}  # no run sent twice

    after = await jobs(postgres_url)
    assert set(after) == set(before)
    assert all(job.delivered and job.status == JobStatus.DELIVERED for job in after.values())
    assert all(after[key].status_message == before[key].status_message for key in after)  # the same message edited
    assert not any(job.delivered for job in (await jobs(sqlite_url)).values())  # the old database was left as it was
    bot_log = log.read_text()
    assert "Traceback" not in bot_log and "Task was destroyed" not in bot_log and "never awaited" not in bot_log
