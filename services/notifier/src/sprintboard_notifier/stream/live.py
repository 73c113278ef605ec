"""The live path of interest routing: one core NATS subscription per followed tenant, gaps filled from
the stream (docs/architecture.md, "Interest routing").

The live stream (`BACKLOG_TASKS_LIVE`, `sprintboard_kit.stream.live_config`) sources `BACKLOG_TASKS` onto
one subject per tenant, keeps the last message of each, and republishes each message it stores on
`backlog.live.<tenant token>` with its own sequence, the sequence of the tenant's message before it
(`Nats-Last-Sequence`) and, from the source, its `BACKLOG_TASKS` sequence (`Nats-Stream-Source`). So one
tenant's live messages form a chain: a message whose previous sequence is not the one taken last shows
that something was lost in between, and the tenant's events from after the last one handed on are read
from `BACKLOG_TASKS` (a short-lived consumer filtered to the tenant) before the message goes on. Events
go on in `BACKLOG_TASKS` order, each once: one at or below the tenant's cursor has been handed on.

A loss with no later message to show it is found by looking at the tenant's last stored event: after a
NATS reconnect, a slow-consumer drop, a recreated live stream, a second after a tenant is first followed
(a cluster propagates a new subscription to the other nodes a moment later), and every `check_seconds`
for each tenant that took no live message since its previous look (an event past the cursor at two looks
in a row is read from the stream). A tenant that took one needs no periodic look: a loss before that
message showed in its chain, and one after it is looked for once the tenant is quiet. So under load the
periodic looks cost next to nothing, and they go to the quiet tenants, where a lost last event would wait.

NATS pays for a core subscription only where an event matches it, and for the live stream one
consumer's worth (bench `livepath`), instead of one filtered consumer per tenant per instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Unpack

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import SlowConsumerError
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from nats.js.errors import NotFoundError

from sprintboard_contracts.subjects import (
    LIVE_STREAM_NAME,
    filter_v2_for_tenant,
    live_last_subject,
    live_subject,
)
from sprintboard_kit.stream import (
    ensure_live_stream,
    ensure_stream,
    require_server_version,
    stream_epoch,
)
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.source import HistoryGap
from sprintboard_notifier.stream.base import EventCallback, FollowerBase, Shared, consume_exception
from sprintboard_notifier.stream.history import StreamHistory
from sprintboard_notifier.stream.subscriber import STREAM

log = logging.getLogger(__name__)

SEQUENCE = "Nats-Sequence"
LAST_SEQUENCE = "Nats-Last-Sequence"
SOURCE = "Nats-Stream-Source"
UNKNOWN = -1  # where the tenant's chain stands is not known: its next live message is checked
CHECK_BATCH = 32  # tenants looked at at once in a check
NOT_LIVE = (KeyError, ValueError, IndexError)  # reading the seqs of a message that is not a live one


def stored_seq(headers: Mapping[str, str]) -> int:
    """The `BACKLOG_TASKS` seq of a live message, from `Nats-Stream-Source`: `BACKLOG_TASKS <seq>
    <transform source> <transform destination> <subject> <hash>` (NATS 2.15; older servers end earlier).
    One of `NOT_LIVE` when it is not there."""
    return int(headers[SOURCE].split(" ", 2)[1])


@dataclass(eq=False)
class Interest:
    """One followed tenant: its live subscription and how far its events have been handed on."""

    tenant_id: str
    users: int = 0  # local sockets that need it
    idle_since: float | None = None  # when `users` last fell to 0 (dropped after the linger)
    ready: asyncio.Future[None] | None = None  # done once its recent events are read and it is live
    sub: Subscription | None = None
    cursor: int = 0  # the BACKLOG_TASKS seq up to which every event of the tenant has been handed on
    live_last: int = UNKNOWN  # the live seq of the last live message taken
    # While the tenant is read from the stream, its live messages wait here (None: not being read).
    held: list[Msg] | None = None
    suspect: int = 0  # the tenant's last stored seq at the previous check, when past the cursor
    heard: bool = False  # a live message was taken since the tenant's previous periodic look
    generation: int = 0  # the current subscription's number: messages to an earlier one are ignored
    dropped: bool = False
    announced: bool = False  # the hub was told where the tenant is followed from (`on_follow`)


class LiveFollower(FollowerBase):
    """Owns the NATS connection of the live path of interest routing, and a subscription per followed
    tenant: subscribed when the first local socket needs the tenant, dropped `linger_seconds` after the
    last left. At most `max_reads` stream reads run at once (warm-ups and repairs), whatever the number of
    sockets arriving."""

    follow_all = False
    wide = False  # never: a subscription per tenant costs NATS little, so there is no every-tenant mode

    def __init__(
        self,
        nats_url: str | list[str],
        on_event: EventCallback,
        metrics: NotifierMetrics,
        *,
        max_reads: int = 16,
        follow_timeout: float = 10.0,
        check_seconds: float = 5.0,
        settle_seconds: float = 1.0,
        **shared: Unpack[Shared],
    ) -> None:
        super().__init__(nats_url, on_event, metrics, **shared)
        self._timeout = follow_timeout
        self._check_seconds = check_seconds
        self._settle = settle_seconds
        self._history = StreamHistory(
            self.jetstream,
            lambda: self.epoch,
            readers=max_reads,
            read_timeout=min(5.0, follow_timeout),
            wait_timeout=follow_timeout,
        )
        self._interests: dict[str, Interest] = {}
        self._checker: asyncio.Task[None] | None = None
        self._live_epoch = ""
        self.created = 0  # live subscriptions made, all tenants (the consumer follower counts consumers)
        self.repairs = 0  # reads from the stream after a gap or a check
        self.checks = 0  # looks at a tenant's last stored event
        self.skipped = 0  # periodic looks not needed: the tenant took a live message since its previous one

    @property
    def running(self) -> bool:
        return self._js is not None and self._nc is not None and self._nc.is_connected

    @property
    def tenants(self) -> int:
        return len(self._interests)

    async def run(self, watch_seconds: float) -> None:
        """Start (retrying while NATS is away), then watch the streams: a recreated BACKLOG_TASKS is
        followed from its end, a recreated live stream makes every tenant's next live message checked."""
        await self._start_retrying()
        while True:
            await asyncio.sleep(watch_seconds)
            await self._watch_streams()

    async def _watch_streams(self) -> bool:
        try:
            js = self.jetstream()
            info = await js.stream_info(STREAM)
            # The live stream first: a BACKLOG_TASKS made again is sourced from right after `info`'s last
            # seq, where every tenant's cursor is set.
            live = await ensure_live_stream(js, info)
            if stream_epoch(info) != self.epoch:
                self._recreated(info)
        except Exception as exc:
            log.debug("streams not looked at (%s)", exc)
            return False
        if stream_epoch(live) != self._live_epoch:
            log.warning("the live stream %s is new: every followed tenant is checked", LIVE_STREAM_NAME)
            self._live_epoch = stream_epoch(live)
            for interest in self._interests.values():
                interest.live_last = UNKNOWN
            self._spawn(self._check_all(now=True))
        return True

    def _recreated(self, info: StreamInfo) -> None:
        """Another BACKLOG_TASKS under the name: every tenant is followed from its end (the hub tells the
        sockets); a read under way of the old stream ends with it."""
        log.warning("stream %s was recreated (epoch %s)", STREAM, stream_epoch(info))
        self._announce(info)
        last = info.state.last_seq
        for interest in self._interests.values():
            interest.cursor = last
            interest.live_last = UNKNOWN
            # What the old live stream republished, waiting here or still on its way, names seqs of the old
            # BACKLOG_TASKS: from now on the tenant's old subscription is not heard, and a new one is made.
            if interest.held is not None:
                interest.held.clear()
            interest.generation += 1
            if interest.sub is not None:
                self._spawn(self._resubscribe(interest))
            self._announce_follow(interest, last)

    async def _resubscribe(self, interest: Interest) -> None:
        old, interest.sub = interest.sub, None
        nc = self._nc
        if nc is not None and not interest.dropped:
            sub = await self._listen(nc, interest)
            if interest.dropped:  # dropped meanwhile: `_drop` found no subscription to let go
                await _unsubscribe(sub)
            else:
                interest.sub = sub
        if old is not None:
            await _unsubscribe(old)

    async def start(self) -> None:
        """Connect, make sure both streams exist."""
        self._nc = await nats.connect(
            self._url,
            name=self._name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=self._error,
            reconnected_cb=self._reconnected,
        )
        require_server_version(self._nc)
        js = self._nc.jetstream()
        info = await ensure_stream(js, self._stream_settings)
        live = await ensure_live_stream(js, info)
        self._js = js
        self._live_epoch = stream_epoch(live)
        self._announce(info)
        self._checker = asyncio.create_task(self._check_loop())

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            self._checker = None
        self._cancel_tasks()
        for interest in self._interests.values():
            interest.dropped = True
        self._interests.clear()
        nc, self._nc, self._js = self._nc, None, None
        self.epoch = ""
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    # -- NATS's signals of a loss --------------------------------------------------------------------------

    async def _error(self, exc: Exception) -> None:
        if isinstance(exc, SlowConsumerError):
            # nats-py dropped a message of this subscription: its tenant is looked at now.
            for interest in self._interests.values():
                if interest.sub is not None and interest.sub is exc.sub:
                    self._spawn(self._check(interest, now=True))
            return
        log.warning("NATS: %s: %s", type(exc).__name__, exc)

    async def _reconnected(self) -> None:
        # What was published while the connection was down never came: every tenant is looked at, once
        # the streams answer (a restarted server needs a moment, and its live stream may be gone).
        self._spawn(self._resync())

    async def _resync(self) -> None:
        delay = 0.25
        while self._nc is not None and not await self._watch_streams():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        await self._check_all(now=True)

    # -- interest ------------------------------------------------------------------------------------------

    async def follow(self, tenant_id: str) -> None:
        """One more local socket needs `tenant_id`: returns once its recent events are read and it is
        live (`on_follow` has told where from); raises when that cannot be now (NATS away, too slow)."""
        interest = self._interests.get(tenant_id)
        if interest is None:
            interest = self._interests[tenant_id] = Interest(tenant_id, users=1)
            interest.ready = asyncio.get_running_loop().create_future()
            interest.ready.add_done_callback(consume_exception)
            self._spawn(self._begin(interest))
        else:
            interest.users += 1
            interest.idle_since = None
        await self._until_ready(tenant_id, interest, self._timeout, self._interests.get)

    def unfollow(self, tenant_id: str) -> None:
        """A local socket of `tenant_id` is gone; after the last one the tenant lingers, then is dropped."""
        interest = self._interests.get(tenant_id)
        if interest is not None:
            self._left(interest, self._drop_idle)

    def _drop_idle(self, interest: Interest) -> None:
        if self._idle(interest):
            self._drop(interest)

    def _drop(self, interest: Interest) -> None:
        tenant = interest.tenant_id
        if self._interests.get(tenant) is interest:
            del self._interests[tenant]
        interest.dropped = True
        if interest.announced and self._on_drop is not None:
            self._on_drop(tenant)
        sub, interest.sub = interest.sub, None
        if sub is not None:
            self._spawn(_unsubscribe(sub))

    async def _begin(self, interest: Interest) -> None:
        ready = interest.ready
        assert ready is not None
        try:
            async with asyncio.timeout(self._timeout):
                await self._subscribe(interest)
        except BaseException as exc:
            self._drop(interest)
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("follower stopped"))
            if not isinstance(exc, Exception):
                raise
            return
        ready.set_result(None)
        # In a cluster the subscription reaches the live stream's node a moment later: look once it has.
        asyncio.get_running_loop().call_later(self._settle, self._check_soon, interest)

    async def _subscribe(self, interest: Interest) -> None:
        """Subscribe first, then read the tenant's events of the stream's last `warm_events` messages (they
        fill the hub's memory, so resumes onto this instance need no stream read): what is published
        meanwhile waits in `held`, and nothing falls between the read and the live messages."""
        nc, js = self._nc, self.jetstream()
        assert nc is not None
        tenant = interest.tenant_id
        interest.held = []
        interest.sub = await self._listen(nc, interest)
        await nc.flush()  # the server has the subscription before the stream is looked at
        state = (await js.stream_info(STREAM)).state
        start = self._warm_start(state.first_seq, state.last_seq, await self._last_v1_seq(js))
        interest.cursor = start - 1
        self._announce_follow(interest, start - 1)
        epoch = self.epoch
        interest.live_last = await self._live_position(js, tenant, state.last_seq)
        await self._read(interest, state.last_seq)
        if self.epoch != epoch:  # BACKLOG_TASKS was made again meanwhile (`_recreated`)
            interest.live_last = UNKNOWN
        self._release(interest)
        log.debug("following %s live from seq %d", tenant, interest.cursor)

    async def _listen(self, nc: Client, interest: Interest) -> Subscription:
        """The tenant's live subscription, its messages numbered with the tenant's current generation."""
        self.created += 1
        return await nc.subscribe(
            live_subject(interest.tenant_id), cb=functools.partial(self._live, interest, interest.generation)
        )

    async def _live_position(self, js: JetStreamContext, tenant_id: str, last: int) -> int:
        """The live seq of the tenant's last live message, when it is at or below BACKLOG_TASKS seq
        `last` (read up to by the warm-up); 0 when the live stream has none of it (its next says 0)."""
        try:
            msg = await js.get_last_msg(LIVE_STREAM_NAME, live_last_subject(tenant_id))
        except NotFoundError:
            return 0
        except Exception:
            return UNKNOWN
        try:
            seq = stored_seq(msg.headers or {})
        except NOT_LIVE:
            return UNKNOWN
        return msg.seq if msg.seq is not None and seq <= last else UNKNOWN

    # -- the live messages ---------------------------------------------------------------------------------

    async def _live(self, interest: Interest, generation: int, msg: Msg) -> None:
        # nats-py's own callback, no framework in between (docs/architecture.md, "Ingest").
        if interest.dropped or generation != interest.generation:
            return
        if interest.held is not None:
            interest.held.append(msg)
            return
        self._take(interest, msg)

    def _take(self, interest: Interest, msg: Msg) -> None:
        headers = msg.headers or {}
        try:
            seq, last = int(headers[SEQUENCE]), int(headers[LAST_SEQUENCE])
            stored = stored_seq(headers)
        except NOT_LIVE:
            log.warning("a message on %s is not from the live stream: ignored", msg.subject)
            return
        if stored <= interest.cursor:
            interest.live_last = seq  # handed on already (read from the stream)
            return
        if last != interest.live_last:
            # Something of the tenant came before it that was not taken: read it from the stream first.
            interest.held = [msg]
            why = f"live seq {seq} follows {last}, not {interest.live_last}"
            self._spawn(self._repair(interest, stored - 1, why, accept=last))
            return
        interest.live_last = seq
        interest.cursor = stored
        interest.heard = True
        data = msg.data
        event = self._decode(stored, msg.subject, data)  # the subject only names it in a log line
        if event is not None:
            self._hand_on(stored, msg.subject, data, event)

    def _release(self, interest: Interest) -> None:
        """The tenant is read up to its cursor: the live messages that waited go on, in order."""
        held, interest.held = interest.held or [], None
        for i, msg in enumerate(held):
            if interest.dropped:
                return
            self._take(interest, msg)
            if interest.held is not None:  # another gap: the rest waits behind its repair
                interest.held.extend(held[i + 1 :])
                return

    async def _repair(self, interest: Interest, upto: int, why: str, *, accept: int | None = None) -> None:
        """Hand on the tenant's stored events up to BACKLOG_TASKS seq `upto`, then what waited; `accept`:
        the chain goes on from this live seq (the live message that showed the gap, first in `held`)."""
        self.repairs += 1
        log.info("%s: reading %s from the stream after seq %d", why, interest.tenant_id, interest.cursor)
        epoch = self.epoch
        await self._read(interest, upto)
        if accept is not None and self.epoch == epoch:  # not a chain of the old stream's
            interest.live_last = accept
        self._release(interest)

    async def _read(self, interest: Interest, upto: int) -> None:
        """Hand on the tenant's stored events after its cursor up to `upto`; retried while NATS cannot
        answer. Events the stream no longer keeps are passed over (logged); a recreated stream ends it."""
        epoch = self.epoch
        filters = [filter_v2_for_tenant(interest.tenant_id)]
        while not interest.dropped and interest.cursor < upto and self.epoch == epoch:
            try:
                async with contextlib.aclosing(
                    self._history.replay(filters, interest.cursor + 1, upto)
                ) as stored:
                    async for m in stored:
                        if m.seq > interest.cursor and self.epoch == epoch:
                            interest.cursor = m.seq
                            self._metrics.events_in.inc()
                            self._hand_on(m.seq, m.subject, m.data, m.event)
                interest.cursor = max(interest.cursor, upto)
            except HistoryGap as exc:
                if interest.dropped or self.epoch != epoch:
                    return  # the stream was recreated: `_recreated` moved the cursor to its end
                await self._passed_over(interest, upto, exc)

    async def _passed_over(self, interest: Interest, upto: int, exc: HistoryGap) -> None:
        try:
            first = (await self.jetstream().stream_info(STREAM)).state.first_seq
        except Exception:
            first = 0
        if first > interest.cursor + 1:
            log.warning(
                "events %d-%d of %s are no longer stored: passed over",
                interest.cursor + 1,
                min(first - 1, upto),
                interest.tenant_id,
            )
            interest.cursor = min(first - 1, upto)
            return
        log.warning("cannot read %s from the stream yet (%s); retrying", interest.tenant_id, exc)
        await asyncio.sleep(0.5)

    # -- looking at the last stored event ------------------------------------------------------------------

    async def _check_loop(self) -> None:
        """Each followed tenant once every `check_seconds`, one at a time and spread over the interval (a
        burst of hundreds of looks at once would delay the live path every interval), unless it took a
        live message since its previous turn."""
        while True:
            interests = list(self._interests.values())
            if not interests:
                await asyncio.sleep(self._check_seconds)
                continue
            pause = self._check_seconds / len(interests)
            for interest in interests:
                await asyncio.sleep(pause)
                if interest.heard:
                    interest.heard = False
                    self.skipped += 1
                else:
                    await self._check(interest, now=False)

    async def _check_all(self, *, now: bool) -> None:
        interests = list(self._interests.values())
        for at in range(0, len(interests), CHECK_BATCH):
            await asyncio.gather(*(self._check(i, now=now) for i in interests[at : at + CHECK_BATCH]))

    def _check_soon(self, interest: Interest) -> None:
        if not interest.dropped:
            self._spawn(self._check(interest, now=True))

    async def _check(self, interest: Interest, *, now: bool) -> None:
        """Whether the tenant's last stored event was handed on: when not, it is read from the stream
        (`now`), or only when it still was not at the previous check (an event on its way live is not
        a loss)."""
        js = self._js
        if js is None or interest.dropped or interest.held is not None:
            return  # being read from the stream already
        self.checks += 1
        try:
            last = (await js.get_last_msg(STREAM, filter_v2_for_tenant(interest.tenant_id), direct=True)).seq
        except Exception:
            return  # none stored, or NATS away (a reconnect checks again)
        if last is None or interest.dropped or interest.held is not None:
            return
        if last <= interest.cursor:
            interest.suspect = 0
            return
        if now or (interest.suspect and interest.cursor < interest.suspect):
            interest.suspect = 0
            interest.held = []
            await self._repair(interest, last, f"seq {last} is stored but not come by live")
        else:
            interest.suspect = last


async def _unsubscribe(sub: Subscription) -> None:
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
