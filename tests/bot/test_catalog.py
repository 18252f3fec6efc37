"""The message catalog (bot/locales, read by bot.texts): complete, consistent, up to date.

A failure here usually means: run ``python -m bot.catalog --update``, translate what it adds
or flags fuzzy in ``bot/locales/zh/LC_MESSAGES/nemobot.po``, and run it again.
"""

from __future__ import annotations

import gettext
import re
import shutil
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import discord
import pytest
from babel.messages.mofile import write_mo
from discord.app_commands import locale_str

from adapters.discord.commands import ZH, ControlsView, ZhTranslator, build_commands
from adapters.telegram import converters as tg_converters
from bot import catalog, texts
from bot.boundary import Button
from bot.catalog import (
    argument_problems,
    language_problems,
    placeholder_problems,
    template_problems,
    unknown_key_problems,
    update,
    used_keys,
)
from bot.intents import MENU
from bot.profiles import PROFILES, SkillProfile
from bot.progress import progress_bar
from bot.texts import FORMATS_LINE, LANGS, button_label, command_description, formats_line, messages, t

CJK = re.compile(r"[\u3400-\u9fff]")


def _lines(problems: list[str]) -> str:
    return "\n" + "\n".join(problems)


# ---------------------------------------------------------------- the real catalog


def test_languages_are_english_and_chinese():
    assert LANGS == ("en", "zh")


def test_every_message_exists_in_every_language():
    problems = language_problems()
    assert not problems, _lines(problems)


def test_placeholders_are_the_same_in_every_language():
    problems = placeholder_problems()
    assert not problems, _lines(problems)


def test_every_t_key_in_the_code_is_in_the_catalog():
    found = used_keys()
    assert len(found) > 50  # the extractor sees the engine's calls
    assert {"queued", "help", "discord.command.edit", "console.help"} <= {key for _, _, key in found}
    problems = unknown_key_problems()
    assert not problems, _lines(problems)


def test_every_t_call_passes_the_placeholders_of_its_message():
    problems = argument_problems()
    assert not problems, _lines(problems)


def test_template_is_up_to_date():
    problems = template_problems()
    assert not problems, _lines(problems)


def test_update_changes_nothing_on_the_committed_catalog(tmp_path):
    root = tmp_path / "locales"
    shutil.copytree(texts.LOCALES_DIR, root)
    assert update(root) == []
    assert catalog.check(root, dirs=()) == []


@pytest.mark.parametrize("lang", LANGS)
def test_catalogs_are_standard_gettext(lang):
    """Babel compiles each .po to a .mo that the stdlib's GNU gettext reads."""
    buf = BytesIO()
    write_mo(buf, texts.read_catalog(texts.po_path(lang)))
    buf.seek(0)
    translations = gettext.GNUTranslations(buf)
    assert translations.info()["language"] == lang
    assert translations.gettext("button.export") == t("button.export", lang)


# ---------------------------------------------------------------- the checks catch problems


