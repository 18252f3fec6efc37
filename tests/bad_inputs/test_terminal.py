"""Bad inputs in the terminal, through the real ``run_chat`` loop (``nemobot chat``), the real
engine and the emulator: one runtime for the whole module, a fresh conversation per input,
and a second terminal conversation whose ``/help`` is answered at the same time.

Each row of :data:`CASES` is one typed line and what is printed back: the exact sentence
(``str``, as :class:`~adapters.console.ConsoleChannel` prints it) or nothing (``None``). Every row also checks that the output carries no escape
sequence or bell, that nothing leaked, and that no agent run or URL fetch happened.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from adapters.console import HELP as CONSOLE_HELP
from adapters.console import run_chat
from bot.app import Runtime, open_runtime
from bot.profiles import PROFILES
from bot.texts import FORMATS_LINE, t
from emulator.app import Emulator
from tests.bad_inputs.conftest import (
    EMPTY,
    EXAMPLE,
    HELP,
    NOT_READY,
    ONBOARDING,
    Spy,
    leaks,
    logged_errors,
    total_runs,
)
from tests.conftest import BIKES, fast_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

PREFIX = "bot: "


@dataclass(frozen=True)
class Case:
    """One typed line (or a function of the module's files folder giving it) and what is printed."""

    id: str
    line: str | Callable[[Path], str]
    expect: str | None
    uploaded: str | None = None


def upload(name: str) -> Callable[[Path], str]:
    """``/upload <files>/<name>``, the path quoted as a shell would."""
    return lambda files: f"/upload {shlex.quote(str(files / name))}"


def unsupported(name: str) -> str:
    return t("unsupported_files", "en", names=name, formats=FORMATS_LINE)


def no_such_file(name: str) -> str:
    return t("no_such_file", "en", name=name)


ESCAPED = "\x1b[31mred\x07.mp4"
"""A real clip whose file name carries a colour escape and a bell."""

CASES = [
    Case("upload-missing-file", "/upload /no/such/file.mp4", no_such_file("file.mp4")),
    Case("upload-a-directory", upload("holiday.mp4"), no_such_file("holiday.mp4")),
    Case("upload-zero-byte-file", upload("empty.mp4"), t("empty_file", "en", name="empty.mp4")),
    Case("upload-txt-file", upload("notes.txt"), unsupported("notes.txt")),
    Case("upload-unbalanced-quote", "/upload 'unterminated.mp4", no_such_file("'unterminated.mp4")),
    Case("upload-without-a-path", "/upload", t("upload_how", "en", formats=FORMATS_LINE)),
    Case("pasted-system-file-path", "/etc/passwd", unsupported("passwd")),
    Case(
        "upload-name-with-escapes",
        upload(ESCAPED),
        t("uploaded", "en", files="[31mred.mp4 (10.0 s, 640x272)") + "\n" + t("upload_next", "en", example=EXAMPLE),
        uploaded="[31mred.mp4",
    ),
    Case(
        "skill-with-terminal-escapes",
        "/skill \x1b[2J\x1b]0;pwned\x07x",
        t("skill_unknown", "en", name="x", names=", ".join(PROFILES)),
    ),
    Case("unknown-command", "/rm -rf /", t("unknown_command", "en", name="rm")),
    Case("export-before-any-clip", "/export", NOT_READY),
    Case("zero-width-only", "\u200b\u2060\ufeff", EMPTY),
    Case("whitespace-only", "   \t  ", None),
    Case("10000-characters", "x" * 10_000, t("too_long", "en", n=10_000, limit=4000)),
]
"""The catalog: 14 inputs."""


@dataclass
class World:
    runtime: Runtime
    emu: Emulator
    spy: Spy
    files: Path
    numbers: itertools.count[int]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, emu: Emulator, spy: Spy) -> Any:
    tmp = tmp_path_factory.mktemp("terminal")
    files = tmp / "files"
    (files / "holiday.mp4").mkdir(parents=True)
    (files / "empty.mp4").write_bytes(b"")
    (files / "notes.txt").write_text("remember the milk\n")
    shutil.copyfile(BIKES, files / ESCAPED)
    async with open_runtime(fast_settings(emu.url, tmp), platform="console") as runtime:
        yield World(runtime, emu, spy, files, itertools.count(1))


def printed(text: str) -> str:
    """``text`` as the console channel prints one message."""
    return PREFIX + text.replace("\n", "\n" + " " * len(PREFIX)) + "\n"


async def chat(runtime: Runtime, line: str, chat_id: str) -> str:
    """One terminal conversation typing ``line``: what it printed after the greeting."""
    out = io.StringIO()
    await run_chat(runtime, stdin=io.StringIO(line + "\n"), out=out, chat_id=chat_id)
    messages = re.split(r"(?m)^(?=bot: )", out.getvalue().removeprefix(CONSOLE_HELP + "\n"))
    return "".join(m for m in messages if not m.removeprefix(PREFIX).startswith(ONBOARDING))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_input(world: World, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    n = next(world.numbers)
    line = case.line(world.files) if callable(case.line) else case.line
    runs, urls = total_runs(world.emu), len(world.spy.urls)

    output, other = await asyncio.wait_for(
        asyncio.gather(
            chat(world.runtime, line, f"bad{n}"),
            chat(world.runtime, "/help", f"other{n}"),  # another terminal, at the same time
        ),
        60,
    )

    if case.expect is None:
        assert output == "", f"{case.id}: expected nothing printed, got {output!r}"
    else:
        assert output == printed(case.expect), f"{case.id}: printed {output!r}"
    assert "\x1b" not in output and "\x07" not in output, f"{case.id}: a terminal control sequence in {output!r}"
    found = leaks([output], world.emu.url or "")
    assert not found, f"{case.id}: leaked {found} in {output!r}"
    assert other == printed(HELP), f"{case.id}: the other terminal printed {other!r}"
    assert total_runs(world.emu) == runs, f"{case.id}: {total_runs(world.emu) - runs} agent runs"
    assert world.spy.urls[urls:] == [], f"{case.id}: NemoVideo was asked to fetch {world.spy.urls[urls:]}"
    if case.uploaded is not None:
        assert world.spy.filenames[-1:] == [case.uploaded], f"{case.id}: streamed as {world.spy.filenames[-1:]!r}"
    assert not logged_errors(caplog.records), f"{case.id}: {logged_errors(caplog.records)}"
