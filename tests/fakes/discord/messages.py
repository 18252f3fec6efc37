"""Messages on the fake Discord: content checks, attachments of a message, the store of every
message, and the records of the bot's own (:attr:`FakeDiscord.messages`).

Checks as Discord makes them: at most 2000 characters of content (400, 50035), no empty
message (400, 50006: no content, embeds, files, stickers, components or poll). ``attachments``
in a JSON body refers to new files by index (``{"id": 0}`` for ``files[0]``) and to kept ones
by snowflake; on an edit, leaving ``attachments`` out keeps the current ones.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.fakes.base import UploadedFile
from tests.fakes.discord.cdn import DiscordCdn
from tests.fakes.discord.constants import (
    FLAG_EPHEMERAL,
    FLAG_IS_COMPONENTS_V2,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    MAX_MESSAGE_CHARS,
    THREAD_TYPES,
)
from tests.fakes.discord.model import ApiError, StoredAttachment, empty_message, form_error, to_int
from tests.fakes.discord.payloads import attachment_payload, iso_time, member_payload


def _too_long() -> ApiError:
    return form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_MESSAGE_CHARS} or fewer in length.")


class DiscordMessages(DiscordCdn):
    """Validating, storing, recording and editing messages."""

    def _validate_content(self, body: dict[str, Any], files: list[UploadedFile]) -> None:
        """Check a new message's body (content type and length, not empty)."""
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            raise form_error("content", "BASE_TYPE_STRING", "Must be a string.")
        if content and len(content) > MAX_MESSAGE_CHARS:
            raise _too_long()
        flags = int(body.get("flags") or 0)
        if flags & FLAG_IS_COMPONENTS_V2 and body.get("components"):
            return
        parts = (content, body.get("embeds"), files, body.get("sticker_ids"), body.get("components"), body.get("poll"))
        if not any(parts):
            raise empty_message()

    def _attachments_for(
        self,
        channel_id: int,
        spec: list[dict[str, Any]] | None,
        files: list[UploadedFile],
        existing: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The attachment objects of a message: kept ones and the new uploads (by index)."""
        by_index: dict[int, UploadedFile] = {}
        for position, upload in enumerate(files):
            match = re.fullmatch(r"files\[(\d+)\]", upload.field)
            by_index[int(match.group(1)) if match else position] = upload
        kept_by_id = {int(a["id"]): a for a in existing}
        result: list[dict[str, Any]] = []
        used: set[int] = set()
        if spec is None:
            result.extend(existing)
            entries: list[dict[str, Any]] = [{"id": i} for i in sorted(by_index)]
        else:
            entries = list(spec)
        for entry in entries:
            raw = entry.get("id")
            key = to_int(raw) if raw is not None else -1
            if key in by_index and key not in used and key < (1 << 22):
                used.add(key)
                result.append(self._new_attachment(channel_id, by_index[key], entry))
            elif key in kept_by_id:
                result.append(kept_by_id[key])
        for key in sorted(set(by_index) - used):  # uploads not listed still attach
            result.append(self._new_attachment(channel_id, by_index[key], {}))
        return result

    def _new_attachment(self, channel_id: int, upload: UploadedFile, entry: dict[str, Any]) -> dict[str, Any]:
        attachment_id = self._new_id()
        filename = entry.get("filename") or upload.filename
        self._attachments[attachment_id] = StoredAttachment(
            attachment_id, filename, upload.content_type, upload.path, upload.size
        )
        url, proxy_url = self._cdn_urls(channel_id, attachment_id, filename)
        return attachment_payload(
            attachment_id,
            filename,
            size=upload.size,
            url=url,
            proxy_url=proxy_url,
            content_type=upload.content_type,
            description=entry.get("description"),
        )

    def _store_message(self, payload: dict[str, Any]) -> None:
        """Keep a message (anyone's) and update its channel's counters."""
        self._all_messages[int(payload["id"])] = payload
        channel = self.channels.get(int(payload["channel_id"]))
        if channel is not None and not int(payload.get("flags", 0)) & FLAG_EPHEMERAL:
            channel["last_message_id"] = payload["id"]
            if channel.get("type") in THREAD_TYPES:
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1

    def _record_message(
        self,
        payload: dict[str, Any],
        body: dict[str, Any],
        files: list[UploadedFile],
        *,
        interaction_id: int | None = None,
    ) -> dict[str, Any]:
        """Record a message the bot posted.

        The record (an entry of :attr:`messages`) has ``id``, ``channel_id``, ``guild_id``,
        ``content``, ``embeds``, ``components``, ``attachments`` (paths of the current files),
        ``files`` (:class:`UploadedFile` of the current files), ``allowed_mentions``,
        ``flags``, ``ephemeral``, ``interaction_id``, ``edits`` (each edit's JSON body, with
        ``"files"`` when it uploaded some) and ``raw`` (the message object as last answered).
        """
        self.uploaded.extend(files)
        record: dict[str, Any] = {
            "id": int(payload["id"]),
            "channel_id": int(payload["channel_id"]),
            "guild_id": to_int(payload["guild_id"]) if payload.get("guild_id") else None,
            "allowed_mentions": body.get("allowed_mentions"),
            "interaction_id": interaction_id,
            "edits": [],
        }
        self._sync_record(record, payload)
        self._records[record["id"]] = record
        self.messages.setdefault(record["channel_id"], []).append(record)
        return record

    def _sync_record(self, record: dict[str, Any], payload: dict[str, Any]) -> None:
        flags = int(payload.get("flags", 0))
        stored = [self._attachments.get(int(a["id"])) for a in payload.get("attachments", [])]
        record.update(
            content=payload.get("content", ""),
            embeds=payload.get("embeds", []),
            components=payload.get("components", []),
            attachments=[s.path for s in stored if s is not None],
            files=[UploadedFile(s.filename, s.content_type, s.path, s.size) for s in stored if s is not None],
            flags=flags,
            ephemeral=bool(flags & FLAG_EPHEMERAL),
            raw=payload,
        )

    def _apply_edit(
        self, message_id: int, body: dict[str, Any], files: list[UploadedFile], *, clear_loading: bool = False
    ) -> dict[str, Any]:
        """Edit a stored message as a PATCH body asks; returns the new message object."""
        message = self._all_messages[message_id]
        channel_id = int(message["channel_id"])
        updated = dict(message)
        if "content" in body:
            updated["content"] = body["content"] or ""
            updated["mentions"] = self._mentions(updated["content"])
            if message.get("guild_id"):
                updated["mentions"] = [{**m, "member": member_payload()} for m in updated["mentions"]]
        if "embeds" in body:
            updated["embeds"] = body["embeds"] or []
        if "components" in body:
            updated["components"] = copy.deepcopy(body["components"] or [])
        flags = int(message.get("flags", 0))
        if clear_loading:
            flags &= ~FLAG_LOADING
        if "flags" in body and body["flags"] is not None:
            flags = (flags & ~FLAG_SUPPRESS_EMBEDS) | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        updated["flags"] = flags
        attachments = self._attachments_for(
            channel_id, body.get("attachments"), files, existing=list(message.get("attachments", []))
        )
        updated["attachments"] = attachments
        if len(updated["content"]) > MAX_MESSAGE_CHARS:
            raise _too_long()
        empty = not (
            updated["content"]
            or updated["embeds"]
            or attachments
            or updated["components"]
            or updated.get("sticker_items")
            or updated.get("poll")
        )
        if empty and not flags & FLAG_LOADING:
            raise empty_message()
        updated["edited_timestamp"] = iso_time()
        self._all_messages[message_id] = updated
        record = self._records.get(message_id)
        if record is not None:
            edit = dict(body)
            if files:
                edit["files"] = list(files)
                self.uploaded.extend(files)
            record["edits"].append(edit)
            if "allowed_mentions" in body:
                record["allowed_mentions"] = body["allowed_mentions"]
            self._sync_record(record, updated)
        return updated
