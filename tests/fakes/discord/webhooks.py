"""How the bot answers interactions on the fake Discord: the interaction callback and the
interaction webhook (follow-ups and edits).

* discord.py always calls back with ``POST /interactions/{id}/{token}/callback?with_response=1``
  and parses an ``InteractionCallbackResponse``: ``{"interaction": {"id", "type",
  "response_message_id", "response_message_loading", "response_message_ephemeral"},
  "resource": {"type": <callback type>, "message": {...}}}`` (``message`` only for type 4).
  Without ``with_response`` the fake answers 204 as Discord does. nemobot answers with type 4
  (a message; ephemeral refusals), 5 (deferred, "thinking") or 9 (a modal, kept in ``modals``);
  those are the types the fake emulates. An interaction is acknowledged once (40060); a callback after the token expired
  answers 404 (10062).
* ``POST /webhooks/{app}/{token}[?wait=true]`` sends a follow-up; the first one after a
  deferral replaces the "thinking" message, as on Discord.
  ``PATCH /webhooks/{app}/{token}/messages/{@original|id}`` edits the original response or a
  follow-up; ``DELETE`` on the same path removes it. These routes carry no Authorization; an
  expired token answers 401 (50027).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.discord.channels import Answer
from tests.fakes.discord.constants import FLAG_EPHEMERAL, FLAG_LOADING
from tests.fakes.discord.interactions import DiscordInteractions
from tests.fakes.discord.model import ApiError, Call, Interaction, form_error, to_int, unknown

_VALID_CALLBACKS = {2: (4, 5, 9), 3: (4, 5, 6, 7, 9), 4: (8,), 5: (4, 5, 6, 7)}
"""Callback types Discord accepts per interaction type."""
_EMULATED_CALLBACKS = (4, 5, 8, 9)
MAX_CHOICES = 25
"""Autocomplete results carry at most 25 choices, each name and value 1-100 characters."""


class DiscordWebhooks(DiscordInteractions):
    """The interaction callback and the interaction webhook routes."""

    async def _r_callback(self, call: Call, params: dict[str, str]) -> Answer:
        inter = self._interactions.get(to_int(params["interaction_id"]))
        if inter is None or inter.token != params["token"] or inter.callback_expired:
            raise ApiError(404, "Unknown interaction", 10062)
        if inter.response_type is not None:
            raise ApiError(400, "Interaction has already been acknowledged.", 40060)
        body = call.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        if kind not in _VALID_CALLBACKS.get(inter.type, ()):
            raise form_error(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Callback type is invalid for this interaction."
            )
        if kind not in _EMULATED_CALLBACKS:
            raise ApiError(400, f"The fake does not emulate interaction callback type {kind}", 0)
        ephemeral = bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        if kind == 8:  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: suggestions under the option, no message
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > MAX_CHOICES:
                raise form_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for choice in choices:
                if (
                    not 1 <= len(str(choice.get("name", ""))) <= 100
                    or not 1 <= len(str(choice.get("value", ""))) <= 100
                ):
                    raise form_error("data.choices", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            inter.response_type = kind
            self.autocomplete_results[inter.id] = choices
            return 204, None
        if kind == 9:  # a modal opens on the user's screen: no message
            inter.response_type = kind
            self.modals[inter.id] = data
            self._log_interaction(inter, "modal", data, [], None, type=kind)
            if call.query.get("with_response", "").lower() not in ("1", "true"):
                return 204, None
            return 200, {"interaction": {"id": str(inter.id), "type": inter.type}, "resource": {"type": 9}}
        if kind == 4:
            self._validate_content(data, call.files)
            message = await self._interaction_message(inter, data, call.files)
        else:
            thinking = {"content": "", "flags": data.get("flags", 0)}
            message = await self._interaction_message(inter, thinking, [], loading=True)
        inter.original_message_id = int(message["id"])
        inter.response_type = kind
        self._log_interaction(inter, "callback", data, call.files, message, type=kind)
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        response: dict[str, Any] = {
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "response_message_id": str(inter.original_message_id),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            },
            "resource": {"type": kind},
        }
        if kind == 4:
            response["resource"]["message"] = message
        return 200, response

    async def _r_followup(self, call: Call, params: dict[str, str]) -> Answer:
        inter = self._webhook_interaction(params)
        body = call.json or {}
        self._validate_content(body, call.files)
        original = self._all_messages.get(inter.original_message_id or 0)
        if (
            inter.response_type == 5
            and inter.followups_sent == 0
            and original is not None
            and int(original.get("flags", 0)) & FLAG_LOADING
        ):
            # The first follow-up after a deferral replaces the "thinking" message.
            edit = {k: v for k, v in body.items() if k != "flags"}
            message = self._apply_edit(int(original["id"]), edit, call.files, clear_loading=True)
            if not int(message.get("flags", 0)) & FLAG_EPHEMERAL:
                await self._dispatch("MESSAGE_UPDATE", message)
        else:
            message = await self._interaction_message(inter, body, call.files)
        inter.followups_sent += 1
        self._log_interaction(inter, "followup", body, call.files, message)
        if call.query.get("wait", "").lower() in ("1", "true"):
            return 200, message
        return 204, None

    async def _r_webhook_edit(self, call: Call, params: dict[str, str]) -> Answer:
        inter = self._webhook_interaction(params)
        message_id = self._webhook_message_id(inter, params["message_id"])
        if message_id not in self._all_messages:
            raise unknown("Message", 10008)
        message = self._apply_edit(message_id, call.json or {}, call.files, clear_loading=True)
        if not int(message.get("flags", 0)) & FLAG_EPHEMERAL:
            await self._dispatch("MESSAGE_UPDATE", message)
        kind = "edit_original" if params["message_id"] == "@original" else "edit"
        self._log_interaction(inter, kind, call.json or {}, call.files, message)
        return 200, message

    async def _r_webhook_delete(self, call: Call, params: dict[str, str]) -> Answer:
        """``DELETE /webhooks/{app}/{token}/messages/{@original|id}``: the message goes away (the
        bot removes a deferred "thinking" answer before an ephemeral follow-up)."""
        inter = self._webhook_interaction(params)
        message_id = self._webhook_message_id(inter, params["message_id"])
        message = self._all_messages.pop(message_id, None)
        if message is None:
            raise unknown("Message", 10008)
        record = self._records.get(message_id)
        if record is not None:
            record["deleted"] = True
        if message_id == inter.original_message_id:
            inter.original_message_id = None
        payload = {"id": str(message_id), "channel_id": str(message["channel_id"])}
        if message.get("guild_id"):
            payload["guild_id"] = str(message["guild_id"])
        await self._dispatch("MESSAGE_DELETE", payload)
        kind = "delete_original" if params["message_id"] == "@original" else "delete"
        self._log_interaction(inter, kind, {}, [], message)
        return 204, None

    def _webhook_interaction(self, params: dict[str, str]) -> Interaction:
        """The interaction of a webhook route's token, once acknowledged; Discord's errors otherwise."""
        if to_int(params["app_id"]) != self.application_id:
            raise unknown("Webhook", 10015)
        inter = self._tokens.get(params["token"])
        if inter is None or inter.token_expired:
            raise ApiError(401, "Invalid Webhook Token", 50027)
        if inter.response_type is None:
            raise unknown("Webhook", 10015)
        return inter

    def _webhook_message_id(self, inter: Interaction, raw_id: str) -> int:
        """``@original`` or a message this interaction posted; 404 otherwise."""
        if raw_id == "@original":
            if inter.original_message_id is None:
                raise unknown("Message", 10008)
            return inter.original_message_id
        message_id = to_int(raw_id)
        if message_id not in inter.message_ids and message_id != inter.original_message_id:
            raise unknown("Message", 10008)
        return message_id
