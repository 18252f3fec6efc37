"""Commands about people rather than projects: ``/login``, ``/logout``, ``/connect`` and ``/admin``.

Their answers can carry secrets (a connect code) or concern one person only, so in shared
chats they go privately (:func:`bot.turn.say_private`). ``/login`` is refused outside a
private chat: a token pasted in a group is seen by everyone.
"""

from __future__ import annotations

import logging

from bot.access import QUOTA_KINDS, AccessPolicy, RunSlots
from bot.boundary import Scope
from bot.identity import Identities
from bot.intents import Intent
from bot.texts import t
from bot.turn import Turn, say, say_private
from store.base import ACTIVE_JOB_STATUSES, EncryptionRequired, Store, utcnow

log = logging.getLogger(__name__)


class AccountCommands:
    """Handlers for the account intents (see :meth:`bot.commands.Commands.table`).

    Args:
        store: People, flags and usage.
        identities: Personal tokens and connect codes.
        access: Who is an admin; quotas.
        slots: Agent runs in flight (for ``/admin stats``).
    """

    def __init__(self, store: Store, identities: Identities, access: AccessPolicy, slots: RunSlots) -> None:
        self.store = store
        self.identities = identities
        self.access = access
        self.slots = slots

    async def login(self, turn: Turn, intent: Intent) -> None:
        """``/login TOKEN``: use the person's own NemoVideo token from now on (private chats only)."""
        if turn.msg.scope is not Scope.PRIVATE:
            await say_private(turn, t("login_private_only", turn.lang))
            return
        token = intent.arg.strip()
        if not token or turn.person is None:
            await say(turn.channel, t("login_how", turn.lang))
            return
        try:
            await self.identities.login(turn.person, token)
        except EncryptionRequired:
            log.warning("a personal token was refused: set NEMOBOT_SECRET_KEY to store personal tokens encrypted")
            await say(turn.channel, t("login_needs_key", turn.lang))
            return
        await say(turn.channel, t("logged_in", turn.lang))

    async def logout(self, turn: Turn, intent: Intent) -> None:
        """``/logout``: forget the personal token."""
        done = turn.person is not None and await self.identities.logout(turn.person)
        await say_private(turn, t("logged_out", turn.lang) if done else t("not_logged_in", turn.lang))

    async def connect(self, turn: Turn, intent: Intent) -> None:
        """``/connect``: a one-time code; ``/connect CODE`` on the other platform joins the accounts."""
        if turn.person is None:
            return
        code = intent.arg.strip()
        if not code:
            made = await self.identities.connect_code(turn.person)
            await say_private(turn, t("connect_code", turn.lang, code=made, minutes=10))
            return
        person = await self.identities.connect(turn.msg.account, code)
        await say_private(turn, t("connected", turn.lang) if person else t("connect_bad_code", turn.lang))

    async def admin(self, turn: Turn, intent: Intent) -> None:
        """``/admin stats | block USER | unblock USER | quota USER N`` (admins only).

        ``USER`` is an account, ``telegram:123`` or ``discord:456``.
        """
        if not self.access.is_admin(turn.msg.account):
            await say_private(turn, t("admin_only", turn.lang))
            return
        words = intent.arg.split()
        verb = words[0].lower() if words else "stats"
        if verb == "stats":
            await say_private(turn, await self._stats(turn.lang))
            return
        if verb in {"block", "unblock", "quota"} and len(words) >= 2 and ":" in words[1]:
            person = await self.store.ensure_person(words[1])
            if verb == "quota" and len(words) == 3 and words[2].isdigit():
                for kind in QUOTA_KINDS:
                    await self.store.set_flag(person, f"quota_{kind}", words[2])
                await say_private(turn, t("admin_quota_set", turn.lang, user=words[1], n=words[2]))
                return
            if verb in {"block", "unblock"} and len(words) == 2:
                if verb == "block":
                    await self.store.set_flag(person, "blocked", "1")
                    await say_private(turn, t("admin_blocked", turn.lang, user=words[1]))
                else:
                    await self.store.set_flag(person, "blocked", None)
                    await say_private(turn, t("admin_unblocked", turn.lang, user=words[1]))
                return
        await say_private(turn, t("admin_usage", turn.lang))

    async def _stats(self, lang: str) -> str:
        day = utcnow().date().isoformat()
        runs, runners = await self.store.usage_totals("runs", day)
        exports, _ = await self.store.usage_totals("exports", day)
        return t(
            "admin_stats",
            lang,
            people=await self.store.count_people(),
            active=runners,
            runs=runs,
            exports=exports,
            renders=await self.store.count_renders([str(s) for s in ACTIVE_JOB_STATUSES]),
            in_flight=self.slots.in_flight,
        )
