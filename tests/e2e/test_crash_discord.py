"""Crash test on Discord: ``nemobot run`` is killed with SIGKILL while ``/edit`` runs and
``/export`` renders are in flight, started again on the same database, and every run is
reported (never re-sent) and every video arrives exactly once.

The bot runs as a subprocess against the in-test emulator and fake Discord (REST + gateway).
Every conversation starts with a slash command, so its progress message is an interaction's
original response: after the restart only a plain channel can reach it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from emulator.media import make_sample_clip
from tests.e2e.test_crash import base_env, start_bot, stop_bot
from tests.fakes.discord import FakeDiscord

pytestmark = pytest.mark.e2e

GUILD = 710000000000000001
RUN_CHANNELS = [710000000000000011, 710000000000000012, 710000000000000013]
RENDER_CHANNELS = [710000000000000021, 710000000000000022, 710000000000000023]
TOKEN = "MTIz.crash-discord.token"


def bot_env(emulator, dc, db: Path) -> dict[str, str]:
    env = base_env(emulator, db)
    env.update(
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_URL=dc.url,
        DISCORD_GATEWAY_URL=dc.ws_url,
        DISCORD_GUILD_IDS=str(GUILD),
        DISCORD_EDIT_INTERVAL_S="0.2",
    )
    return env


def contents(dc, channel_id: int) -> list[str]:
    return [m.get("content") or "" for m in dc.bot_messages(channel_id)]


def interaction_texts(dc, interaction_id: int) -> list[str]:
    out = []
    for r in dc.interaction_responses.get(interaction_id, []):
        data = r.get("data") or {}
        if isinstance(data, dict) and data.get("content"):
            out.append(data["content"])
    return out


def videos_in(dc, channel_id: int) -> int:
    """MP4 files the bot posted in a channel (as a follow-up or a channel message)."""
    return sum(1 for m in dc.bot_messages(channel_id) for f in m["files"] if f.filename.endswith(".mp4"))


@pytest.fixture
async def dc(tmp_path):
    async with FakeDiscord(files_dir=tmp_path / "dc") as fake:
        fake.add_guild(GUILD, channels=[*RUN_CHANNELS, *RENDER_CHANNELS])
        yield fake


async def edit(dc, channel_id: int, prompt: str, clip: Path | None = None) -> int:
    options = [{"name": "prompt", "type": 3, "value": prompt}]
    resolved = []
    if clip is not None:
        att = dc.add_attachment(clip, filename=clip.name)
        options.append({"name": "clip", "type": 11, "value": str(att["id"])})
        resolved.append(att)
    interaction = await dc.interaction_create(
        name="edit", channel_id=channel_id, options=options, resolved_attachments=resolved or None
    )
    return int(interaction["id"])


async def test_kill_during_edits_and_renders_on_discord(emulator, dc, tmp_path):
    clip = make_sample_clip(tmp_path / "clip.mp4", duration_s=1.0, width=320, height=240)
    env = bot_env(emulator, dc, tmp_path / "bot.db")
    log = tmp_path / "bot.log"
    first = await start_bot(env, tmp_path, log)
    try:
        await dc.wait_ready(timeout=30)
        # projects ready to export
        setups = [await edit(dc, ch, f"add title 'Render {i}'", clip) for i, ch in enumerate(RENDER_CHANNELS)]
        await dc.wait_until(
            lambda: all(any("✅ Done in" in t for t in interaction_texts(dc, i)) for i in setups), timeout=120
        )
        emulator.config.render_pending_s = 4.0  # renders stay in flight while the bot dies
        exports = [int((await dc.interaction_create(name="export", channel_id=ch))["id"]) for ch in RENDER_CHANNELS]
        # agent runs in flight, each with a clip, started by /edit
        emulator.config.step_delay_s = 1.0
        runs = [await edit(dc, ch, f"add title 'Run {i}'", clip) for i, ch in enumerate(RUN_CHANNELS)]
        await dc.wait_until(
            lambda: (
                len(emulator.state.renders) == len(RENDER_CHANNELS)
                and sum(emulator.state.runs_per_session.values()) == len(RENDER_CHANNELS) + len(RUN_CHANNELS)
            ),
            timeout=60,
        )
        await asyncio.sleep(0.5)
        first.kill()  # no cleanup at all
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert not any(videos_in(dc, ch) for ch in RENDER_CHANNELS)  # every video is still owed
    await emulator.state.idle()  # NemoVideo finishes the edits on its own
    emulator.config.step_delay_s = 0.0
    emulator.config.render_pending_s = 0.2

    second = await start_bot(env, tmp_path, log)
    try:
        await dc.wait_until(
            lambda: (
                all(videos_in(dc, ch) >= 1 for ch in RENDER_CHANNELS)
                and all(
                    any(c.startswith("I restarted while working on") for c in contents(dc, ch)) for ch in RUN_CHANNELS
                )
            ),
            timeout=240,
        )
        await asyncio.sleep(1.5)  # anything duplicated would show up now
        assert await stop_bot(second) == 0
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()

    assert [videos_in(dc, ch) for ch in RENDER_CHANNELS] == [1] * len(RENDER_CHANNELS), "each video exactly once"
    assert len(emulator.state.renders) == len(RENDER_CHANNELS)  # nothing rendered twice
    assert set(emulator.state.runs_per_session.values()) == {1}  # one run per project, nothing re-sent
    for i, ch in enumerate(RUN_CHANNELS):
        report = next(c for c in contents(dc, ch) if c.startswith("I restarted"))
        assert f"\"add title 'Run {i}'\"" in report and f'Added title "Run {i}"' in report
    for iid in runs + exports:
        assert not any("Something went wrong" in t for t in interaction_texts(dc, iid))
    for ch in RUN_CHANNELS + RENDER_CHANNELS:
        assert not any("Something went wrong" in c for c in contents(dc, ch))
    bot_log = log.read_text()
    assert "Traceback" not in bot_log and "Task was destroyed" not in bot_log and "never awaited" not in bot_log
    assert TOKEN not in bot_log
    print(
        f"crash test (Discord, SIGKILL): {len(RUN_CHANNELS)} /edit runs and {len(RENDER_CHANNELS)} renders cut off,"
        " 0 lost, 0 duplicated, 0 re-sent"
    )
