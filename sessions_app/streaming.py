"""The stream behind an answer: relay the provider's tokens as server-sent events.

Send (or the stream, for an answer nobody started) claims the message first
(Message.claim), so only one task ever calls the provider for it. Deltas go out as
`delta` events, HTML-escaped: the text as it came, for any client. The page reads `html`
events instead: the whole text so far rendered by the same renderer and sanitizer as the
finished answer (rendering.py), at the cadence _Formatting sets. Every CHECKPOINT_SECONDS,
whether tokens come or not, one checkpoint saves the text not saved yet, touches the row
(the heartbeat a follower in any process reads) and notices a Stop from any process; the
stream ends with one `done` event carrying the finished message, rendered once. A Stop,
an upstream error, the model's output limit or the server stopping keeps the text that
arrived. The relay runs as a task of its own (sessions_app/answers.py), so no reader
going away ends it.

Every database trip a stream makes (the claim, each checkpoint, the end, a follower's
poll) gives its connection back when it is done, and the checkpoints of the worker's
streams that fall due together share one (sessions_app/trips.py).
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Substr
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape

from providers import access
from providers.errors import UserFacingError
from providers.runners.base import AuthError, Event, Finish, ProviderError, TextDelta, Usage
from providers.runners.router import stream_reply
from sessions_app import attempts, rendering, trips
from sessions_app.attempts import FALLBACK_ON, Candidate, Chain, Try, ms_since
from sessions_app.models import Message, Status
from usage import quotas, recording
from usage.models import Outcome
from usage.recording import outcome_of

logger = logging.getLogger(__name__)

# How often the stream checkpoints: so a Stop is noticed within about a second, and a
# follower's view is this far behind at most.
CHECKPOINT_SECONDS = 0.5
# A follower gives up after this long, whatever happens.
FOLLOW_LIMIT_SECONDS = 600
# An answer left "streaming" this long untouched lost its worker (a restart, a crash). A
# live stream touches its row every CHECKPOINT_SECONDS while it waits on the provider, so
# this need not outlast the longest silence a provider may keep (a read timeout of up to
# 600 s, providers/validators.py, for a model that reasons before it writes): sixty missed
# heartbeats, longer than SQLite's 20 s busy timeout a checkpoint may wait behind.
STALE_AFTER = timedelta(seconds=30)
INTERRUPTED = "The answer was interrupted: the server streaming it stopped. Retry it."
STOPPED = "Stopped."
OUTPUT_LIMIT = (
    "Stopped at the model's output limit (max_tokens): the answer is incomplete. Ask it to "
    "continue, or raise max_tokens in the model's settings."
)
YOUR_KEY = (
    "It was your own key for this provider: replace or remove it in Settings (Your API keys)."
)
TOO_LONG = (
    "The answer passed the size limit of {limit:,} characters and was cut there "
    "(ANSWER_MAX_CHARS, or the model's max_answer_chars setting)."
)


# What ends a line for an EventSource: CRLF, a bare CR or a bare LF (HTML spec, "Parsing an
# event stream"). Splitting on "\n" alone would let a CR in upstream text end our data
# field and start a field, or a whole event, of the upstream's choosing.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


# An SSE comment: EventSource ignores it; it only keeps the connection busy for proxies.
KEEPALIVE = ": keep-alive\n\n"


def sse(event: str, data: str) -> str:
    """One server-sent event; each line of `data` is its own `data:` field, as the spec asks,
    so no text can end the event early. The browser joins the fields with LF."""
    fields = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(data))
    return f"event: {event}\n{fields}\n"


# The least time between two renders of a streaming answer, however cheap: at a token
# every 20 ms, a render every third token still looks live.
RENDER_GAP_SECONDS = 0.05
# And the renders of all the answers a worker streams may take at most this share of its
# time together: a long answer, slower to render whole, is rendered less often, and so is
# every answer when many stream at once (their deltas keep coming as they arrive).
RENDER_SHARE = 0.05


HTML = "html"
HTML_EVENT = f"event: {HTML}\n"  # how an html event begins (answers.Broadcast keeps the last)


class _RenderBudget:
    """What is left of the renders' share of this worker's time (RENDER_SHARE): each
    render spends what it cost, and the share comes back with time, up to `most`
    seconds' worth. Per process on purpose: it shares out this process's CPU, and
    nothing else reads it."""

    def __init__(self, share: float, most: float) -> None:
        self.share, self.most = share, most
        self.left, self.at = most, -math.inf

    def allows(self, now: float) -> bool:
        self.left = min(self.most, self.left + (now - self.at) * self.share)
        self.at = now
        return self.left > 0

    def spend(self, seconds: float) -> None:
        self.left -= seconds


_budget = _RenderBudget(RENDER_SHARE, most=0.01)


class _Formatting:
    """When a streaming answer is rendered again for the page: its first text at once,
    then when RENDER_GAP_SECONDS and the worker's render budget allow (checked at each
    delta and each checkpoint, so text that arrived just after a render follows soon)."""

    def __init__(self) -> None:
        self.at = -math.inf
        self.length = 0  # of the text rendered last

    def event(self, length: int, text: Callable[[], str]) -> str | None:
        """An `html` event of the `length` characters `text()` gives, when one is due; else
        None. The text is asked for only then: copying a long answer at every token
        would cost what the cadence saves."""
        now = time.monotonic()
        if length == self.length or now - self.at < RENDER_GAP_SECONDS:
            return None
        if self.length and not _budget.allows(now):
            return None
        html = rendering.render_markdown(text())
        self.at, self.length = now, length
        _budget.spend(time.monotonic() - now)
        return sse(HTML, html)


class _Answer:
    """The answer's text as it arrives, kept to its size limit.

    One buffer for the whole text (saved once, at the end) and one for what the last
    checkpoint has not saved yet, so a long answer costs its own size and no more: no
    list of chunks, no ever-growing copy sent with every checkpoint.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.length = 0
        self.cut = False  # the limit was reached: the rest was not kept
        self._whole = io.StringIO()
        self._unsaved = io.StringIO()

    def add(self, text: str) -> str:
        """The part of `text` kept: all of it, unless it passes the limit. A NUL is dropped:
        it means nothing in an answer, PostgreSQL refuses it in text, and SQLite's substr()
        stops at it."""
        text = text.replace("\x00", "")
        room = self.limit - self.length
        if len(text) > room:
            text, self.cut = text[:room], True
        self._whole.write(text)
        self._unsaved.write(text)
        self.length += len(text)
        return text

    def unsaved(self) -> str:
        """What arrived since the last call (each checkpoint saves it)."""
        text, self._unsaved = self._unsaved.getvalue(), io.StringIO()
        return text

    def text(self) -> str:
        return self._whole.getvalue()


