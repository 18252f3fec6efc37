"""A production install carries no ffmpeg: what only the emulator and the demo need is the ``demo`` extra.

The production path (``nemobot run``, ``nemobot chat``, the ``bot``, ``adapters`` and ``store``
packages) is run in a fresh interpreter where the demo extra's modules cannot be imported;
``nemobot demo`` and ``nemobot emulator`` there say in one line what to install.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Import names of the demo extra's distributions (fontpkg is fontpkg-noto-sans's dependency); PyAV
# is a main dependency (poster frames, bot/pictures/poster.py).
BLOCKED = ("imageio_ffmpeg", "fontpkg_noto_sans", "fontpkg")

# Prepended to every script: makes the demo extra unimportable, as in a production install.
_BLOCKER = textwrap.dedent(
    f"""
    import importlib.abc
    import sys

    BLOCKED = {BLOCKED!r}


    class _NoDemoExtra(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
            return None


    sys.meta_path.insert(0, _NoDemoExtra())
    assert not [m for m in sys.modules if m.partition(".")[0] in BLOCKED]


    def assert_nothing_blocked_was_imported():
        leaked = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
        assert not leaked, f"imported: {{leaked}}"
    """
)

_IMPORT_PRODUCTION = textwrap.dedent(
    """
    import importlib
    import pkgutil

    imported = []
    for top in ("bot", "adapters", "store"):
        package = importlib.import_module(top)
        imported.append(top)
        for info in pkgutil.walk_packages(package.__path__, top + "."):
            if info.name == "bot.demo":  # the demo may need the extra
                continue
            importlib.import_module(info.name)
            imported.append(info.name)
    assert_nothing_blocked_was_imported()

    from bot.cli import main

    for argv in (["--help"], ["run", "--help"], ["chat", "--help"]):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        assert code == 0, (argv, code)
    assert_nothing_blocked_was_imported()
    print("imported", len(imported), "modules:", " ".join(imported))
    """
)


def _run_blocked(script: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter of this venv with the demo extra blocked."""
    return subprocess.run(
        [sys.executable, "-c", _BLOCKER + textwrap.dedent(script)],
        cwd=tmp_path,
        env={"PATH": "", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_packages_import_without_the_demo_extra(tmp_path):
    proc = _run_blocked(_IMPORT_PRODUCTION, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    imported = set(proc.stdout.split(":", 1)[1].split())
    assert {"bot.engine", "bot.cli", "bot.nemo.client", "adapters.telegram", "store.sqlite"} <= imported
    assert "bot.demo" not in imported


def test_run_without_the_demo_extra_loads_every_adapter(tmp_path):
    """``nemobot run`` goes through settings and the adapter entry points, then stops (no token)."""
    proc = _run_blocked(
        """
        from bot.cli import main

        code = main(["run"])
        assert_nothing_blocked_was_imported()
        raise SystemExit(code)
        """,
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert proc.returncode == 2, proc.stderr
    assert "no platform is configured" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["demo", "emulator"])
def test_demo_commands_without_the_extra_say_what_to_install(tmp_path, command):
    proc = _run_blocked(
        f"""
        from bot.cli import main

        raise SystemExit(main([{command!r}]))
        """,
        tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"nemobot: the {command} needs the demo extra")
    assert "pip install 'nemobot[demo]'" in lines[0]
    assert proc.stdout == ""


def test_main_dependencies_carry_no_ffmpeg():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def name(requirement: str) -> str:
        for stop in "[<>=!~;( ":
            requirement = requirement.split(stop, 1)[0]
        return requirement.strip().lower().replace("_", "-")

    main = {name(r) for r in project["dependencies"]}
    demo = {name(r) for r in project["optional-dependencies"]["demo"]}
    dev = project["optional-dependencies"]["dev"]
    dev_names = {name(r) for r in dev}
    heavy = {"imageio-ffmpeg", "fontpkg-noto-sans"}  # the ffmpeg binary (165 MB) and the overlay font
    assert not main & heavy
    assert demo == heavy
    assert {"av", "pillow", "pylopdf-fonts-zh-cn"} <= main  # pictures: poster frames, the timeline
    assert "nemobot[demo]" in dev or heavy <= dev_names  # the tests run the emulator
    assert "aiohttp" in main
