"""The docs match the code: the configuration table, the metrics, the events and the AsyncAPI files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sprintboard_contracts.subjects import EventType
from sprintboard_e2e.compose import REPO_ROOT
from sprintboard_e2e.configuration import all_settings, render_default

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
ENV_NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def table_rows(path: Path, heading: str) -> list[list[str]]:
    """The body rows of the first table under `heading`, as stripped cells."""
    text = path.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # past the header and the --- line


CONFIGURATION = table_rows(README, "## Configuration")


def test_every_variable_in_the_table_is_a_setting_with_that_default() -> None:
    settings = all_settings()
    assert CONFIGURATION, "README has a configuration table"
    for variable, services, default, meaning in CONFIGURATION:
        names = ENV_NAME.findall(variable)
        listed = [s.strip() for s in services.split(",")]
        assert names and meaning, variable
        for name in names:
            assert any(name in s.env_names and s.service in listed for s in settings), (
                f"{name} is not a setting of {services}"
            )
        for service in listed:
            fields = [s for s in settings if s.service == service and set(names) & set(s.env_names)]
            assert len(fields) == 1, f"{variable}: {len(fields)} settings of {service}"
            (setting,) = fields
            assert default.strip("`") == render_default(setting.default), f"{variable} on {service}"


def test_every_setting_is_in_the_table() -> None:
    documented = {
        (service.strip(), name)
        for variable, services, _, _ in CONFIGURATION
        for service in services.split(",")
        for name in ENV_NAME.findall(variable)
    }
    missing = [
        f"{s.service}: {s.env_names[0]}"
        for s in all_settings()
        if not any((s.service, name) in documented for name in s.env_names)
    ]
    assert not missing, f"settings missing from the README's configuration table: {missing}"


def metric_names() -> set[str]:
    """Every Prometheus metric the services define, as scraped (counters with `_total`)."""
    from prometheus_client import CollectorRegistry

    from sprintboard_backlog.adapters.relay import RelayMetrics
    from sprintboard_backlog.entrypoints.http.observability import HttpMetrics
    from sprintboard_notifier.metrics import NotifierMetrics
    from sprintboard_notifier.presence import Presence, PresenceCollector, PresenceSettings

    backlog = CollectorRegistry()
    HttpMetrics(backlog)
    RelayMetrics(backlog)
    notifier = NotifierMetrics().registry
    notifier.register(PresenceCollector(Presence(PresenceSettings(), "docs", str)))  # as create_app does
    families = [*backlog.collect(), *notifier.collect()]
    return {
        f"{m.name}_total" if m.type == "counter" else m.name
        for m in families
        if m.name.startswith(("sprintboard_", "notifier_"))
    }


def test_operations_lists_exactly_the_metrics_there_are() -> None:
    section = (DOCS / "operations.md").read_text(encoding="utf-8").split("## Metrics", 1)[1].split("\n## ")[0]
    documented = set(re.findall(r"`((?:sprintboard|notifier)_[a-z_]+)`", section))
    assert metric_names() == documented


def test_events_doc_names_every_event_type_and_the_example() -> None:
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    for kind in EventType:
        assert f"`{kind.value}`" in text
        assert f"contracts/src/sprintboard_contracts/schemas/v1/{kind.value}.json" in text
    assert "examples/task_events_consumer.py" in text
    assert (REPO_ROOT / "examples" / "task_events_consumer.py").is_file()


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md", "docs/events.md", "docs/operations.md"])
def test_links_between_docs_resolve(doc: str) -> None:
    path = REPO_ROOT / doc
    for target in re.findall(r"\]\((?!https?:|#)([^)#]+)", path.read_text(encoding="utf-8")):
        assert (path.parent / target.split(" ")[0]).exists(), f"{doc} links to missing {target}"


def test_the_backlog_serves_the_asyncapi_document_faststream_generates() -> None:
    from sprintboard_backlog.entrypoints.asyncapi import DOCUMENT_DIR
    from sprintboard_backlog.entrypoints.asyncapi.spec import build_specification, render

    for name, content in render(build_specification()).items():
        committed = (DOCUMENT_DIR / name).read_text(encoding="utf-8")
        assert committed == content, (
            f"{name} is stale: run `python -m sprintboard_backlog.entrypoints.asyncapi` and commit"
        )


def test_every_compose_variable_is_documented() -> None:
    from sprintboard_e2e import compose

    used = {
        m["name"]
        for path in (compose.COMPOSE_FILE, compose.OVERRIDE_FILE)
        for m in compose.VARIABLE.finditer(path.read_text(encoding="utf-8"))
    }
    documented = {
        name for row in table_rows(README, "## Running with Docker") for name in ENV_NAME.findall(row[0])
    }
    assert used == documented