async def relay(message: Message, start: Start | Exception) -> AsyncIterator[str]:
    """Events for a message this process has claimed, given what claim() read for it."""
    started = time.monotonic()
    answer = _Answer(settings.ANSWER_MAX_CHARS)
    formatting = _Formatting()
    chain = start.chain if isinstance(start, Start) else None
    attempt: Try | None = None  # the try under way
    ttft_ms: int | None = None
    try:
        if isinstance(start, Exception):
            raise start  # the claim's trip found why it cannot be answered: reported below
        candidate = start.candidate
        stopped = at_output_limit = False
        while True:
            answer.limit = candidate.limit
            attempt = chain.begin(candidate)
            try:
                # aclosing, both: a Stop or a cut ends the upstream request at once.
                async with (
                    aclosing(stream_reply(candidate.target, candidate.request)) as upstream,
                    aclosing(_with_ticks(upstream, CHECKPOINT_SECONDS)) as events,
                ):
                    async for event in events:
                        if event is TICK:
                            if stopped := await trips.checkpoint(message, answer.unsaved()):
                                break
                            if html := formatting.event(answer.length, answer.text):
                                yield html
                        elif isinstance(event, TextDelta):
                            attempt.first_token()
                            ttft_ms = ttft_ms or ms_since(started)  # the person's wait
                            if kept := answer.add(event.text):
                                yield sse("delta", escape(kept))
                                if html := formatting.event(answer.length, answer.text):
                                    yield html
                            if answer.cut:
                                break
                        elif isinstance(event, Usage):
                            attempt.usage = event
                        elif isinstance(event, Finish):
                            at_output_limit = event.at_output_limit
            except ProviderError as error:
                if attempt.relayed or not isinstance(error, FALLBACK_ON):
                    raise
                attempt.fail(error)
                chain.ended(attempt)
                attempt = None
                if (candidate := await trips.database_trip(chain.next_candidate, error)) is None:
                    raise
                logger.warning(
                    "Answer %s: %s; trying %s", message.public_id, error, candidate.label
                )
                continue
            break
        if answer.cut:
            status, error, outcome = Status.ERROR, TOO_LONG.format(limit=answer.limit), Outcome.CUT
        elif stopped:
            status, error, outcome = Status.STOPPED, STOPPED, Outcome.STOPPED
        elif at_output_limit:
            # Not an error: the text is the model's own, only shorter than it meant.
            status, error, outcome = Status.STOPPED, OUTPUT_LIMIT, Outcome.OK
        else:
            status, error, outcome = Status.DONE, "", Outcome.OK
    except UserFacingError as failure:  # the upstream's, the access service's, the key's
        logger.warning("Answer %s failed: %s", message.public_id, failure.description)
        status, error, outcome = Status.ERROR, failure.description, outcome_of(failure)
        if isinstance(failure, AuthError) and chain and chain.tries[-1].candidate.personal_key:
            error = f"{error} {YOUR_KEY}"  # theirs to mend; a team key is the staff's
    except asyncio.CancelledError:
        # The server is stopping (its loop cancels the answer's task): keep what arrived,
        # ended as a follower would find it later, so Retry is offered.
        ending = _Ending(message, chain, attempt, answer.text(), started, ttft_ms)
        await asyncio.shield(
            trips.database_trip(ending.save, Status.ERROR, INTERRUPTED, "interrupted")
        )
        raise
    except Exception:  # the one place that catches everything: a bug must not hang the page
        logger.exception("Answer %s failed unexpectedly", message.public_id)
        status, error = Status.ERROR, "Something went wrong on our side; the error was logged."
        outcome = Outcome.FAILED
    ending = _Ending(message, chain, attempt, answer.text(), started, ttft_ms)
    await trips.database_trip(ending.save, status, error, outcome)
    yield sse("done", await render_message(message))


