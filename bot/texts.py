"""Everything nemobot says to users, in English and Chinese: one gettext message catalog.

The sentences live in key-based gettext catalogs, one per language, read with Babel at
import (no compile step)::

    bot/locales/nemobot.pot                   the template: every key, the English as a comment
    bot/locales/en/LC_MESSAGES/nemobot.po     English, the source of the keys
    bot/locales/zh/LC_MESSAGES/nemobot.po     Chinese

The msgid is a stable key (``queued``, ``button.export``, ``profile.game-music.example.1``),
the msgstr the sentence, with ``{name}`` placeholders filled by ``str.format``. Texts are
plain (adapters escape them for their markup). ``t()`` falls back to English for a
translation that is missing, empty or fuzzy.

Key families besides the engine's own keys: ``button.<Button.value>`` (quick-action labels,
no emoji), ``telegram.command.<name>`` (``setMyCommands``), ``discord.command.<name>`` and
``discord.option.<command>.<option>`` (slash commands; Chinese goes out as localizations),
``console.*``, ``formats`` and ``profile.<name>.{title,summary,example.N,tip.N}`` (N from 1;
see :mod:`bot.profiles`).

Workflow:

1. Add or change the English in ``en/LC_MESSAGES/nemobot.po`` (a new key: a new entry).
2. ``python -m bot.texts --update`` rewrites ``nemobot.pot`` from the English catalog and
   merges it into the other languages: new keys come in untranslated, and a translation
   whose English changed is flagged ``#, fuzzy`` (the English sits above each entry as a
   ``#.`` comment, which is how a change is noticed in a key-based catalog).
3. Translate in ``zh/LC_MESSAGES/nemobot.po`` and remove the ``#, fuzzy`` flags.
4. ``python -m bot.texts --check`` (exit 1 on problems; ``tests/bot/test_catalog.py`` runs
   the same checks): every key in every language, the same placeholders in each, every
   ``t("key", ...)`` in ``bot/`` and ``adapters/`` in the catalog and given exactly the
   message's placeholders, the template and the ``#.`` comments up to date.

The files are standard: ``pybabel extract -k t --no-default-keywords -o used.pot bot adapters``
lists the keys the code uses, and a new language starts with
``pybabel init -i bot/locales/nemobot.pot -d bot/locales -D nemobot -l ja`` (then teach
:func:`lang_of` about it).
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from types import MappingProxyType

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

DOMAIN = "nemobot"
SOURCE_LANG = "en"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = (_ROOT / "bot", _ROOT / "adapters")
"""Where ``--check`` looks for ``t("key")`` calls."""

ACCEPTED_FORMATS = {
    "video": ("mp4", "mov", "avi", "webm", "mkv"),
    "image": ("jpg", "jpeg", "png", "gif", "webp"),
    "audio": ("mp3", "wav", "m4a", "aac"),
}
"""Upload formats (contract section 8)."""


# ---------------------------------------------------------------- loading


def po_path(lang: str, root: Path = LOCALES_DIR) -> Path:
    """The catalog file of ``lang``."""
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def template_path(root: Path = LOCALES_DIR) -> Path:
    """The ``.pot`` template."""
    return root / f"{DOMAIN}.pot"


def read_catalog(path: Path) -> Catalog:
    """A ``.po`` / ``.pot`` file as a Babel :class:`Catalog`."""
    with path.open("rb") as fh:
        return read_po(fh, domain=DOMAIN)


def _languages(root: Path = LOCALES_DIR) -> tuple[str, ...]:
    found = sorted(p.parents[1].name for p in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANG, *(lang for lang in found if lang != SOURCE_LANG))


def _usable(catalog: Catalog) -> dict[str, str]:
    """Key -> text for the messages that are translated and not fuzzy."""
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


LANGS: tuple[str, ...] = _languages()
"""The catalog languages, English first."""

_SOURCE = _usable(read_catalog(po_path(SOURCE_LANG)))
_MESSAGES: dict[str, Mapping[str, str]] = {
    lang: MappingProxyType(_SOURCE if lang == SOURCE_LANG else {**_SOURCE, **_usable(read_catalog(po_path(lang)))})
    for lang in LANGS
}


# ---------------------------------------------------------------- lookups


def lang_of(locale: str | None) -> str:
    """The catalog for a locale: ``zh*`` -> ``zh``, anything else -> ``en``."""
    return "zh" if (locale or "").lower().startswith("zh") else "en"


def session_language(locale: str | None) -> str:
    """The NemoVideo session language for a locale (contract endpoint 2): ``zh-CN``, ``ja``, ``en``..."""
    if not locale:
        return "en"
    low = locale.replace("_", "-").lower()
    if low.startswith("zh"):
        return "zh-TW" if low in {"zh-tw", "zh-hk", "zh-hant"} else "zh-CN"
    return low.split("-")[0] or "en"


def messages(lang: str = SOURCE_LANG) -> Mapping[str, str]:
    """Every key -> text in ``lang`` (English where ``lang`` has no translation; unknown
    languages get English). Read-only."""
    return _MESSAGES.get(lang, _MESSAGES[SOURCE_LANG])


def t(key: str, lang: str = "en", **values: object) -> str:
    """The text ``key`` in ``lang`` with ``values`` filled in.

    Raises:
        KeyError: ``key`` is not in the catalog.
    """
    template = messages(lang)[key]
    return template.format(**values) if values else template


def formats_line(lang: str = "en") -> str:
    """The accepted upload formats as one line in ``lang``."""
    return t("formats", lang, **{kind: ", ".join(exts) for kind, exts in ACCEPTED_FORMATS.items()})


FORMATS_LINE = formats_line()
"""``video: mp4, mov, ...; image: ...; audio: ...`` in English (see :func:`formats_line`)."""


def fmt_size(size: int | float) -> str:
    """Bytes for people: ``2.1 MB``, ``512 KB`` (1 MB = 1024 * 1024 bytes)."""
    if size >= 1024 * 1024:
        mb = size / (1024 * 1024)
        text = f"{mb:.0f}" if mb >= 100 else f"{mb:.1f}".removesuffix(".0")
        return f"{text} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{int(size)} bytes"


def fmt_elapsed(seconds: float) -> str:
    """Seconds for people: ``12 s``, ``2 min 5 s``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"


