"""Maintenance of the message catalog (:mod:`bot.texts`): checks and updates.

``python -m bot.catalog --check`` reports every problem and exits 1 if there is one (the
tests run the same checks); ``python -m bot.catalog --update`` rewrites the template from the
English catalog and merges it into the other languages. See :mod:`bot.texts` for the workflow.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from bot.texts import (
    DOMAIN,
    LANGS,
    LOCALES_DIR,
    SOURCE_DIRS,
    SOURCE_LANG,
    _languages,
    messages,
    po_path,
    read_catalog,
    template_path,
)


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
        "# Made by `python -m bot.catalog --update` from en/LC_MESSAGES/nemobot.po; do not edit.",
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
        return [f"{pot_path.name} is missing: run python -m bot.catalog --update"]
    problems: list[str] = []
    template = read_catalog(pot_path)
    if _shape(template) != expected:
        diff = set(_shape(template)) ^ set(expected)
        detail = ", ".join(sorted({key for key, _ in diff})[:10]) or "the order of the keys"
        problems.append(f"{pot_path.name} is out of date ({detail}): run python -m bot.catalog --update")
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
                "run python -m bot.catalog --update, then review the entries it flags fuzzy"
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
    """``python -m bot.catalog [--check | --update]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot.catalog", description="Check or update the message catalog.")
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
        print(f"catalog ok: {len(messages(SOURCE_LANG))} keys in {', '.join(LANGS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