@dataclass(frozen=True)
class _Ending:
    """What the answer's end saves, in one trip: the message, its usage records, and the
    quota's reservation settled."""

    message: Message
    chain: Chain | None  # None when the claim's trip failed: nothing went upstream
    attempt: Try | None  # the try under way when the answer ended
    text: str
    started: float
    ttft_ms: int | None

    def save(self, status: str, error: str, outcome: str) -> None:
        fields: dict[str, object] = {"latency_ms": ms_since(self.started), "ttft_ms": self.ttft_ms}
        chain, used = self.chain, []
        if chain is not None and chain.tries:
            if self.attempt is not None:
                self.attempt.end(outcome)
                chain.ended(self.attempt)
            used = chain.records(self.text)
            answered = chain.answered_by()
            fields |= answered.candidate.audit()
            if answered.usage is not None:
                fields |= {
                    "input_tokens": answered.usage.input_tokens,
                    "output_tokens": answered.usage.output_tokens,
                    "cached_tokens": answered.usage.cached_tokens,
                }
            if len(chain.entries) > 1:
                fields["attempts"] = chain.entries
            costs = [attempt.cost for attempt in used if attempt.cost is not None]
            fields["cost"] = sum(costs, Decimal(0)) if costs else None
        try:
            with transaction.atomic():
                self._write(status, error, fields, used)
        except IntegrityError:
            # A model, provider or tier deleted while the answer streamed: the message
            # and its records keep their names, without the links.
            fields.pop("llm_model_id", None)
            used = [replace(a, provider_id=None, model_pk=None, tier_id=None) for a in used]
            with transaction.atomic():
                self._write(status, error, fields, used)

    def _write(
        self, status: str, error: str, fields: dict[str, object], used: list[recording.Attempt]
    ) -> None:
        self.message.finish(status=status, content=self.text, error=error, **fields)
        if not used:
            return
        recording.record(used)
        if self.chain.reservation is not None:
            team = [attempt for attempt in used if not attempt.personal_key]
            quotas.settle(
                self.chain.reservation,
                tokens=sum(a.input_tokens + a.output_tokens for a in team),
                cost=sum((a.cost or Decimal(0) for a in team), Decimal(0)),
            )


