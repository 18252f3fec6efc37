"""Discord's slash commands and quick-action buttons, with texts from the message catalog.

The slash commands (``/edit`` and the shared menu, :data:`bot.intents.MENU`) are described in
English, with Chinese localizations from the catalog through :class:`ZhTranslator`. The
buttons (:class:`ControlsView`) have fixed custom ids and no timeout, so the view registered
at start answers presses on messages sent before a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str

from adapters.discord.converters import custom_id, locale_of
from bot.boundary import Button
from bot.intents import MENU
from bot.profiles import PROFILES
from bot.texts import button_label, command_description, lang_of, t

if TYPE_CHECKING:
    from adapters.discord.runner import DiscordAdapter


ZH: dict[str, str] = {
    t(key): t(key, "zh")
    for key in (
        "discord.command.edit",
        "discord.option.edit.prompt",
        "discord.option.edit.clip",
        "discord.option.skill.name",
        "discord.option.connect.code",
        "command.login",
        *("command." + name for name in MENU),
    )
}
"""English description -> Chinese, for the translator (texts from :mod:`bot.texts`)."""


class ZhTranslator(app_commands.Translator):
    """Chinese descriptions for the slash commands (``zh-CN`` and ``zh-TW``)."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        if locale in (discord.Locale.chinese, discord.Locale.taiwan_chinese):
            return ZH.get(string.message)
        return None


class ControlsView(discord.ui.View):
    """The quick-action buttons. Fixed custom ids and no timeout make it persistent: the
    view registered at start answers presses on messages sent before a restart."""

    def __init__(self, adapter: DiscordAdapter, buttons: tuple[Button, ...], lang: str = "en") -> None:
        super().__init__(timeout=None)
        for button in buttons:
            item: discord.ui.Button[ControlsView] = discord.ui.Button(
                label=button_label(button.value, lang),
                emoji=button.emoji,
                custom_id=custom_id(button),
                style=discord.ButtonStyle.primary if button is Button.EXPORT else discord.ButtonStyle.secondary,
            )
            item.callback = self._make_callback(adapter, button)  # type: ignore[method-assign,assignment]
            self.add_item(item)

    @staticmethod
    def _make_callback(adapter: DiscordAdapter, button: Button) -> Callable[[discord.Interaction], Any]:
        async def callback(interaction: discord.Interaction) -> None:
            await adapter.on_button(interaction, custom_id(button))

        return callback


class LoginModal(discord.ui.Modal):
    """``/login`` on Discord: the token is typed into a modal, never into a channel, and the
    answer is ephemeral."""

    def __init__(self, adapter: DiscordAdapter, lang: str = "en") -> None:
        super().__init__(title=t("discord.login.title", lang)[:45], custom_id=LOGIN_MODAL_ID, timeout=600)
        self.adapter = adapter
        self.token: discord.ui.TextInput[LoginModal] = discord.ui.TextInput(
            custom_id=LOGIN_TOKEN_ID, style=discord.TextStyle.short, required=True, max_length=400
        )
        self.add_item(discord.ui.Label(text=t("discord.login.label", lang)[:45], component=self.token))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.adapter.on_login(interaction, self.token.value)


LOGIN_MODAL_ID = "nemobot:login"
LOGIN_TOKEN_ID = "nemobot:login:token"


def build_commands(adapter: DiscordAdapter) -> list[app_commands.Command[Any, Any, Any]]:
    """The slash commands: ``/edit``, the shared menu (:data:`bot.intents.MENU`), ``/login``."""

    @app_commands.command(name="edit", description=locale_str(t("discord.command.edit")))
    @app_commands.describe(
        prompt=locale_str(t("discord.option.edit.prompt")),
        clip=locale_str(t("discord.option.edit.clip")),
    )
    async def edit(interaction: discord.Interaction, prompt: str, clip: discord.Attachment | None = None) -> None:
        await adapter.on_slash(interaction, prompt, [clip] if clip else [])

    @edit.autocomplete("prompt")
    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=s, value=s) for s in await adapter.suggestions(interaction, current)]

    @app_commands.command(name="skill", description=locale_str(t("command.skill")))
    @app_commands.describe(name=locale_str(t("discord.option.skill.name")))
    @app_commands.choices(name=[app_commands.Choice(name=p, value=p) for p in PROFILES])
    async def skill(interaction: discord.Interaction, name: app_commands.Choice[str]) -> None:
        await adapter.on_slash(interaction, f"/skill {name.value}")

    def simple(name: str, description: str) -> app_commands.Command[Any, Any, Any]:
        async def callback(interaction: discord.Interaction) -> None:
            await adapter.on_slash(interaction, f"/{name}")

        return app_commands.Command(name=name, description=locale_str(description), callback=callback)

    @app_commands.command(name="connect", description=locale_str(t("command.connect")))
    @app_commands.describe(code=locale_str(t("discord.option.connect.code")))
    async def connect(interaction: discord.Interaction, code: str | None = None) -> None:
        await adapter.on_slash(interaction, f"/connect {code or ''}".strip())

    @app_commands.command(name="login", description=locale_str(t("command.login")))
    async def login(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(LoginModal(adapter, lang_of(locale_of(interaction.locale))))

    by_name: dict[str, app_commands.Command[Any, Any, Any]] = {"skill": skill, "connect": connect}
    menu = [by_name.get(name) or simple(name, command_description(name)) for name in MENU]
    return [edit, *menu, login]
