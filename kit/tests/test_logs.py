"""JSON log lines, and no token in any of them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from sprintboard_kit.logs import RedactTokens, configure_logging, install_redaction


def test_the_filter_blanks_token_values() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '"WebSocket %s" ok', ("/ws?token=abc.def&x=1",), None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == '"WebSocket /ws?token=[redacted]&x=1" ok'


class Tagged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = "req-1"
        return True


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_writes_json_lines_with_extra_fields_and_no_token(
    root_handlers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("info", filters=[Tagged()])
    configure_logging("info", filters=[Tagged()])  # idempotent: still one handler of ours
    logging.getLogger("some.module").info("GET /ws?token=%s", "secret.jwt.value", extra={"status": 101})
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert (entry["level"], entry["name"], entry["status"], entry["request_id"]) == (
        "INFO",
        "some.module",
        101,
        "req-1",
    )
    assert entry["message"] == "GET /ws?token=[redacted]" and "secret" not in line


def test_install_redaction_is_idempotent() -> None:
    install_redaction(["kit.test.logger"])
    install_redaction(["kit.test.logger"])
    assert sum(isinstance(f, RedactTokens) for f in logging.getLogger("kit.test.logger").filters) == 1