class _Tick:
    """A checkpoint is due (see _with_ticks)."""


TICK = _Tick()


@dataclass(frozen=True)
class _Raised:
    """The upstream's stream failed with `error`: raised again where it is read."""

    error: BaseException


_ENDED = object()  # the upstream's stream ended
# Events read ahead of the relay: enough to ride out a slow checkpoint, and bounded, so a
# relay held up (by a database busy for seconds) holds up the upstream's reading rather
# than buffering it without end.
READ_AHEAD = 64


async def _with_ticks(events: AsyncIterator[Event], every: float) -> AsyncIterator[Event | _Tick]:
    """`events`, with TICK every `every` seconds between them, however long one takes.

    One task reads the upstream into a short queue, and a clock puts TICK in the same
    queue, so a model that is silent (before its first token, or thinking) still gets its
    checkpoints: its Stop is noticed and its row stays fresh. Each checkpoint is one short
    query, with no transaction held open between them. Closing this stream cancels the
    reading, which closes the upstream's.
    """
    queue: asyncio.Queue[object] = asyncio.Queue(READ_AHEAD)
    checkpointed = asyncio.Event()
    # Two tasks rather than a timed wait per event: on Python 3.11 asyncio.wait_for makes
    # a task of every wait, and even a bare timer per token costs more than the token.
    helpers = (
        asyncio.create_task(_read_into(queue, events)),
        asyncio.create_task(_clock(queue, every, checkpointed)),
    )
    try:
        while (item := await queue.get()) is not _ENDED:
            if isinstance(item, _Raised):
                raise item.error
            yield item
            if item is TICK:
                checkpointed.set()
    finally:
        for helper in helpers:
            helper.cancel()  # nothing, if it is done
        # The upstream's stream unwinds before we go on, even past a second cancel (a
        # server shutting down): closing it while its reader runs would fail.
        cancelled_again = False
        while not all(helper.done() for helper in helpers):
            try:
                await asyncio.wait(helpers)
            except asyncio.CancelledError:
                cancelled_again = True
        if cancelled_again:
            raise asyncio.CancelledError


