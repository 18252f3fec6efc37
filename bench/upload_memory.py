"""Upload benchmark: memory and throughput of NemoClient.upload_files vs a plain aiohttp upload.

Generates a ~300 MB video file (raw video in Matroska, so the emulator's probe accepts it),
starts the emulator in a subprocess (so only the client's memory is measured), then uploads
the same file twice in the same run: once through ``NemoClient.upload_files`` and once as a
plain ``aiohttp`` multipart POST. Peak RSS growth of this process is sampled every 5 ms.

Targets (issue 2): RSS growth under 64 MB; client throughput at least half of the plain one.

Usage: ``python bench/upload_memory.py [--size-mb 300] [--out bench/results/upload_memory.json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import psutil

from bot.nemo.client import NemoClient, UploadSource
from emulator.media import ffmpeg_exe

HERE = Path(__file__).resolve().parent


class PeakRSS:
    """Samples this process's RSS in a thread; ``growth`` is peak minus the start (bytes)."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.proc = psutil.Process()
        self.interval_s = interval_s
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


def make_video(path: Path, size_mb: int) -> int:
    """A raw-video Matroska file of about ``size_mb`` MB (1280x720 yuv420p frames)."""
    frame = 1280 * 720 * 3 // 2
    frames = max(1, size_mb * 1024 * 1024 // frame)
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=s=1280x720:r=25:d={frames / 25}",
            "-frames:v",
            str(frames),
            "-c:v",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    return path.stat().st_size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{url}/api/credits/balance/simple") as resp:
                    await resp.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise RuntimeError("emulator did not start")


async def bench(size_mb: int, workdir: Path, rounds: int = 3) -> dict[str, object]:
    video = workdir / "big.mkv"
    size = make_video(video, size_mb)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    emu = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [sys.executable, "-m", "bot.cli", "emulator", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_ready(url)
        async with NemoClient(url) as client, aiohttp.ClientSession() as http:
            session = await client.create_session()
            await client.credits()  # warm up the token and the connection pool
            token = await client._token()
            headers = {
                "Authorization": f"Bearer {token}",
                "X-Skill-Source": "bench",
                "X-Skill-Version": "0",
                "X-Skill-Platform": "console",
            }
            target = f"{url}/api/upload-video/nemo_agent/me/{session.session_id}"

            async def via_client() -> None:
                files = await client.upload_files(
                    session.session_id,
                    [UploadSource(filename="big.mkv", path=video, size=size, content_type="video/x-matroska")],
                )
                assert files and files[0].filename

            async def via_plain() -> None:
                with open(video, "rb") as fh:  # noqa: ASYNC230 - the baseline reads the file the plain way
                    form = aiohttp.FormData()
                    form.add_field("files", fh, filename="big.mkv", content_type="video/x-matroska")
                    async with http.post(target, data=form, headers=headers) as resp:
                        body = await resp.json()
                assert body.get("code") == 0, body

            client_runs: list[float] = []
            plain_runs: list[float] = []
            client_growth = plain_growth = 0
            for _ in range(rounds):  # interleaved, so caches favour neither side
                for fn, runs in ((via_plain, plain_runs), (via_client, client_runs)):
                    with PeakRSS() as mem:
                        t0 = time.perf_counter()
                        await fn()
                        runs.append(time.perf_counter() - t0)
                    if fn is via_client:
                        client_growth = max(client_growth, mem.growth)
                    else:
                        plain_growth = max(plain_growth, mem.growth)
    finally:
        emu.terminate()
        emu.wait(timeout=10)
    mb = size / (1024 * 1024)
    client_s = statistics.median(client_runs)
    plain_s = statistics.median(plain_runs)
    return {
        "file_bytes": size,
        "client": {
            "seconds": round(client_s, 3),
            "mb_per_s": round(mb / client_s, 1),
            "rss_growth_mb": round(client_growth / 2**20, 1),
            "runs_s": [round(x, 3) for x in client_runs],
        },
        "plain_aiohttp": {
            "seconds": round(plain_s, 3),
            "mb_per_s": round(mb / plain_s, 1),
            "rss_growth_mb": round(plain_growth / 2**20, 1),
            "runs_s": [round(x, 3) for x in plain_runs],
        },
        "throughput_ratio_client_vs_plain": round(plain_s / client_s, 2),
        "targets": {"rss_growth_mb_max": 64, "throughput_ratio_min": 0.5},
        "note": "seconds are medians of interleaved runs and include the emulator's write and probe of the file",
        "pass": client_growth < 64 * 2**20 and plain_s / client_s >= 0.5,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "aiohttp": aiohttp.__version__},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved uploads per side (median reported)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "upload_memory.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nemobot-bench-") as tmp:
        result = asyncio.run(bench(args.size_mb, Path(tmp), args.rounds))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
