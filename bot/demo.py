"""``nemobot demo``: one real conversation, offline, printed as a user would see it.

Starts the NemoVideo emulator in-process on a free loopback port, then plays one
conversation through the engine and the terminal adapter: upload the clip(s), ask the
skill's example, show the status, export, and save the MP4 to ``--out``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol, TextIO

from bot.app import load_adapter, open_runtime
from bot.boundary import IncomingMessage, ReplyChannel
from bot.profiles import get_profile
from bot.settings import load_settings


class ScriptedChannel(ReplyChannel, Protocol):
    """The console channel the demo prints to: it lists what was delivered."""

    delivered: list[Path]


class Scriptable(Protocol):
    """What the demo needs of the terminal adapter: a channel and parsed lines."""

    def channel(self, **kwargs: Any) -> ScriptedChannel: ...

    def message(self, line: str, **kwargs: Any) -> IncomingMessage: ...


async def run_demo(
    *,
    clips: list[Path] | None = None,
    skill: str = "video-leaderboard",
    prompt: str | None = None,
    out: Path = Path("nemobot-demo.mp4"),
    stream: TextIO | None = None,
    seed: int = 7,
) -> Path:
    """Play the demo conversation.

    Args:
        clips: Clips to upload; with none, short sample clips are generated with ffmpeg
            (two for profiles that rank several clips).
        skill: The skill profile to use.
        prompt: The edit request; the profile's first example when ``None``.
        out: Where the rendered MP4 is saved.
        stream: Where the conversation is printed (stdout by default).
        seed: Seed of the emulator's agent (silent runs are seeded).

    Returns:
        The path of the saved MP4.

    Raises:
        RuntimeError: The conversation ended without a delivered video.
        FileNotFoundError: A clip does not exist.
    """
    from emulator.app import Emulator
    from emulator.config import EmulatorConfig
    from emulator.media import make_sample_clip

    stream = stream or sys.stdout
    profile = get_profile(skill)
    factory = load_adapter("console")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nemobot-demo-") as tmp_name:
        tmp = Path(tmp_name)
        if clips:
            for clip in clips:
                if not clip.is_file():
                    raise FileNotFoundError(f"clip not found: {clip}")
        else:
            count = max(1, profile.min_clips)
            clips = []
            for i in range(count):
                path = tmp / f"sample-{i + 1}.mp4"
                await asyncio.to_thread(make_sample_clip, path, duration_s=4.0 + 2 * i)
                clips.append(path)
        config = EmulatorConfig(seed=seed, step_delay_s=0.02, heartbeat_interval_s=0.5)
        async with Emulator(config=config, data_dir=tmp / "emulator") as emu:
            url = emu.url
            settings = load_settings(
                nemo_api_url=url,
                nemo_web_url="https://nemovideo.com",
                nemo_token=None,
                database_url=f"sqlite:///{tmp / 'demo.db'}",
                default_skill=profile.name,
                progress_edit_interval_s=0.5,
                heartbeat_interval_s=20,
                render_poll_initial_s=0.5,
                render_poll_max_s=1.5,
                downloads_dir=tmp / "downloads",
            )
            stream.write(f"NemoVideo emulator at {url} · skill {profile.name} {profile.version}\n\n")
            async with open_runtime(settings, platform="console") as runtime:
                console: Scriptable = factory.create(runtime)  # type: ignore[assignment]
                channel = console.channel(out=stream, downloads_dir=out.parent, save_as=out.name)
                script = [
                    "/upload " + " ".join(f"'{c}'" for c in clips),
                    prompt or profile.examples[0],
                    "/status",
                    "/export",
                ]
                for n, line in enumerate(script, start=1):
                    shown = line if not line.startswith("/upload") else "📎 " + ", ".join(c.name for c in clips)
                    stream.write(f"\nyou: {shown}\n")
                    stream.flush()
                    await runtime.engine.handle(console.message(line, counter=n, chat_id="demo"), channel)
        if not channel.delivered:
            raise RuntimeError("the demo ended without a delivered video (see the messages above)")
    size = (await asyncio.to_thread(out.stat)).st_size
    stream.write(f"\nSaved {out} ({size} bytes) in {time.monotonic() - started:.1f} s\n")
    with contextlib.suppress(Exception):
        stream.write(describe_video(out) + "\n")
    return out


def describe_video(path: Path) -> str:
    """An ffprobe-like line: ``h264 1920x1080 30 fps, aac 48000 Hz stereo, 5.30 s``."""
    import av

    with av.open(str(path)) as container:
        parts: list[str] = []
        for v in container.streams.video:
            ctx = v.codec_context
            parts.append(f"{ctx.name} {ctx.width}x{ctx.height} {float(v.average_rate or 0):.0f} fps")
        for a in container.streams.audio:
            actx = a.codec_context
            parts.append(f"{actx.name} {actx.sample_rate} Hz {actx.layout.name}")
        duration = (container.duration or 0) / 1_000_000
    return f"{path.name}: " + ", ".join(parts) + f", {duration:.2f} s"


def main_demo(clips: list[Path] | None, skill: str, prompt: str | None, out: Path) -> int:
    """CLI wrapper: run the demo, print errors as one line, return an exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from bot.redact import install

    install()
    try:
        asyncio.run(run_demo(clips=clips, skill=skill, prompt=prompt, out=out))
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0