async def _clock(queue: asyncio.Queue[object], every: float, checkpointed: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(every)
        await queue.put(TICK)  # behind the events read ahead, if any: they are not saved yet
        # From the checkpoint's end: a slow database gets its pause, not a queue.
        await checkpointed.wait()
        checkpointed.clear()


async def _read_into(queue: asyncio.Queue[object], events: AsyncIterator[Event]) -> None:
    """Every event, then the end or the failure, each handed on unless this reader is
    being closed: then nobody reads the queue, and a put into a full one would wait
    forever."""
    try:
        async for event in events:
            await queue.put(event)
    except BaseException as error:
        if asyncio.current_task().cancelling():
            raise
        # Any failure, a cancel nobody asked for too: the relay must end, not tick on.
        await queue.put(_Raised(error))
        if not isinstance(error, Exception | asyncio.CancelledError):
            raise  # KeyboardInterrupt, SystemExit
    else:
        if not asyncio.current_task().cancelling():
            await queue.put(_ENDED)


async def follow(message: Message) -> AsyncIterator[str]:
    """For a connection that lost the claim (a reconnect, a second tab): the stored text,
    then what the streaming connection checkpoints, until the answer ends."""
    sent = ""  # the text so far, read a part at a time
    formatting = _Formatting()
    deadline = time.monotonic() + FOLLOW_LIMIT_SECONDS
    sent_at = time.monotonic()
    while True:
        unsent, is_open = await trips.database_trip(_poll, message.pk, len(sent))
        if unsent:
            yield sse("delta", escape(unsent))
            sent += unsent
            sent_at = time.monotonic()
        if html := formatting.event(len(sent), lambda text=sent: text):
            yield html
        elif not unsent and time.monotonic() - sent_at >= settings.SSE_KEEPALIVE_SECONDS:
            yield KEEPALIVE
            sent_at = time.monotonic()
        if not is_open or time.monotonic() > deadline:
            finished = await trips.database_trip(
                Message.objects.select_related("session").get, pk=message.pk
            )
            yield sse("done", await render_message(finished, final=True))
            return
        await asyncio.sleep(CHECKPOINT_SECONDS)


def _poll(pk: int, sent: int) -> tuple[str, bool]:
    """A follower's look at the answer: the text past the first `sent` characters, and
    whether it is still open. One found silent past STALE_AFTER is marked interrupted."""
    # Only the text not sent yet: stored text only grows, and a long answer read whole
    # twice a second, by every follower, would cost its size each time.
    current = Message.objects.defer("content").annotate(unsent=Substr("content", sent + 1))
    current = current.get(pk=pk)
    if current.status == Status.STREAMING and timezone.now() - current.updated_at > STALE_AFTER:
        # Conditional on the row being as read, so a live stream's checkpoint wins.
        Message.objects.filter(
            pk=current.pk, status=Status.STREAMING, updated_at=current.updated_at
        ).update(status=Status.ERROR, error=INTERRUPTED, updated_at=timezone.now())
        return _poll(pk, sent)
    return current.unsent, current.is_open


async def render_message(message: Message, *, final: bool = False) -> str:
    """The message partial; `final` renders it finished even if its stream is still open
    elsewhere, so the browser does not reconnect in a loop."""
    context = {"message": message, "final": final}
    return await sync_to_async(render_to_string)("sessions_app/partials/message.html", context)


@dataclass(frozen=True)
class Start:
    """What a claimed answer needs to go upstream, read in the claim's trip."""

    candidate: Candidate  # the model chosen for it
    chain: Chain


def claim(message: Message, *, granted: access.Grant | None = None) -> Start | Exception | None:
    """Claim `message` for a task of this process (Message.claim) and read what relay()
    needs, in one trip to the database: None when another task has it (follow it), else
    what to relay, or why it cannot be answered (relay reports that).

    Access is asked again here, unless Send passes the grant its form got in this same
    trip (`granted`): a stream opened later may find the registry changed since. An
    answer on the team's key reserves its estimate against the person's quotas before it
    goes upstream (here, or at the first fallback on the team's key), so none starts past
    a limit (usage.quotas).
    """
    if not message.claim():
        return None
    try:
        # A savepoint inside Send's transaction: a failure here leaves the turn and the
        # claim to commit, and relay() to report it.
        with transaction.atomic():
            return _start(message, granted)
    except Exception as failure:  # relay() logs and reports every failure, a bug's too
        return failure


def _start(message: Message, granted: access.Grant | None) -> Start:
    owner = message.session.owner
    first = attempts.candidate(message, message.llm_model_id, granted=granted)
    tier = first.tiers[0] if first.tiers else None
    chain = Chain(
        message=message,
        user_id=owner.pk,
        username=owner.get_username(),
        tier_id=tier.pk if tier else None,
        tier_name=tier.name if tier else "",
        reservation=None,
    )
    chain.reserve_for(first)
    return Start(first, chain)
