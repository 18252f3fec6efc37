"""The fake Discord's REST plumbing: the route table, request bodies, authorization, upload
limits, rate-limit headers and armed failures.

* REST is served under ``/api/v10`` (any ``/api/vN`` or bare ``/api`` too); recorded paths
  drop that prefix. Bot calls must carry ``Authorization: Bot <token>`` (401 otherwise; the
  token is never kept); interaction callbacks and webhook routes carry none.
* Bodies are JSON, or ``multipart/form-data`` with a ``payload_json`` part and ``files[n]``
  parts (discord.py sends every file as ``application/octet-stream``; the fake guesses the
  type from the file name, as Discord does). A file over the channel's (or interaction's)
  upload limit answers 413 code 40005.
* Every answer carries ``Via: 1.1 google`` (discord.py retries a 429 only when it sees it;
  otherwise it assumes a Cloudflare ban) and normal ones ``X-RateLimit-*`` headers per
  route bucket; a bot that ignores ``X-RateLimit-Remaining: 0`` gets a 429.
* :meth:`DiscordHttp.fail` arms failures: discord.py sleeps and retries 429s by itself and
  retries 500, 502, 504 and 524 after 1, 3, 5... seconds; use 503 for a server error that
  surfaces at once (``discord.DiscordServerError``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import mimetypes
import re
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.fakes.base import Fault, UploadedFile, json_response
from tests.fakes.discord.channels import Answer
from tests.fakes.discord.constants import DEFAULT_UPLOAD_LIMIT
from tests.fakes.discord.model import ApiError, Call
from tests.fakes.discord.state import API_PREFIX_RE, path_regex
from tests.fakes.discord.webhooks import DiscordWebhooks

Handler = Callable[[Call, dict[str, str]], Awaitable[Answer]]
Route = tuple[str, re.Pattern[str], str, Handler, bool]
"""HTTP method, path regex, path template (the rate-limit bucket), handler, needs Authorization."""


class DiscordHttp(DiscordWebhooks):
    """Routing REST requests to the ``_r_*`` handlers of the layers below."""

    rate_limit = 50
    """Requests per bucket and window announced in ``X-RateLimit-Limit`` (and enforced)."""
    rate_limit_window_s = 1.0
    """The rate-limit window in seconds."""

    @functools.cached_property
    def _route_table(self) -> list[Route]:
        """The routes nemobot's client calls; anything else is a 404 (or 405 for a known path)."""
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", self._r_me, True),
            ("GET", "/oauth2/applications/@me", self._r_application, True),
            ("GET", "/gateway/bot", self._r_gateway_bot, True),
            ("PUT", "/applications/{app_id}/commands", self._r_put_commands, True),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._r_put_commands, True),
            ("GET", "/channels/{channel_id}", self._r_channel, True),
            ("POST", "/channels/{channel_id}/typing", self._r_typing, True),
            ("POST", "/channels/{channel_id}/messages", self._r_send, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._r_edit_message, True),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._r_thread_from_message, True),
            ("PUT", "/channels/{channel_id}/thread-members/{user_id}", self._r_add_thread_member, True),
            ("GET", "/channels/{channel_id}/thread-members/{user_id}", self._r_get_thread_member, True),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._r_callback, False),
            ("POST", "/webhooks/{app_id}/{token}", self._r_followup, False),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_edit, False),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self._r_webhook_delete, False),
        ]
        return [(m, path_regex(p, named=True), p, h, auth) for m, p, h, auth in table]

    def fail(self, method: str, path_pattern: str, times: int = 1, status: int = 429, retry_after: float = 0.5) -> None:
        """Make the next ``times`` matching calls fail (after they are recorded).

        A 429 carries Discord's headers (``Retry-After``, ``X-RateLimit-*``, ``Via``) and body
        ``{"message": "You are being rate limited.", "retry_after", "global": false}``.
        Other statuses answer Discord's generic ``{"message": "<status>: <reason>", "code": 0}``.

        Args:
            method: HTTP method, ``*`` for any.
            path_pattern: Path without ``/api/v10``; ``{id}`` (any name) matches one segment.
            times: How many calls fail.
            status: HTTP status.
            retry_after: Seconds, for 429.
        """
        self._arm(Fault(method.upper(), path_regex(path_pattern, named=False), times, status, retry_after))

    # ------------------------------------------------------------------ dispatch

    async def _http(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(("/attachments/", "/media/attachments/")):
            return self._cdn(request)
        prefix = API_PREFIX_RE.match(path)
        if prefix is None:
            return json_response(404, {"message": "404: Not Found", "code": 0})
        path = path[prefix.end() :]
        route = None
        method_mismatch = False
        for method, regex, template, handler, auth in self._route_table:
            match = regex.match(path)
            if match is None:
                continue
            if method != request.method:
                method_mismatch = True
                continue
            route = (template, handler, auth, match.groupdict())
            break
        call = Call(request.method, path, query=dict(request.query))
        call.authorized = bool(re.fullmatch(r"Bot \S+", request.headers.get("Authorization", "").strip()))
        self.calls.append(call)
        try:
            if route is None:
                if method_mismatch:
                    raise ApiError(405, "405: Method Not Allowed", 0)
                raise ApiError(404, "404: Not Found", 0)
            template, handler, auth, params = route
            call.json, call.files, too_big = await self._read_body(request, self._upload_limit_for(params))
            if auth and not call.authorized:
                raise ApiError(401, "401: Unauthorized", 0)
            headers, over_for = self._ratelimit_headers(request.method, template, params)
            fault = self._take_fault(call.method, call.path)
            if fault is None and over_for is not None:  # the bot ignored X-RateLimit-Remaining: 0
                fault = Fault(call.method, None, 1, 429, over_for)
            if fault is not None:
                return self._failure_response(call, fault, template)
            if too_big:
                raise ApiError(413, "Request entity too large", 40005)
            status, body = await handler(call, params)
        except ApiError as err:
            status, body = err.status, err.body()
            headers = {"Via": "1.1 google"}
        call.status, call.response = status, body
        self._touch()
        if status == 204:
            return web.Response(status=204, headers=headers)
        return json_response(status, body, headers)

    async def _read_body(self, request: web.Request, limit: int | None) -> tuple[Any, list[UploadedFile], bool]:
        """The JSON (or ``payload_json``) of a request, its files, and whether one was too big."""
        if request.content_type == "multipart/form-data":
            fields, files, too_big = await self._read_multipart(request, limit, per_file=True)
            for upload in files:
                upload.content_type = mimetypes.guess_type(upload.filename)[0] or upload.content_type
            return _parse_json(fields["payload_json"]) if "payload_json" in fields else None, files, too_big
        raw = await request.read()
        if not raw.strip():
            return None, [], False
        return _parse_json(raw), [], False

    def _upload_limit_for(self, params: dict[str, str]) -> int | None:
        """The per-file limit of a route: the interaction's, or the channel's guild tier's."""
        if "token" in params:
            inter = self._tokens.get(params["token"])
            return inter.attachment_size_limit if inter else DEFAULT_UPLOAD_LIMIT
        if "channel_id" in params:
            try:
                channel = self.channels.get(int(params["channel_id"]))
            except ValueError:
                return None
            if channel is None:
                return None
            return self._channel_upload_limit(channel)
        return None

    # ------------------------------------------------------------------ rate limits and failures

    def _ratelimit_headers(
        self, method: str, template: str, params: dict[str, str]
    ) -> tuple[dict[str, str], float | None]:
        """Count the request in its bucket: the headers, and the wait if it is over the limit."""
        bucket = hashlib.md5(f"{method} {template}".encode()).hexdigest()
        major = "+".join(params.get(k, "") for k in ("channel_id", "guild_id", "app_id", "token"))
        now = time.time()
        window = self._buckets.get((bucket, major))
        if window is None or now >= window[0] + self.rate_limit_window_s:
            window = self._buckets[(bucket, major)] = [now, 0]
        window[1] += 1
        reset_after = window[0] + self.rate_limit_window_s - now
        headers = {
            "Via": "1.1 google",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit - int(window[1]))),
            "X-RateLimit-Reset": f"{window[0] + self.rate_limit_window_s:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        }
        return headers, (reset_after if window[1] > self.rate_limit else None)

    def _failure_response(self, call: Call, fault: Fault, template: str) -> web.Response:
        headers = {"Via": "1.1 google"}
        body: dict[str, Any]
        if fault.status == 429:
            retry_after = fault.retry_after or 0.0
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            headers.update(
                {
                    "Retry-After": str(max(1, round(retry_after))),
                    "X-RateLimit-Limit": str(self.rate_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": hashlib.md5(template.encode()).hexdigest(),
                    "X-RateLimit-Scope": "user",
                }
            )
        else:
            body = {"message": f"{fault.status}: {_reason(fault.status)}", "code": 0}
        call.status, call.response = fault.status, body
        self._touch()
        return json_response(fault.status, body, headers)


def _parse_json(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "400: Bad Request", 50109) from None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
