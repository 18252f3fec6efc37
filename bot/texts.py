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
no emoji), ``command.<name>`` (the command menus of every platform, :data:`bot.intents.MENU`),
``discord.command.edit`` and ``discord.option.<command>.<option>`` (Discord-only slash command
texts; Chinese goes out as localizations),
``console.*``, ``formats`` and ``profile.<name>.{title,summary,example.N,tip.N}`` (N from 1;
see :mod:`bot.profiles`).

Workflow:

1. Add or change the English in ``en/LC_MESSAGES/nemobot.po`` (a new key: a new entry).
2. ``python -m bot.catalog --update`` rewrites ``nemobot.pot`` from the English catalog and
   merges it into the other languages: new keys come in untranslated, and a translation
   whose English changed is flagged ``#, fuzzy`` (the English sits above each entry as a
   ``#.`` comment, which is how a change is noticed in a key-based catalog).
3. Translate in ``zh/LC_MESSAGES/nemobot.po`` and remove the ``#, fuzzy`` flags.
4. ``python -m bot.catalog --check`` (exit 1 on problems; ``tests/bot/test_catalog.py`` runs
   the same checks): every key in every language, the same placeholders in each, every
   ``t("key", ...)`` in ``bot/`` and ``adapters/`` in the catalog and given exactly the
   message's placeholders, the template and the ``#.`` comments up to date.

The files are standard: ``pybabel extract -k t --no-default-keywords -o used.pot bot adapters``
lists the keys the code uses, and a new language starts with
``pybabel init -i bot/locales/nemobot.pot -d bot/locales -D nemobot -l ja`` (then teach
:func:`lang_of` about it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

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


def button_label(value: str, lang: str = "en") -> str:
    """The label of the quick-action button ``value`` (``export``), without its emoji."""
    return messages(lang)["button." + value]


def command_description(name: str, lang: str = "en") -> str:
    """The command menu description of ``/name`` (every platform's menu)."""
    return messages(lang)["command." + name]
