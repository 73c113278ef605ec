"""The backlog's publications declared as FastStream publishers, to generate its AsyncAPI files from."""

# FastStream is a workspace (development) dependency, not one of the image's: this module runs at
# development time and writes `asyncapi.json` / `asyncapi.html`, which the service serves as files.
# A test (tests-e2e/tests/test_docs.py) regenerates them and fails on any difference.
from __future__ import annotations

import json
from typing import Any

from faststream.nats import JStream, NatsBroker
from faststream.specification import AsyncAPI, get_asyncapi_html
from faststream.specification.base import Specification

from sprintboard_backlog.entrypoints.asyncapi import HTML_DOCUMENT, JSON_DOCUMENT
from sprintboard_contracts.events import EVENT_MODELS
from sprintboard_contracts.subjects import (
    ALL_V2,
    STREAM_NAME,
    SUBJECT_PREFIX,
    SUBJECT_VERSION_V2,
    V1_STREAM_NAME,
    EventType,
)

# The address in the compose deployment; documentation only, so no credentials ever appear in it.
DOCUMENTED_NATS_URL = "nats://nats:4222"
DESCRIPTION = (
    "Every committed change of a task is published exactly once to the JetStream stream "
    f"`{STREAM_NAME}` (subjects `{ALL_V2}`), relayed from a transactional outbox in commit "
    "order per task. The message id (`Nats-Msg-Id`) is the event's `event_id`. `{tenant}` is the "
    "tenant token of the event's `tenant_id` (`sprintboard_contracts.tenant_token`), `{sprint}` its "
    f"sprint id or `none`. The stream `{V1_STREAM_NAME}` holds the same events, in the same order, on "
    "the v1 subjects `backlog.tasks.v1.{project_id}.<type>`, for consumers written for them. Payloads "
    "are the versioned JSON Schemas of `sprintboard-contracts`; consumers must tolerate added fields."
)
WHAT_HAPPENED = {
    EventType.OWNERSHIP_TAKEN: "A task got an owner (available to owned); carries `owner_user_id`.",
    EventType.OWNERSHIP_RELEASED: "The owner gave a task up (back to available); carries "
    "`previous_owner_user_id`.",
    EventType.STATUS_CHANGED: "Work started, paused or completed; carries `old_status`, `new_status`, "
    "`changed_by_user_id`.",
    EventType.TASK_CREATED: "A new task (available, no owner) with its fields.",
    EventType.TASK_UPDATED: "A task's title, description, acceptance criteria references or estimate "
    "changed; carries the task's new fields.",
}


def build_specification() -> Specification:
    broker = NatsBroker(DOCUMENTED_NATS_URL, description="NATS with JetStream")
    stream = JStream(STREAM_NAME, declare=False)
    for kind, model in EVENT_MODELS.items():
        broker.publisher(
            f"{SUBJECT_PREFIX}.{SUBJECT_VERSION_V2}.{{tenant}}.{{project_id}}.{{sprint}}.{kind.value}",
            stream=stream,
            schema=model,
            title=kind.value,
            description=f"{WHAT_HAPPENED[kind]} Published on the subject of the task's tenant, project "
            "and sprint.",
        )
    return AsyncAPI(
        broker,
        title="Sprintboard backlog",
        version="1.0.0",
        description=DESCRIPTION,
        schema_version="3.0.0",
    ).to_specification()


class SortedSpecification:
    """The document with its keys sorted: FastStream's own order varies from run to run."""

    def __init__(self, spec: Specification) -> None:
        self._spec = spec

    @property
    def title(self) -> str:
        return self._spec.title

    def to_jsonable(self) -> Any:
        return self._spec.to_jsonable()

    def to_json(self) -> str:
        return json.dumps(self.to_jsonable(), sort_keys=True)

    def to_yaml(self) -> str:
        return self._spec.to_yaml()


def render(spec: Specification) -> dict[str, str]:
    """The committed files' contents, by path name."""
    document: Any = spec.to_jsonable()
    return {
        JSON_DOCUMENT.name: json.dumps(document, indent=2, sort_keys=True) + "\n",
        HTML_DOCUMENT.name: get_asyncapi_html(SortedSpecification(spec), try_it_out_path=None) + "\n",
    }


def main() -> None:
    for name, content in render(build_specification()).items():
        (JSON_DOCUMENT.parent / name).write_text(content, encoding="utf-8")
        print(f"wrote {JSON_DOCUMENT.parent / name}")
