"""One socket's presence: the sprints it watches and whether it opted out; what the socket protocol calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from sprintboard_notifier.presence.tracker import Presence, Watch
from sprintboard_notifier.presence.view import Viewer

T = TypeVar("T")


class Viewing(Generic[T]):
    """A socket subscribed to a sprint is present on it (and is sent its presence) unless it opted out."""

    __slots__ = ("_presence", "_send", "_sprints", "_tenant_id", "_viewer", "_watches", "enabled")

    def __init__(
        self, presence: Presence[T], tenant_id: str, viewer: Viewer, send: Callable[[T], None]
    ) -> None:
        self._presence = presence
        self._tenant_id = tenant_id
        self._viewer = viewer
        self._send = send
        self._sprints: set[str] = set()
        self._watches: dict[str, Watch[T]] = {}
        self.enabled = True

    async def subscribe(self, sprint_id: str) -> None:
        """Right after `subscribed`: the `presence` frame, then diffs (nothing when opted out)."""
        self._sprints.add(sprint_id)
        if not self.enabled:
            return
        watch = self._watches.get(sprint_id)
        if watch is not None:
            watch.resend()  # subscribed again (a resume on this socket): `presence` again, one watch
            return
        self._watches[sprint_id] = await self._presence.watch(
            self._tenant_id, sprint_id, self._viewer, self._send
        )

    def unsubscribe(self, sprint_id: str) -> None:
        self._sprints.discard(sprint_id)
        watch = self._watches.pop(sprint_id, None)
        if watch is not None:
            watch.close()

    async def enable(self, enabled: bool) -> None:
        """`options {presence}`: off closes every watch (the socket is neither sent presence nor counted);
        on watches the sprints it is subscribed to again, each with a fresh `presence` frame."""
        self.enabled = enabled
        if not enabled:
            self.close()
            return
        for sprint_id in sorted(self._sprints):
            await self.subscribe(sprint_id)

    def close(self) -> None:
        watches, self._watches = self._watches, {}
        for watch in watches.values():
            watch.close()
