"""Render tracking: submit, poll, deliver exactly once, and resume after a restart.

A render job is written to the store before its render is submitted and after every
change (id, conversation, status message, status, output URL, delivered). On start the
engine hands every undelivered job back here (:meth:`RenderTracker.resume`): it keeps
polling, keeps editing the same status message, and delivers once. A job whose render id
was never confirmed is submitted again only when the backend has no record of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot import metrics
from bot.boundary import ChannelError, OutgoingPhoto, OutgoingVideo, Scope, SentRef
from bot.errors import RenderTimedOut, error_reply
from bot.nemo import timeline
from bot.nemo.client import PollPolicy
from bot.nemo.errors import NemoBadRequest, NemoError, NemoFetchRefused, NemoRenderFailed, NemoTimeoutError
from bot.nemo.models import RenderOutcome, RenderState, RenderStatus
from bot.nemo.retry import is_transient
from bot.pictures import poster
from bot.polling import PollScheduler
from bot.progress import ProgressMessage, progress_bar, progress_for
from bot.settings import Settings
from bot.texts import fmt_elapsed, fmt_size, t
from bot.turn import Turn, say, say_private
from store.base import ACTIVE_JOB_STATUSES, RESUMABLE_JOB_STATUSES, JobStatus, RenderJob, Store

log = logging.getLogger(__name__)

RESUMABLE = RESUMABLE_JOB_STATUSES
"""Statuses of jobs that still owe the user a video."""
ACTIVE = ACTIVE_JOB_STATUSES
"""Statuses of jobs whose render is (or may be) running."""
FOLLOWED = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})
"""Statuses of resumed jobs that are only polled until they end (:meth:`RenderTracker.follow`)."""
MAX_ATTEMPTS = 2
"""A failed render is submitted once more (contract section 5), never more."""


Finish = Callable[[Callable[[], Coroutine[Any, Any, None]]], None]
"""Runs the work that ends a followed render in its conversation's turn, behind the engine's
error boundary (the engine's scheduler)."""


@dataclass(slots=True, eq=False)
class _Followed:
    """A resumed render being polled: the job as last recorded, and its polling state."""

    turn: Turn
    job: RenderJob
    finish: Finish
    claimed: bool
    deadline: float
    delay: float
    progress: ProgressMessage | None = None
    stopped: bool = False


def should_resubmit(job: RenderJob, status: RenderStatus | None) -> bool:
    """Whether a render that ended as ``status`` is submitted again: the one place this is decided.

    A render that failed (not one the user cancelled) on its first attempt is tried once
    more (contract section 5).
    """
    return status is not None and status.status == RenderState.FAILED and job.attempt < MAX_ATTEMPTS


class RenderTracker:
    """Exports of all conversations.

    Args:
        store: Where jobs are kept.
        settings: Poll cadence, limits and progress pacing.
        work_dir: Where videos are downloaded before delivery (a temp dir if ``None``).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        work_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.work_dir = work_dir
        self.clock = clock
        self._exporting: set[str] = set()
        self._followed: set[_Followed] = set()
        self._none_followed = asyncio.Event()
        self._none_followed.set()
        self._poller: PollScheduler[_Followed] = PollScheduler(
            self._poll_followed, concurrency=settings.render_poll_concurrency, clock=clock
        )

    def claim(self, conversation_key: str) -> bool:
        """Reserve the conversation's one export: False when one is already under way.

        Taken when ``/export`` arrives (before it waits its turn), so a second ``/export``
        meanwhile is told about the first instead of rendering the same draft again.
        """
        if conversation_key in self._exporting:
            return False
        self._exporting.add(conversation_key)
        return True

    def release(self, conversation_key: str) -> None:
        """Free the conversation's export (done, refused, dropped or cancelled)."""
        self._exporting.discard(conversation_key)

    @property
    def poll(self) -> PollPolicy:
        """The poll cadence and limit of one render (``RENDER_POLL_*``, ``RENDER_TIMEOUT_S``)."""
        s = self.settings
        return PollPolicy(s.render_poll_initial_s, s.render_poll_max_s, s.render_poll_factor, s.render_timeout_s)

    def progress(self, turn: Turn) -> ProgressMessage:
        """A paced progress message for ``turn``'s channel."""
        return progress_for(turn.channel, turn.lang, self.settings)

    # ------------------------------------------------------------------ export

    async def export(
        self,
        turn: Turn,
        draft: dict[str, Any],
        *,
        cancelled_by_user: Callable[[], bool] = lambda: True,
        on_recorded: Callable[[], None] = lambda: None,
        attempt: int = 1,
        progress: ProgressMessage | None = None,
    ) -> None:
        """Render ``draft`` (already checked ready) and deliver it (contract section 5).

        Args:
            turn: The conversation.
            draft: The draft to render.
            cancelled_by_user: Tells a ``/cancel`` (cancel the render) from a shutdown (leave
                the job to be resumed by the next process).
            on_recorded: Called once the job is in the store (a restart from then on resumes it).
            attempt: The number of the first submission (2 when a resumed job's render failed).
            progress: The status message to keep editing (a new one when ``None``).

        Raises:
            asyncio.CancelledError: ``/cancel`` or shutdown.
            NemoError: Nothing could be submitted.
        """
        sid = turn.conv.session_id
        assert sid is not None
        if progress is None:
            progress = self.progress(turn)
            await progress.start(t("rendering", turn.lang), ticker=False)
        else:
            await progress.stage(t("render_retry", turn.lang))
        job: RenderJob | None = None

        async def on_submit(render_id: str) -> None:
            nonlocal job
            job = RenderJob(
                render_id=render_id,
                conversation_key=turn.conv.key,
                session_id=sid,
                attempt=attempt if job is None else job.attempt + 1,
                status_message=progress.ref.id if progress.ref else None,
            )
            await self.store.save_render(job)  # before the render exists: a crash now is recoverable
            on_recorded()

        async def on_progress(status: RenderStatus) -> None:
            nonlocal job
            assert job is not None
            job = await self._record(job, status)
            await self._show(turn, progress, status)

        while True:
            try:
                outcome = await turn.client.export(
                    sid,
                    draft,
                    attribution=turn.attribution,
                    on_submit=on_submit,
                    on_progress=on_progress,
                    poll=self.poll,
                )
                break
            except NemoRenderFailed as exc:
                log.warning("render for %s failed: %s", turn.conv.key, exc.message[:300])
                if job is not None:
                    await self.store.save_render(job.with_changes(status=JobStatus.FAILED, error=exc.message[:500]))
                    if should_resubmit(job, exc.status):
                        await progress.stage(t("render_retry", turn.lang))
                        continue
                metrics.RENDERS.labels("cancelled" if exc.status and exc.status.cancelled else "failed").inc()
                await progress.finish(_failure_line(exc, exc.status, turn.lang))
                return
            except NemoTimeoutError as exc:
                metrics.RENDERS.labels("timed_out").inc()
                await progress.finish(error_reply(RenderTimedOut(), turn.lang) or "")
                log.warning("render for %s timed out: %r", turn.conv.key, exc)
                return
            except asyncio.CancelledError:
                if cancelled_by_user():
                    await asyncio.shield(self._cancel(turn, job, progress))
                raise
            except NemoError as exc:
                if job is None:
                    await progress.stop()
                    raise  # nothing was submitted
                if not is_transient(exc):
                    # refused for good (402 free plan, out of credits, a bad request): no render
                    # exists and none is submitted again; the boundary says why, once
                    await self.store.save_render(job.with_changes(status=JobStatus.FAILED, error=exc.message[:500]))
                    await progress.finish(t("render_not_started", turn.lang))
                    raise
                # a backend hiccup while submitting or polling: the render may well exist and
                # finish, so follow it up once as after a restart before giving up on it
                log.warning("export of %s interrupted (%r); following the render up", job.render_id, exc)
                await asyncio.sleep(self.settings.render_poll_initial_s)
                latest = await self.store.get_render(job.render_id) or job
                await self.resume(turn, latest)
                return
        assert job is not None
        await self._deliver(turn, job, outcome, draft, progress)

    async def _record(self, job: RenderJob, status: RenderStatus) -> RenderJob:
        if str(status.status) != str(job.status) or abs(status.progress - job.progress) >= 5:
            job = job.with_changes(
                status=JobStatus.of(status.status),
                progress=status.progress,
                output_url=status.output_url,
                error=status.error,
            )
            await self.store.save_render(job)
        return job

    async def _show(self, turn: Turn, progress: ProgressMessage, status: RenderStatus) -> None:
        if status.status in {RenderState.PENDING, RenderState.PROCESSING}:
            pct = int(status.progress)
            text = t("rendering_pct", turn.lang, pct=pct, bar=progress_bar(pct))
            await progress.stage(text if pct > 0 else t("rendering", turn.lang))

    async def _cancel(self, turn: Turn, job: RenderJob | None, progress: ProgressMessage) -> None:
        if job is not None:
            try:
                await turn.client.cancel_render(job.render_id, attribution=turn.attribution)
            except NemoError as exc:
                log.warning("cancelling render %s failed: %r", job.render_id, exc)
            await self.store.save_render(job.with_changes(status=JobStatus.CANCELLED, error="cancelled by the user"))
        await progress.finish(t("render_cancelled", turn.lang))

    # ------------------------------------------------------------------ resume

    async def resume(self, turn: Turn, job: RenderJob) -> None:
        """Finish a job a previous process left behind, editing its status message.

        Whatever happens, the job ends in a final state: delivered, failed or cancelled.

        Raises:
            NemoError: The backend failed for good (the job is marked failed first).
        """
        key, claimed = turn.conv.key, self.claim(turn.conv.key)
        try:
            await self._resume(turn, job)
        except NemoError as exc:
            latest = await self.store.get_render(job.render_id) or job
            if not latest.delivered and latest.status in RESUMABLE:
                await self.store.save_render(latest.with_changes(status=JobStatus.FAILED, error=exc.message[:500]))
            raise
        finally:
            if claimed:
                self.release(key)

    async def _resume(self, turn: Turn, job: RenderJob) -> None:
        """``sending``: the user is told the video may not have arrived, and given the link.
        ``submitting``: the render id was never confirmed; it is submitted (same id) only
        when the backend does not know it. ``pending``/``processing``: polling goes on.
        ``completed``: the video is delivered. A failed render is resubmitted when
        :func:`should_resubmit` says so.
        """
        if job.status == JobStatus.SENDING:  # stopped while handing it to the chat: never sent twice
            await self.report_uncertain(turn, job)
            return
        progress = self.progress(turn)
        if job.status_message:
            progress.adopt(SentRef(job.status_message))
        else:
            await progress.start(t("rendering", turn.lang), ticker=False)
        state = await turn.client.state(job.session_id, attribution=turn.attribution)
        draft = state.draft
        try:
            if job.status == JobStatus.SUBMITTING:
                try:
                    await turn.client.render_status(job.render_id, attribution=turn.attribution)
                except NemoBadRequest as exc:
                    if exc.status != 404:
                        raise
                    log.info("render %s was never received; submitting it now", job.render_id)
                    await turn.client.submit_render(
                        job.session_id, draft, render_id=job.render_id, attribution=turn.attribution
                    )
            if job.status == JobStatus.COMPLETED and job.output_url:
                status = RenderStatus(job.render_id, RenderState.COMPLETED, 100.0, job.output_url)
            else:

                async def on_progress(st: RenderStatus) -> None:
                    nonlocal job
                    job = await self._record(job, st)
                    await self._show(turn, progress, st)

                status = await turn.client.wait_render(
                    job.render_id, attribution=turn.attribution, on_progress=on_progress, poll=self.poll
                )
        except NemoTimeoutError:
            await progress.finish(error_reply(RenderTimedOut(), turn.lang) or "")
            return
        await self._conclude(turn, job, status, draft, progress)

    async def _conclude(
        self, turn: Turn, job: RenderJob, status: RenderStatus, draft: dict[str, Any], progress: ProgressMessage
    ) -> None:
        """A resumed render ended as ``status``: deliver it, resubmit it once, or say why not."""
        if status.status != RenderState.COMPLETED:
            if status.cancelled:
                await self.store.save_render(job.with_changes(status=JobStatus.CANCELLED))
                await progress.finish(t("render_cancelled", turn.lang))
                return
            await self.store.save_render(job.with_changes(status=JobStatus.FAILED, error=status.error))
            log.warning("render %s failed while we were away: %s", job.render_id, (status.error or "")[:300])
            if should_resubmit(job, status):
                await self.export(turn, draft, attempt=job.attempt + 1, progress=progress)
                return
            await progress.finish(_failure_line(None, status, turn.lang))
            return
        outcome = RenderOutcome.from_status(
            status, turn.client.fallback_download_url(job.render_id), attempts=job.attempt
        )
        await self._deliver(turn, job, outcome, draft, progress)

    # ------------------------------------------------------------------ following many renders

    def follow(self, turn: Turn, job: RenderJob, finish: Finish) -> None:
        """Follow a resumed render that is still running (``pending``/``processing``) without a
        task of its own: it is polled by the shared :class:`~bot.polling.PollScheduler` on the
        contract's cadence (section 5), its status message edited as it goes; when it ends,
        ``finish`` is given the work that delivers it (or says why not), to run in the
        conversation's turn. The conversation's one export is claimed meanwhile.
        """
        claimed = self.claim(turn.conv.key)
        item = _Followed(turn, job, finish, claimed, self.clock() + self.settings.render_timeout_s, self.poll.initial_s)
        self._followed.add(item)
        self._none_followed.clear()
        self._poller.add(item)

    def hold_polling(self) -> contextlib.AbstractContextManager[None]:
        """No followed render is polled inside this block (a restart adding them in pages)."""
        return self._poller.held()

    async def _poll_followed(self, item: _Followed) -> float | None:
        """Poll one followed render once; the delay until its next poll, or ``None`` when it ended."""
        if item.stopped:
            return None
        turn = item.turn
        try:
            status = await turn.client.render_status(item.job.render_id, attribution=turn.attribution)
            item.job = await self._record(item.job, status)
        except NemoError as exc:
            self._end_followed(item, functools.partial(self._fail_followed, item, exc))
            return None
        if status.done:
            self._end_followed(item, functools.partial(self._finish_followed, item, status))
            return None
        if item.job.status_message:  # the message a previous process posted; none: nothing to edit
            await self._show(turn, self._followed_progress(item), status)
        delay = item.delay
        if self.clock() + delay > item.deadline:
            self._end_followed(item, functools.partial(self._time_out_followed, item))
            return None
        item.delay = min(self.poll.max_s, delay * self.poll.factor)
        return delay

    def _end_followed(self, item: _Followed, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._unfollow(item)

        async def run() -> None:
            try:
                await work()
            finally:
                if item.claimed:
                    self.release(item.turn.conv.key)

        item.finish(run)

    def _followed_progress(self, item: _Followed) -> ProgressMessage:
        """The followed render's status message (made on first need: most never need one)."""
        if item.progress is None:
            item.progress = self.progress(item.turn)
            if item.job.status_message:
                item.progress.adopt(SentRef(item.job.status_message))
        return item.progress

    async def _finish_followed(self, item: _Followed, status: RenderStatus) -> None:
        turn, job = item.turn, item.job
        progress = self._followed_progress(item)
        if progress.ref is None:
            await progress.start(t("rendering", turn.lang), ticker=False)
        try:
            draft = (await turn.client.state(job.session_id, attribution=turn.attribution)).draft
            await self._conclude(turn, job, status, draft, progress)
        except NemoError as exc:
            await self._fail_followed(item, exc)

    async def _fail_followed(self, item: _Followed, exc: NemoError) -> None:
        """The backend failed for good while following: the job is marked failed, the error told."""
        latest = await self.store.get_render(item.job.render_id) or item.job
        if not latest.delivered and latest.status in RESUMABLE:
            await self.store.save_render(latest.with_changes(status=JobStatus.FAILED, error=exc.message[:500]))
        raise exc

    async def _time_out_followed(self, item: _Followed) -> None:
        await self._followed_progress(item).finish(error_reply(RenderTimedOut(), item.turn.lang) or "")

    def _unfollow(self, item: _Followed) -> None:
        self._followed.discard(item)
        if not self._followed:
            self._none_followed.set()

    @property
    def following(self) -> int:
        """Resumed renders being polled."""
        return len(self._followed)

    async def wait_followed(self) -> None:
        """Wait until no resumed render is being polled (each ended, or was stopped)."""
        await self._none_followed.wait()

    def stop_following(self, prefix: str = "") -> None:
        """Stop following the renders of conversations whose key starts with ``prefix`` (they stay
        in the store for the next process)."""
        for item in [i for i in self._followed if i.turn.conv.key.startswith(prefix)]:
            item.stopped = True
            self._unfollow(item)
            if item.claimed:
                self.release(item.turn.conv.key)

    async def aclose(self) -> None:
        """Stop following every render (they stay in the store for the next process). Idempotent."""
        self.stop_following()
        await self._poller.aclose()

    # ------------------------------------------------------------------ delivery

    async def project_link(self, turn: Turn) -> str | None:
        """The web-editor claim link of the conversation's project, or ``None`` when unavailable."""
        if not turn.conv.session_id or not turn.conv.task_id:
            return None
        try:
            return await turn.client.claim_link(turn.conv.task_id, turn.conv.session_id, attribution=turn.attribution)
        except NemoError as exc:
            log.warning("claim link failed for %s: %r", turn.conv.key, exc)
            return None

    async def _download(
        self, turn: Turn, outcome: RenderOutcome, path: Path, limit: int
    ) -> tuple[RenderOutcome, int | None]:
        """Download the MP4 (the client retries this idempotent GET by its retry policy).

        An output URL the outbound rules refuse (plain http, a private address:
        :mod:`bot.outbound`) is never fetched nor shown; the API's own download endpoint
        (endpoint 11) is used instead.

        Returns:
            The outcome actually used, and the size in bytes (``None``: over ``limit``).

        Raises:
            NemoFetchRefused: The fallback endpoint was refused too. NemoError: Others.
        """
        try:
            return outcome, await turn.client.download(
                outcome.download_url, path, needs_auth=outcome.needs_auth, max_bytes=limit, attribution=turn.attribution
            )
        except NemoFetchRefused as exc:
            if outcome.needs_auth:
                raise
            log.warning("render %s: output URL refused (%s); using the API's download endpoint", outcome.render_id, exc)
        outcome = replace(outcome, download_url=turn.client.fallback_download_url(outcome.render_id), needs_auth=True)
        return outcome, await turn.client.download(
            outcome.download_url, path, needs_auth=True, max_bytes=limit, attribution=turn.attribution
        )

    async def _link_poster(self, turn: Turn, outcome: RenderOutcome) -> poster.Still | None:
        """A still from the start of a video too large to send (:data:`poster.HEAD_BYTES` of it),
        shown above its link; ``None`` when the start cannot be had or holds no frame."""
        try:
            head = await turn.client.download_head(
                outcome.download_url,
                needs_auth=outcome.needs_auth,
                max_bytes=poster.HEAD_BYTES,
                attribution=turn.attribution,
            )
        except NemoError as exc:
            log.info("render %s: no poster frame (%s)", outcome.render_id, type(exc).__name__)
            return None
        return await asyncio.to_thread(poster.poster, head)

    async def _deliver(
        self, turn: Turn, job: RenderJob, outcome: RenderOutcome, draft: dict[str, Any], progress: ProgressMessage
    ) -> None:
        """Download (when it fits) and hand the video to the chat: ``completed`` -> ``sending`` ->
        ``delivered``, or ``uncertain`` when the platform call failed (the user gets the link).

        Raises:
            NemoError: The download failed (the job is marked ``failed`` first).
            asyncio.CancelledError: Shutdown; a job left ``sending`` is reported, not re-sent,
                by the next process.
        """
        job = job.with_changes(status=JobStatus.COMPLETED, progress=100.0, output_url=outcome.download_url)
        await self.store.save_render(job)
        meta: dict[str, Any] = draft["m"] if isinstance(draft.get("m"), dict) else {}
        width, height = int(meta.get("width") or 1920), int(meta.get("height") or 1080)
        duration_ms = float(outcome.duration_s * 1000 if outcome.duration_s else draft.get("d") or 0)
        link = await self.project_link(turn)
        # the claim link hands the project to whoever opens it: in a shared chat it goes privately
        shared_chat = turn.msg.scope is not Scope.PRIVATE
        link_line = "\n" + t("project_link", turn.lang, url=link) if link and not shared_chat else ""
        limit = turn.channel.limits.max_upload_bytes
        work = Path(tempfile.mkdtemp(prefix="nemobot-render-", dir=self.work_dir))
        try:
            name = f"nemovideo-{outcome.render_id.removeprefix('render_')[:12]}.mp4"
            path = work / name
            try:
                outcome, size = await self._download(turn, outcome, path, limit)
            except NemoError as exc:
                await self.store.save_render(job.with_changes(status=JobStatus.FAILED, error=exc.message[:500]))
                await progress.stop()
                raise
            details = f"{width}x{height}, {timeline.fmt_seconds(duration_ms)} s"
            done = t("render_done", turn.lang, elapsed=fmt_elapsed(progress.elapsed_s))
            video: OutgoingVideo | None = None
            still: poster.Still | None = None
            if size is not None:
                details += f", {fmt_size(size)}"
                text = t("render_ready_file", turn.lang, details=details) + link_line
                thumb = await asyncio.to_thread(poster.thumbnail, path)
                video = OutgoingVideo(
                    path,
                    name,
                    size,
                    duration_s=duration_ms / 1000 if duration_ms else None,
                    width=width,
                    height=height,
                    thumbnail=thumb.jpeg if thumb else None,
                )
            else:
                still = await self._link_poster(turn, outcome)
                big, lim = fmt_size(outcome.size or limit + 1), fmt_size(limit)
                if outcome.needs_auth:
                    url = turn.client.web_url if shared_chat or not link else link
                    text = t("render_ready_web", turn.lang, details=details, size=big, limit=lim, url=url)
                else:
                    url = outcome.download_url
                    text = t("render_ready_link", turn.lang, details=details, size=big, limit=lim, url=url)
                    text += link_line
            await progress.finish(done)
            job = job.with_changes(
                status=JobStatus.SENDING, output_url=outcome.download_url, delivered_as="file" if video else "link"
            )
            await self.store.save_render(job)  # from here on a restart must not send it again blindly
            try:
                if video is not None:
                    await turn.channel.send_file(video, caption=text[: turn.channel.limits.max_caption_chars])
                elif still is not None and len(text) <= turn.channel.limits.max_caption_chars:
                    photo = OutgoingPhoto(still.jpeg, "poster.jpg", still.width, still.height)
                    try:
                        await turn.channel.send_photo(photo, caption=text)
                    except ChannelError as exc:  # the link matters, the picture does not: send it bare
                        log.warning(
                            "render %s: the poster was refused (%s); sending the link alone", job.render_id, exc
                        )
                        await say(turn.channel, text)
                else:
                    await say(turn.channel, text)
            except Exception as exc:  # noqa: BLE001 - any failure here leaves the outcome unknown
                log.warning("delivery of render %s failed or was not confirmed: %r", job.render_id, exc)
                await self.report_uncertain(turn, job)
                return
        finally:
            shutil.rmtree(work, ignore_errors=True)
        await self.store.save_render(job.with_changes(status=JobStatus.DELIVERED, delivered=True))
        metrics.DELIVERIES.labels("file" if video is not None else "link").inc()
        metrics.RENDERS.labels("delivered").inc()
        metrics.RENDER_SECONDS.observe(progress.elapsed_s)
        if link and shared_chat:
            await say_private(turn, t("project_link", turn.lang, url=link))

    async def report_uncertain(self, turn: Turn, job: RenderJob) -> None:
        """Tell the user a video may not have arrived, with a link to it; the job becomes ``uncertain``.

        The link is the output URL when it needs no token, else the web app (the project's
        claim link goes privately).

        Raises:
            ChannelError: The note could not be posted (the job stays ``sending``).
        """
        fallback = turn.client.fallback_download_url(job.render_id)
        url = job.output_url if job.output_url and job.output_url != fallback else turn.client.web_url
        await say(turn.channel, t("delivery_uncertain", turn.lang, url=url))
        await self.store.save_render(job.with_changes(status=JobStatus.UNCERTAIN))
        if url == turn.client.web_url:
            link = await self.project_link(turn)
            if link:
                await say_private(turn, t("project_link", turn.lang, url=link))


def _failure_line(exc: NemoRenderFailed | None, status: RenderStatus | None, lang: str) -> str:
    """The final line of a failed render's status message (the backend's text is only logged)."""
    if status is not None and status.cancelled:
        return t("render_cancelled", lang)
    return error_reply(exc or NemoRenderFailed("render failed"), lang) or ""
