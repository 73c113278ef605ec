"""The hub: sockets indexed by tenant and subscription, live fan-out of each event and gap-free resume."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from sprintboard_notifier.closecodes import SLOW_CLIENT
from sprintboard_notifier.hub.delivery import Delivery, SubscriptionKey
from sprintboard_notifier.hub.recent import RecentEvents, replay_frame
from sprintboard_notifier.hub.session import Outlet, Session
from sprintboard_notifier.metrics import NotifierMetrics
from sprintboard_notifier.prepared import Frame
from sprintboard_notifier.source import HistoryGap

log = logging.getLogger(__name__)


class EventSource(Protocol):
    """Where events come from (implemented over JetStream in app wiring): the live interest of the
    instance's sockets, and the stored events beyond the hub's memory, for a resume."""

    async def follow(self, tenant_id: str) -> None:
        """A socket of `tenant_id` opens: returns once the tenant's events come live (the source calls
        `Hub.followed` first when it starts following that tenant); raises when that cannot be now."""
        ...

    def unfollow(self, tenant_id: str) -> None:
        """A socket that `follow` was awaited for is gone."""
        ...

    def replay(
        self, tenant_id: str, keys: frozenset[SubscriptionKey] | None, from_seq: int, to_seq: int
    ) -> AsyncGenerator[Delivery, None]:
        """Every stored event with `from_seq <= seq <= to_seq` that a feed of this tenant with these
        subscriptions (None: tenant-wide) may get, and maybe others, in order; or `HistoryGap` part-way."""
        ...


@dataclass(slots=True)
class _TenantIndex:
    everyone: set[Session] = field(default_factory=set)
    by_key: dict[SubscriptionKey, set[Session]] = field(default_factory=dict)

    def add(self, s: Session) -> None:
        if not s.keys:
            self.everyone.add(s)
        for key in s.keys:
            self.by_key.setdefault(key, set()).add(s)

    def remove(self, s: Session) -> None:
        self.everyone.discard(s)
        for key in s.keys:
            subs = self.by_key.get(key)
            if subs is not None:
                subs.discard(s)
                if not subs:
                    del self.by_key[key]

    def __bool__(self) -> bool:
        return bool(self.everyone or self.by_key)


class Hub:
    """Knows sockets and events, nothing of NATS: the event source is injected.

    With `follow_all` every event of every tenant comes by, in stream order, and one cursor says how far
    the live path is. Otherwise (interest routing) only the tenants the sockets need come by, each in
    stream order from where the source started following it (`followed`): each has its own position, and
    the memory of recent events is complete per tenant from there."""

    def __init__(
        self,
        source: EventSource,
        metrics: NotifierMetrics,
        *,
        hold_frames: int,
        stall_seconds: float,
        history_events: int = 10_000,
        follow_all: bool = True,
    ) -> None:
        self._source = source
        self._metrics = metrics
        self._hold_frames = hold_frames
        self._stall = stall_seconds
        self._tenants: dict[str, _TenantIndex] = {}
        self._sessions: dict[str, Session] = {}
        self.follow_all = follow_all
        self.recent = RecentEvents(history_events, per_tenant=not follow_all)
        self._positions: dict[str, int] = {}  # per followed tenant (interest routing)
        self.epoch = ""
        self.cursor = 0  # the highest stream seq known to the live path
        self.ready = False

    def start(self, epoch: str, cursor: int) -> None:
        """The source is live from `cursor` on, in stream `epoch`."""
        recreated = self.ready and epoch != self.epoch
        if epoch != self.epoch or (self.follow_all and cursor > self.cursor):
            # Another stream, or a follower that starts past what we saw: the memory would have a hole.
            self.recent.reset(cursor)
            self._positions.clear()
        # A restarted consumer on the same stream must not move the cursor back (that would re-send).
        self.cursor = max(self.cursor, cursor) if epoch == self.epoch else cursor
        self.epoch = epoch
        self.ready = True
        if recreated:
            # Every socket's seqs belong to the old stream: each client reloads its snapshot.
            for s in self.sessions():
                self._metrics.resyncs.inc()
                self.send(s, self._resync_frame(s))

    def followed(self, tenant_id: str, cursor: int) -> None:
        """Interest routing: `tenant_id`'s events come live from after `cursor` on."""
        position = self._positions.get(tenant_id)
        if position is not None and cursor <= position:
            return  # its feed restarted where it left off: nothing in between was missed
        self._positions[tenant_id] = cursor
        self.recent.track(tenant_id, cursor)

    def dropped(self, tenant_id: str) -> None:
        """Interest routing: `tenant_id` is no longer followed (no socket of it is left)."""
        self._positions.pop(tenant_id, None)
        self.recent.forget(tenant_id)

    def position(self, tenant_id: str) -> int:
        """How far the live path is for `tenant_id`: every one of its events up to this seq has come by
        (or, not followed, the highest seq known)."""
        if self.follow_all:
            return self.cursor
        return self._positions.get(tenant_id, self.cursor)

    def sessions(self) -> Iterator[Session]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    # -- membership -----------------------------------------------------------------------------------

    async def open(self, tenant_id: str, outlet: Outlet, pending: bool = True) -> Session:
        """A new socket, tenant-wide, whose frames go to `outlet`; while `pending` its events wait for
        `go_live` or `resume`. Returns once its tenant is followed; raises when it cannot be now."""
        await self._source.follow(tenant_id)
        s = Session(uuid.uuid4().hex, tenant_id, outlet, self._hold_frames, self.position(tenant_id), pending)
        self._sessions[s.session_id] = s
        self._tenants.setdefault(tenant_id, _TenantIndex()).add(s)
        return s

    def close(self, s: Session, code: int, reason: str = "") -> None:
        s.close(code, reason)
        if self._sessions.pop(s.session_id, None) is not None:
            self._unindex(s)
            self._source.unfollow(s.tenant_id)

    def subscribe(self, s: Session, key: SubscriptionKey) -> bool:
        if key in s.keys or s.closed:
            return False
        self._unindex(s)
        s.rekey(self.position(s.tenant_id), add=key)
        self._tenants.setdefault(s.tenant_id, _TenantIndex()).add(s)
        return True

    def unsubscribe(self, s: Session, key: SubscriptionKey) -> bool:
        if key not in s.keys or s.closed:
            return False
        self._unindex(s)
        s.rekey(self.position(s.tenant_id), drop=key)
        self._tenants.setdefault(s.tenant_id, _TenantIndex()).add(s)
        return True

    def send(self, s: Session, frame: Frame) -> None:
        """Queue a control frame without waiting; a full buffer closes the socket like any other."""
        if not s.offer(frame):
            self._overflow(s)

    def _unindex(self, s: Session) -> None:
        index = self._tenants.get(s.tenant_id)
        if index is not None:
            index.remove(s)
            if not index:
                del self._tenants[s.tenant_id]

    def _overflow(self, s: Session) -> None:
        if not s.closed:
            self._metrics.slow_closes.inc()
        self.close(s, SLOW_CLIENT, "send buffer full")

    # -- live -----------------------------------------------------------------------------------------

    def advance(self, seq: int) -> None:
        """A stream message that is not an event (invalid) still moves the cursor."""
        self.cursor = max(self.cursor, seq)

    def publish(self, d: Delivery) -> None:
        """Fan one live event out: serialized once, queued without waiting, full buffers closed."""
        tenant_id = d.tenant_id
        if self.follow_all:
            if d.seq <= self.cursor:
                return  # a redelivery after the consumer reset: already fanned out
            self.cursor = d.seq
        else:
            position = self._positions.get(tenant_id)
            if position is None or d.seq <= position:
                return  # not followed (any more), or already fanned out
            self._positions[tenant_id] = d.seq
            if d.seq > self.cursor:
                self.cursor = d.seq
        self.recent.append(d)
        index = self._tenants.get(tenant_id)
        if index is None:
            return
        keyed: set[Session] | None = None
        for key in d.routes():
            subs = index.by_key.get(key) if key is not None else None
            if subs:
                keyed = subs if keyed is None else keyed | subs
        if keyed is None and not index.everyone:
            return
        frame = Frame.event(d, self.epoch, live=True)
        d.kept = frame.text  # a resume from the memory replays the same text
        full: list[Session] = []
        # The hot loop: one call per socket, which mostly hands the shared frame to the socket's writer.
        for group in (index.everyone, keyed) if keyed is not None else (index.everyone,):
            for s in group:
                if not s.deliver(frame, d):
                    full.append(s)
        for s in full:
            self._overflow(s)

    # -- resume ---------------------------------------------------------------------------------------

    async def resume(self, s: Session, key: SubscriptionKey | None, after_seq: int, epoch: str) -> bool:
        """Subscribe and replay (after_seq, cursor-at-join], holding live events meanwhile; False = resync."""
        upto = self.position(s.tenant_id)  # before any await: live events above it are held, not lost
        s.rekey(upto)  # what went out live so far is on record, so the replay skips it
        if key is not None:
            self.subscribe(s, key)
        # Without a key the resume is of the socket's current feed (tenant-wide when it has no filter).
        keys = frozenset({key}) if key is not None else s.key_set()
        s.start_hold()
        s.pending = False
        try:
            if epoch != self.epoch:
                return await self._resync(s)
            s.ledger.claim(after_seq, keys)
            if after_seq < upto:
                await self._replay(s, key, keys, after_seq, upto)
            return True
        except HistoryGap as exc:
            log.info(
                "resume from seq %d cannot be replayed whole (%s); asking the client to resync",
                after_seq,
                exc,
            )
            return await self._resync(s)
        except Exception:
            log.exception("resume failed; asking the client to resync")
            return await self._resync(s)
        finally:
            await self._release(s)

    async def _replay(
        self,
        s: Session,
        key: SubscriptionKey | None,
        keys: frozenset[SubscriptionKey] | None,
        after_seq: int,
        upto: int,
    ) -> None:
        """The store up to the memory's floor (if the gap reaches below it), then the memory; or HistoryGap.

        The memory's part is taken now, before any await, so events it drops meanwhile are still sent.
        """
        floor = self.recent.floor_of(s.tenant_id)
        recent = self.recent.since(s.tenant_id, max(after_seq, floor), upto)
        if after_seq < floor:
            source = self._source.replay(s.tenant_id, keys, after_seq + 1, min(floor, upto))
            async with aclosing(source) as stored:
                async for d in stored:
                    # The source may give more (v1 subjects carry no tenant): this keeps tenants apart.
                    if d.tenant_id != s.tenant_id:
                        continue
                    if not await self._replay_one(s, keys, d, kept=False):
                        return
        # The memory is indexed by tenant: `since` only ever returns this socket's tenant's events.
        for d in recent:
            if not await self._replay_one(s, keys, d, kept=True):
                return
        s.ledger.remember(after_seq, upto, keys)

    async def _replay_one(
        self, s: Session, keys: frozenset[SubscriptionKey] | None, d: Delivery, *, kept: bool
    ) -> bool:
        """Send one replayed event unless filtered out or already sent; False when the socket is gone."""
        if s.closed:
            return False
        if not d.matches(keys) or s.ledger.already_sent(d):
            return True
        frame = replay_frame(d, self.epoch) if kept else Frame.event(d, self.epoch, live=False)
        if not await s.put(frame, self._stall):
            self._overflow(s)
            return False
        self._metrics.replayed.inc()
        return True

    async def _resync(self, s: Session) -> bool:
        self._metrics.resyncs.inc()
        if not await s.put(self._resync_frame(s), self._stall):
            self._overflow(s)
        return False

    def _resync_frame(self, s: Session) -> Frame:
        seq = self.position(s.tenant_id)
        return Frame.control({"type": "resync_required", "seq": seq, "epoch": self.epoch})

    async def go_live(self, s: Session) -> None:
        """End a new socket's pending hold: what was held goes out under the filters it has now."""
        if s.pending:
            s.pending = False
            await self._release(s)

    async def _release(self, s: Session) -> None:
        """Hand over to live: send what was held, then stop holding."""
        while not s.closed:
            item = s.pop_held()
            if item is None:
                return
            frame, d = item
            if not d.matches(s.key_set()) or s.ledger.already_sent(d):
                continue
            if not await s.put(frame, self._stall):
                self._overflow(s)
                return
