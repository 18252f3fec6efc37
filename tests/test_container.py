"""The container files, checked without a Docker daemon: the Dockerfile's stages, user, health
check, entry point and install step; what .dockerignore keeps out; compose.yaml's volume and port.
The health check command itself is run against a live health server."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from bot.app import open_runtime
from bot.health import HealthServer
from tests.conftest import fast_settings

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as ``(INSTRUCTION, arguments)``, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def final_stage() -> list[tuple[str, str]]:
    rows = instructions()
    last_from = max(i for i, (word, _) in enumerate(rows) if word == "FROM")
    return rows[last_from:]


def test_multi_stage_on_a_slim_official_python():
    bases = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert len(bases) >= 2 and all(re.fullmatch(r"python:3\.1[1-9]-slim", b) for b in bases)
    assert any(word == "COPY" and args.startswith("--from=build") for word, args in final_stage())


def test_runs_as_a_non_root_user_with_the_database_on_a_volume():
    stage = final_stage()
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert any(word == "VOLUME" and "/data" in args for word, args in stage)
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "DATABASE_URL=sqlite:////data/" in env and "HEALTH_PORT=0.0.0.0:8080" in env


def test_entry_point_is_nemobot_run():
    stage = dict((word, args) for word, args in final_stage() if word in {"ENTRYPOINT", "CMD"})
    assert json.loads(stage["ENTRYPOINT"]) == ["nemobot"] and json.loads(stage["CMD"]) == ["run"]


def test_installs_the_package_without_extras_and_copies_every_package():
    runs = [args for word, args in instructions() if word == "RUN" and "pip install" in args]
    assert runs and all(re.search(r"pip install (--no-cache-dir )?\.$", r) for r in runs)  # no [dev], no [demo]
    copied = {args.split()[0] for word, args in instructions() if word == "COPY" and not args.startswith("--from")}
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for pattern in packages["include"]:
        assert pattern.rstrip("*") in copied
    assert "pyproject.toml" in copied


def test_dockerignore_keeps_secrets_databases_and_dev_files_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".env", "*.db", "tests"} <= ignored


def test_compose_keeps_data_on_a_volume_and_health_on_the_host_only():
    text = (ROOT / "compose.yaml").read_text()
    assert ":/data" in text and "env_file: .env" in text
    assert '"127.0.0.1:8080:8080"' in text


async def test_the_health_check_command_passes_against_a_live_server(emulator, tmp_path):
    [check] = [args for word, args in final_stage() if word == "HEALTHCHECK"]
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    async with open_runtime(fast_settings(emulator.url, tmp_path)) as runtime:
        server = HealthServer(runtime, dict)
        await server.start("127.0.0.1", 0)
        try:
            assert server.url is not None
            code = command[2].replace("http://127.0.0.1:8080", server.url)
            proc = await _run([sys.executable, "-c", code])
            dead = await _run([sys.executable, "-c", command[2].replace("8080", "9")])
        finally:
            await server.stop()
    assert proc.returncode == 0, proc.stderr
    assert dead.returncode != 0  # nothing listening: the container is reported unhealthy


async def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