@pytest.fixture
def locales(tmp_path) -> Path:
    root = tmp_path / "locales"
    shutil.copytree(texts.LOCALES_DIR, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_message_in_one_language_only_is_reported(locales):
    zh = texts.po_path("zh", locales)
    _edit(zh, 'msgid "queued"\n', 'msgid "queued_gone"\n')
    problems = language_problems(locales)
    assert "zh: 'queued' is missing" in problems
    assert "zh: 'queued_gone' is not in the English catalog" in problems


def test_different_placeholders_are_reported(locales):
    zh = texts.po_path("zh", locales)
    _edit(zh, "✅ 完成，用时 {elapsed}。", "✅ 完成，用时 {time}。")
    problems = placeholder_problems(locales)
    assert problems == ["zh: 'done_in' has placeholders ['time'], English has ['elapsed']"]


def test_a_broken_format_string_is_reported(locales):
    _edit(texts.po_path("zh", locales), "✅ 完成，用时 {elapsed}。", "✅ 完成，用时 {elapsed。")
    assert any("'done_in' is not a valid format string" in p for p in placeholder_problems(locales))


def test_an_unknown_key_in_the_code_is_reported(tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "mod.py").write_text(
        'from bot.texts import t\n\nx = t("queued")\ny = t(\n    "no_such_key",\n    "zh",\n    n=1,\n)\n',
        encoding="utf-8",
    )
    assert unknown_key_problems([src]) == ["pkg/mod.py:5: t('no_such_key') has no catalog entry"]


def test_a_call_with_the_wrong_arguments_is_reported(tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "mod.py").write_text(
        "from bot.texts import t\n\n"
        'a = t("done_in", "zh", elapsed="3 s")\n'
        'b = t("done_in", "zh")\n'
        'c = t("queued", extra=1)\n'
        'd = t("done_in", **{"elapsed": "1 s"})\n',
        encoding="utf-8",
    )
    assert argument_problems([src]) == [
        "pkg/mod.py:4: t('done_in') gets [], the message has ['elapsed']",
        "pkg/mod.py:5: t('queued') gets ['extra'], the message has []",
    ]


def test_a_new_english_key_needs_the_template_and_a_translation(locales):
    en = texts.po_path("en", locales)
    _edit(en, 'msgid "queued"\n', 'msgid "brand_new"\nmsgstr "Brand {new}"\n\nmsgid "queued"\n')
    assert any("nemobot.pot is out of date (brand_new)" in p for p in template_problems(locales))
    assert "zh: 'brand_new' is missing" in language_problems(locales)

    written = update(locales)
    assert set(written) == {texts.template_path(locales), texts.po_path("zh", locales)}
    assert template_problems(locales) == []
    assert "zh: 'brand_new' is not translated" in language_problems(locales)
    assert '#. Brand {new}\nmsgid "brand_new"\nmsgstr ""\n' in texts.po_path("zh", locales).read_text("utf-8")


def test_changed_english_flags_the_translation_fuzzy(locales):
    en = texts.po_path("en", locales)
    _edit(en, '"Nothing is running right now."', '"Nothing is running at the moment."')
    problems = template_problems(locales)
    assert any("nemobot.pot is out of date (nothing_to_cancel)" in p for p in problems)
    assert any("zh: the English comment of nothing_to_cancel is out of date" in p for p in problems)

    update(locales)
    assert template_problems(locales) == []
    assert any(p.startswith("zh: 'nothing_to_cancel' is fuzzy") for p in language_problems(locales))
    zh_text = texts.po_path("zh", locales).read_text("utf-8")
    assert '#, fuzzy\nmsgid "nothing_to_cancel"\nmsgstr "当前没有正在进行的任务。"' in zh_text


def test_a_removed_key_is_kept_as_obsolete(locales):
    en = texts.po_path("en", locales)
    _edit(en, 'msgid "nothing_to_cancel"\nmsgstr "Nothing is running right now."\n\n', "")
    update(locales)
    assert catalog.check(locales, dirs=()) == []
    assert '#~ msgid "nothing_to_cancel"' in texts.po_path("zh", locales).read_text("utf-8")


# ---------------------------------------------------------------- lookups


def test_t_fills_placeholders_in_each_language():
    assert t("done_in", elapsed="3 s") == "✅ Done in 3 s."
    assert t("done_in", "zh", elapsed="3 s") == "✅ 完成，用时 3 s。"
    assert t("queued", "zh").startswith("⏳ 上一个请求")
    assert t("rendering_pct", pct=40, bar=progress_bar(40)) == "🎞️ Rendering ▓▓▓▓░░░░░░ 40%"


def test_unknown_language_falls_back_to_english_and_unknown_key_raises():
    assert t("queued", "fr") == t("queued")
    assert messages("fr") is messages("en")
    with pytest.raises(KeyError):
        t("no_such_key")


def test_translations_are_chinese():
    en, zh = messages("en"), messages("zh")
    assert en.keys() == zh.keys()
    without_words = {k for k, text in en.items() if not re.search(r"[A-Za-z]", re.sub(r"\{\w+\}", "", text))}
    assert without_words == {"status_head"}  # "📋 {summary}"
    assert [k for k in en if k not in without_words and not CJK.search(zh[k])] == []


def test_formats_line():
    assert FORMATS_LINE == (
        "video: mp4, mov, avi, webm, mkv; image: jpg, jpeg, png, gif, webp; audio: mp3, wav, m4a, aac"
    )
    assert formats_line("zh").startswith("视频：mp4, mov")


# ---------------------------------------------------------------- profiles

ENGLISH_EXAMPLES = {
    "video-leaderboard": (
        "add a ranked leaderboard overlay showing the top performers",
        "make it 9:16 vertical",
        "add text overlay 'GG' at the end",
        "add title 'Final Standings'",
    ),
    "video-leaderboard-ai": (
        "rank these videos by engagement score and show me the top performers",
        "rank my clips by action and add a leaderboard",
        "rank these clips and add title 'Top Plays'",
    ),
    "ai-video-editor-gaming": (
        "make a highlight reel with transitions and music",
        "add a 2-minute gameplay recording and make a highlight reel with epic music",
        "cut the best moments and add atmospheric music",
    ),
    "what-is-video-clip-example": (
        "make a short example clip with a title",
        "make a short clip with title 'My First Clip'",
        "make a 1:1 square example clip",
    ),
    "game-music": ("add background music", "add atmospheric background music", "add tense music", "remove the music"),
}


def test_profiles_keep_their_english_texts():
    assert {name: p.examples for name, p in PROFILES.items()} == ENGLISH_EXAMPLES
    p = PROFILES["video-leaderboard"]
    assert (p.title, p.version, p.min_clips) == ("Video leaderboard", "1.0.0", 1)
    assert p.tips[0] == "Clips of 10-60 seconds work best: send them first, then describe the overlay."
    assert all(any(tip.startswith("Be specific") for tip in q.tips) for q in PROFILES.values())
    assert PROFILES["video-leaderboard-ai"].min_clips == 2
    for p in PROFILES.values():
        assert (p.title_in("en"), p.summary_in("en")) == (p.title, p.summary)
        assert (p.examples_in("en"), p.tips_in("en")) == (p.examples, p.tips)
        assert p.tips and p.summary


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_in_chinese(name):
    p = PROFILES[name]
    assert CJK.search(p.title_in("zh")) and CJK.search(p.summary_in("zh"))
    assert len(p.examples_in("zh")) == len(p.examples) and len(p.tips_in("zh")) == len(p.tips)
    assert all(CJK.search(text) for text in p.examples_in("zh") + p.tips_in("zh"))


def test_chinese_help_shows_chinese_examples_and_tips():
    from bot.commands import help_text

    p = PROFILES["game-music"]
    zh = help_text(SimpleNamespace(profile=p, lang="zh"))  # type: ignore[arg-type]
    assert zh.startswith("🎬 游戏音乐：") and "可以这样说" in zh
    assert all(f"“{e}”" in zh or f'"{e}"' in zh for e in p.examples_in("zh"))
    assert all(tip in zh for tip in p.tips_in("zh"))
    assert not any(e in zh for e in p.examples)
    en = help_text(SimpleNamespace(profile=p, lang="en"))  # type: ignore[arg-type]
    assert all(f'"{e}"' in en for e in p.examples)


def test_a_profile_without_catalog_texts_uses_its_own():
    p = SkillProfile("custom", "0.1", "Custom", "Mine.", ("do it",), ("a tip",))
    assert (p.title_in("zh"), p.examples_in("zh"), p.tips_in("zh")) == ("Custom", ("do it",), ("a tip",))


# ---------------------------------------------------------------- adapters take their texts from the catalog


def test_button_labels_come_from_the_catalog():

    for lang in LANGS:
        markup = tg_converters.keyboard(tuple(Button), lang)
        assert markup is not None
        tg_labels = [b.text for row in markup.inline_keyboard for b in row]
        assert tg_labels == [f"{b.emoji} {button_label(b.value, lang)}" for b in Button]
        view = ControlsView(object(), tuple(Button), lang)  # type: ignore[arg-type]
        assert [(i.label, str(i.emoji)) for i in view.children] == [  # type: ignore[attr-defined]
            (button_label(b.value, lang), b.emoji) for b in Button
        ]
    assert tg_labels[0] == "🎞️ 导出"


def test_both_platforms_list_the_same_menu_from_the_catalog():
    names = [name for name, _, _ in tg_converters.COMMANDS]
    assert names == list(MENU)
    assert MENU == ("export", "status", "credits", "new", "skill", "link", "cancel", "connect", "logout", "help")
    for name, en, zh in tg_converters.COMMANDS:
        assert (en, zh) == (command_description(name), command_description(name, "zh"))
        assert CJK.search(zh) and not CJK.search(en)
    slash = {c.name: c.description for c in build_commands(object())}  # type: ignore[arg-type]
    assert [n for n in slash if n not in {"edit", "login"}] == list(MENU)  # Discord adds /edit and the /login modal
    assert all(slash[name] == command_description(name) for name in MENU)


async def test_every_discord_description_has_a_chinese_localization():
    described: list[str] = []
    for command in build_commands(object()):  # type: ignore[arg-type]
        described.append(command.description)
        described += [param.description for param in command.parameters]
    assert set(described) == set(ZH)
    translator = ZhTranslator()
    for text in described:
        for locale in (discord.Locale.chinese, discord.Locale.taiwan_chinese):
            zh = await translator.translate(locale_str(text), locale, None)  # type: ignore[arg-type]
            assert zh and CJK.search(zh)
        assert await translator.translate(locale_str(text), discord.Locale.french, None) is None  # type: ignore[arg-type]
    assert ZH[command_description("export")] == "渲染项目并发送 MP4"


@pytest.mark.parametrize("lang", LANGS)
def test_every_menu_command_and_button_has_its_texts(lang):
    """Menus and buttons look their keys up by name (``command.<name>``, ``button.<value>``)."""
    for name in MENU:
        assert command_description(name, lang)
    for button in Button:
        assert button_label(button.value, lang)