# ---------------------------------------------------------------- checks


def placeholders(text: str) -> frozenset[str]:
    """The ``str.format`` fields of a message (``{name}`` -> ``name``).

    Raises:
        ValueError: The text is not a valid format string (a lone ``{`` or ``}``).
    """
    return frozenset(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def _entries(catalog: Catalog) -> dict[str, Message]:
    return {m.id: m for m in catalog if isinstance(m.id, str) and m.id}


def _flat(lines: Iterable[str]) -> str:
    """Comment lines compared without their wrapping."""
    return " ".join(" ".join(lines).split())


def _catalogs(root: Path) -> dict[str, Catalog]:
    """Every language's catalog under ``root``, English first."""
    return {lang: read_catalog(po_path(lang, root)) for lang in _languages(root)}


def language_problems(root: Path = LOCALES_DIR) -> list[str]:
    """Messages that exist in one language only (missing, extra, empty or fuzzy)."""
    catalogs = _catalogs(root)
    source = _entries(catalogs.pop(SOURCE_LANG))
    problems = [f"{SOURCE_LANG}: {key!r} is empty" for key, m in source.items() if not m.string or m.fuzzy]
    for lang, catalog in catalogs.items():
        entries = _entries(catalog)
        for key in source:
            m = entries.get(key)
            if m is None:
                problems.append(f"{lang}: {key!r} is missing")
            elif not m.string:
                problems.append(f"{lang}: {key!r} is not translated")
            elif m.fuzzy:
                problems.append(f"{lang}: {key!r} is fuzzy (the English changed): review it and remove the flag")
        problems += [f"{lang}: {key!r} is not in the English catalog" for key in entries if key not in source]
    return problems


def placeholder_problems(root: Path = LOCALES_DIR) -> list[str]:
    """Messages whose ``{placeholders}`` differ from the English, or that do not parse."""
    problems: list[str] = []
    catalogs = _catalogs(root)
    english = {key: str(m.string) for key, m in _entries(catalogs[SOURCE_LANG]).items()}
    for lang, catalog in catalogs.items():
        for key, m in _entries(catalog).items():
            if not isinstance(m.string, str) or not m.string:
                continue
            try:
                fields = placeholders(m.string)
                wanted = placeholders(english[key]) if key in english else fields
            except ValueError as exc:
                problems.append(f"{lang}: {key!r} is not a valid format string ({exc})")
                continue
            if fields != wanted:
                problems.append(f"{lang}: {key!r} has placeholders {sorted(fields)}, English has {sorted(wanted)}")
    return problems


def used_keys(dirs: Sequence[Path] = SOURCE_DIRS) -> list[tuple[str, int, str]]:
    """``(file, line, key)`` for every ``t("key", ...)`` with a literal key under ``dirs``
    (Babel's Python extractor with the keyword ``t``)."""
    from babel.messages.extract import extract_from_dir  # only the checks need it

    found: list[tuple[str, int, str]] = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for filename, lineno, message, _, _ in extract_from_dir(
            directory, method_map=[("**.py", "python")], keywords={"t": None}, comment_tags=()
        ):
            if isinstance(message, str):
                found.append((f"{directory.name}/{filename}", lineno, message))
    return found


def unknown_key_problems(dirs: Sequence[Path] = SOURCE_DIRS, root: Path = LOCALES_DIR) -> list[str]:
    """``t("key")`` calls whose key has no catalog entry."""
    known = _entries(read_catalog(po_path(SOURCE_LANG, root)))
    return [
        f"{where}:{line}: t({key!r}) has no catalog entry" for where, line, key in used_keys(dirs) if key not in known
    ]


def argument_problems(dirs: Sequence[Path] = SOURCE_DIRS, root: Path = LOCALES_DIR) -> list[str]:
    """``t("key", ...)`` calls whose keyword arguments differ from the message's placeholders
    (a missing one leaves ``{name}`` in the text or raises ``KeyError``). Calls that pass
    ``**values`` are skipped."""
    import ast

    english = {key: str(m.string) for key, m in _entries(read_catalog(po_path(SOURCE_LANG, root))).items()}
    problems: list[str] = []
    for directory in dirs:
        for path in sorted(directory.rglob("*.py")) if directory.is_dir() else ():
            where = f"{directory.name}/{path.relative_to(directory).as_posix()}"
            calls = [n for n in ast.walk(ast.parse(path.read_bytes(), filename=str(path))) if isinstance(n, ast.Call)]
            for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
                if not (
                    isinstance(node.func, ast.Name)
                    and node.func.id == "t"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and node.args[0].value in english
                    and all(k.arg is not None for k in node.keywords)
                ):
                    continue
                key = node.args[0].value
                given = {str(k.arg) for k in node.keywords}
                wanted = set(placeholders(english[key]))
                if given != wanted:
                    problems.append(
                        f"{where}:{node.lineno}: t({key!r}) gets {sorted(given)}, the message has {sorted(wanted)}"
                    )
    return problems


def build_template(source: Catalog) -> Catalog:
    """The ``.pot`` template of the English catalog: every key, empty, the English as a comment."""
    pot = Catalog(
        domain=DOMAIN,
        project="nemobot",
        version="1",
        header_comment="# nemobot messages: the template (keys, with the English as comments).\n"
        "# Made by `python -m bot.texts --update` from en/LC_MESSAGES/nemobot.po; do not edit.",
        creation_date=source.creation_date,
        revision_date=source.creation_date,
        fuzzy=True,
    )
    for key, m in _entries(source).items():
        pot.add(key, "", auto_comments=str(m.string).split("\n") if m.string else ())
    return pot


def _shape(catalog: Catalog) -> list[tuple[str, str]]:
    return [(key, _flat(m.auto_comments)) for key, m in _entries(catalog).items()]


def template_problems(root: Path = LOCALES_DIR) -> list[str]:
    """The ``.pot``, or the English comments in a translation, out of date with the English catalog."""
    catalogs = _catalogs(root)
    expected = _shape(build_template(catalogs.pop(SOURCE_LANG)))
    pot_path = template_path(root)
    if not pot_path.is_file():
        return [f"{pot_path.name} is missing: run python -m bot.texts --update"]
    problems: list[str] = []
    template = read_catalog(pot_path)
    if _shape(template) != expected:
        diff = set(_shape(template)) ^ set(expected)
        detail = ", ".join(sorted({key for key, _ in diff})[:10]) or "the order of the keys"
        problems.append(f"{pot_path.name} is out of date ({detail}): run python -m bot.texts --update")
    if any(m.string for m in _entries(template).values()):
        problems.append(f"{pot_path.name} has translations: a template has none")
    english = dict(expected)
    for lang, catalog in catalogs.items():
        stale = [
            key for key, m in _entries(catalog).items() if key in english and _flat(m.auto_comments) != english[key]
        ]
        if stale:
            problems.append(
                f"{lang}: the English comment of {', '.join(stale[:10])} is out of date: "
                "run python -m bot.texts --update, then review the entries it flags fuzzy"
            )
    return problems


def check(root: Path = LOCALES_DIR, dirs: Sequence[Path] = SOURCE_DIRS) -> list[str]:
    """Every catalog problem (empty when all is well)."""
    return (
        language_problems(root)
        + placeholder_problems(root)
        + unknown_key_problems(dirs, root)
        + argument_problems(dirs, root)
        + template_problems(root)
    )


# ---------------------------------------------------------------- update


def _po_bytes(catalog: Catalog) -> bytes:
    buf = BytesIO()
    write_po(buf, catalog, width=0, no_location=True, include_previous=False)
    return buf.getvalue()


def _write_if_changed(path: Path, catalog: Catalog, *, dated: bool) -> bool:
    data = _po_bytes(catalog)
    if path.is_file() and path.read_bytes() == data:
        return False
    if dated:  # a translation's revision date moves on a real change only
        catalog.revision_date = datetime.now(UTC)
        data = _po_bytes(catalog)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def merge(template: Catalog, old: Catalog | None, lang: str) -> Catalog:
    """A language's catalog brought up to the template: its translations kept, new keys
    empty, translations whose English comment changed flagged fuzzy, removed keys obsolete."""
    now = datetime.now(UTC)
    new = Catalog(
        locale=lang,
        domain=DOMAIN,
        project="nemobot",
        version="1",
        header_comment=old.header_comment if old else f"# nemobot messages: {lang}.",
        creation_date=old.creation_date if old else now,
        revision_date=old.revision_date if old else now,
        last_translator=old.last_translator if old else "nemobot",
        language_team=old.language_team if old else lang,
        fuzzy=False,
    )
    previous = _entries(old) if old else {}
    for key, m in _entries(template).items():
        prev = previous.get(key)
        text = str(prev.string) if prev and prev.string else ""
        changed = bool(prev and prev.auto_comments and _flat(prev.auto_comments) != _flat(m.auto_comments))
        new.add(
            key,
            text,
            auto_comments=m.auto_comments,
            user_comments=prev.user_comments if prev else (),
            flags=("fuzzy",) if text and prev and (prev.fuzzy or changed) else (),
        )
    if old:
        new.obsolete.update(old.obsolete)
        new.obsolete.update({key: m for key, m in previous.items() if key not in new and m.string})
    return new


def update(root: Path = LOCALES_DIR) -> list[Path]:
    """Rewrite the template from the English catalog and merge it into the other languages.

    Returns:
        The files written.
    """
    written: list[Path] = []
    template = build_template(read_catalog(po_path(SOURCE_LANG, root)))
    if _write_if_changed(template_path(root), template, dated=False):
        written.append(template_path(root))
    for lang in _languages(root)[1:]:
        path = po_path(lang, root)
        old = read_catalog(path) if path.is_file() else None
        if _write_if_changed(path, merge(template, old, lang), dated=old is not None):
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.texts [--check | --update]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot.texts", description="Check or update the message catalog.")
    parser.add_argument("--update", action="store_true", help="rewrite the .pot and merge it into the .po files")
    parser.add_argument("--check", action="store_true", help="report catalog problems (the default)")
    args = parser.parse_args(argv)
    if args.update:
        for path in update():
            print(f"wrote {path}")
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"catalog ok: {len(_SOURCE)} keys in {', '.join(LANGS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
