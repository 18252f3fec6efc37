"""Checks a production install (scripts/install.sh VENV): run as ``VENV/bin/python -I scripts/check_install.py``.

Every module of bot, adapters and store imports from the installed package (not the source tree),
the adapter entry points are registered, the demo extra's ffmpeg binary and dev tools are absent,
and ``nemobot --help`` / ``nemobot run --help`` exit 0. .ci/run runs it after the install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

ABSENT = ("imageio_ffmpeg", "fontpkg_noto_sans", "pytest", "ruff", "mypy")  # demo extra, dev extra


def main() -> int:
    prefix = Path(sys.prefix).resolve()
    imported = []
    for top in ("bot", "adapters", "store"):
        package = importlib.import_module(top)
        where = Path(package.__file__ or "").resolve()
        if not where.is_relative_to(prefix):
            raise SystemExit(f"{top} was imported from {where}, not from the install in {prefix}")
        imported.append(top)
        for info in pkgutil.walk_packages(package.__path__, top + "."):
            if info.name != "bot.demo":  # the demo needs the demo extra
                importlib.import_module(info.name)
                imported.append(info.name)
    present = [name for name in ABSENT if importlib.util.find_spec(name) is not None]
    if present:
        raise SystemExit(f"a production install carries no demo or dev packages, found: {present}")
    adapters = {ep.name for ep in importlib.metadata.entry_points(group="nemobot.adapters")}
    if adapters != {"console", "telegram", "discord"}:
        raise SystemExit(f"adapter entry points: {sorted(adapters)}")
    nemobot = Path(sys.executable).parent / "nemobot"
    for argv in ([], ["run"]):
        proc = subprocess.run([str(nemobot), *argv, "--help"], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or "usage:" not in proc.stdout:
            raise SystemExit(f"nemobot {' '.join(argv)} --help exited {proc.returncode}:\n{proc.stderr}")
    print(f"production install in {prefix}: {len(imported)} modules import, nemobot --help works")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
