"""Webhooks on the fake Telegram: ``setWebhook``, ``deleteWebhook``, and delivering queued
updates to the bot's webhook (:meth:`TelegramWebhooks.push_webhook`), as Telegram does.

PTB's ``start_polling`` calls ``deleteWebhook`` first; ``start_webhook`` calls
``setWebhook`` with ``secret_token``, which Telegram then sends back in the
``X-Telegram-Bot-Api-Secret-Token`` header of each delivery.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.fakes.base import UploadedFile
from tests.fakes.telegram.messages import TelegramMessages


class TelegramWebhooks(TelegramMessages):
    """``setWebhook`` / ``deleteWebhook`` and webhook deliveries."""

    async def push_webhook(self) -> list[int]:
        """Deliver queued updates to the webhook set by ``setWebhook``, as Telegram would.

        Each update is POSTed as JSON with ``X-Telegram-Bot-Api-Secret-Token`` (if set);
        updates answered 2xx leave the queue.

        Returns:
            The HTTP status of each delivery.
        """
        if self.webhook is None:
            raise RuntimeError("no webhook set")
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        statuses = []
        async with aiohttp.ClientSession() as session:
            for queued in list(self._queue):
                async with session.post(self.webhook["url"], json=queued.update, headers=headers) as resp:
                    await resp.read()
                    statuses.append(resp.status)
                if 200 <= resp.status < 300:
                    self._queue.remove(queued)
        return statuses

    async def _m_setWebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        if not params.get("url"):  # an empty URL removes the webhook, as on Telegram
            return await self._m_deleteWebhook(params, files)
        self.webhook = dict(params)
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.webhook = None
        return True
