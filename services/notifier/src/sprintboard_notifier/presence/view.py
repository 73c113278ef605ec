"""One sprint's presence as one instance sees it: its own viewers (with their leave grace), the other
instances' entries (shown while their instance is live), and the diff since the view last sent. Pure: no I/O,
no clock."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

Users = dict[str, str]  # user_id -> display name


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who a socket belongs to, as presence shows them."""

    user_id: str
    name: str


@dataclass(slots=True)
class _Local:
    name: str
    sockets: int = 0
    leave_at: float | None = None  # set while no socket is open: the user leaves then


@dataclass(frozen=True, slots=True)
class Diff:
    joins: Users  # new users, and users whose name changed (a join is an upsert by user_id)
    leaves: Users


@dataclass(slots=True)
class SprintView:
    """Per user, not per socket: a user is present while any live instance lists them. `live` is the set of
    live instances, shared by every view of the instance and kept by its owner: an entry of an instance that
    is not in it is kept (it may come back) but not shown."""

    local: dict[str, _Local] = field(default_factory=dict)
    remote: dict[str, Users] = field(default_factory=dict)
    sent: Users = field(default_factory=dict)
    own_key: str = ""  # this instance's key among the entries (its name tie-break)
    live: Set[str] = field(default_factory=frozenset)

    # -- this instance's viewers ----------------------------------------------------------------------

    def join(self, viewer: Viewer) -> bool:
        """A socket of `viewer` opened; True when this instance's entry changed."""
        user = self.local.get(viewer.user_id)
        if user is None:
            self.local[viewer.user_id] = _Local(viewer.name, 1)
            return True
        user.sockets += 1
        user.leave_at = None
        if user.name != viewer.name:
            user.name = viewer.name
            return True
        return False

    def part(self, user_id: str, leave_at: float) -> None:
        """A socket of `user_id` closed; after its last one the user stays until `leave_at` (a reload
        within the grace is no leave and join)."""
        user = self.local.get(user_id)
        if user is None:
            return
        user.sockets -= 1
        if user.sockets <= 0:
            user.sockets = 0
            user.leave_at = leave_at

    def own(self) -> Users:
        """This instance's entry: users with a socket open here, or within their grace."""
        return {user_id: user.name for user_id, user in self.local.items()}

    @property
    def sockets(self) -> int:
        return sum(user.sockets for user in self.local.values())

    # -- the other instances --------------------------------------------------------------------------

    def put_remote(self, instance: str, users: Users) -> None:
        if users:
            self.remote[instance] = users
        else:
            self.remote.pop(instance, None)

    def drop_remote(self, instance: str) -> None:
        self.remote.pop(instance, None)

    # -- time -----------------------------------------------------------------------------------------

    def expire(self, now: float) -> bool:
        """Drop users past their grace; True when this instance's entry changed."""
        gone = [u for u, user in self.local.items() if user.leave_at is not None and user.leave_at <= now]
        for user_id in gone:
            del self.local[user_id]
        return bool(gone)

    # -- what the sockets see -------------------------------------------------------------------------

    def view(self) -> Users:
        """Everyone listed anywhere; a user listed under two names takes the one of the smallest
        instance key (this instance's own key is `own_key`), so every instance picks the same."""
        merged: Users = {}
        for _, users in sorted(self._entries().items()):
            for user_id, name in users.items():
                merged.setdefault(user_id, name)
        return merged

    def _entries(self) -> dict[str, Users]:
        entries = {instance: users for instance, users in self.remote.items() if instance in self.live}
        own = self.own()
        if own:
            entries[self.own_key] = own
        return entries

    def settle(self) -> Users:
        """Take the current view as sent (a first snapshot); returns it."""
        self.sent = self.view()
        return dict(self.sent)

    def diff(self) -> Diff | None:
        """The change since the view last sent, which becomes the view sent; None when nothing changed."""
        now = self.view()
        before = self.sent
        joins = {u: n for u, n in now.items() if before.get(u) != n}
        leaves = {u: n for u, n in before.items() if u not in now}
        if not joins and not leaves:
            return None
        self.sent = now
        return Diff(joins, leaves)

    @property
    def idle(self) -> bool:
        """No viewer here, none within the grace: nothing to publish or to follow."""
        return not self.local
