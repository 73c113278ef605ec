"""The presence frames' JSON text (docs/events.md, "Presence frames"): built once per sprint, sent to many."""

from __future__ import annotations

import orjson

from sprintboard_notifier.presence.view import Diff, Users


def presence_text(sprint_id: str, users: Users) -> str:
    return orjson.dumps({"type": "presence", "sprint_id": sprint_id, "users": _listed(users)}).decode()


def diff_text(sprint_id: str, diff: Diff) -> str:
    return orjson.dumps(
        {
            "type": "presence_diff",
            "sprint_id": sprint_id,
            "joins": _listed(diff.joins),
            "leaves": _listed(diff.leaves),
        }
    ).decode()


def _listed(users: Users) -> list[dict[str, str]]:
    return [{"user_id": u, "name": n} for u, n in sorted(users.items(), key=lambda item: (item[1], item[0]))]
