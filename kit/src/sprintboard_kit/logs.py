"""JSON log lines on stderr for both services, with every `token=` value blanked before it is written.

Servers log WebSocket paths with their query, and a token may ride there: `RedactTokens` rewrites the
rendered message. `configure_logging` puts it on the one root handler; `install_redaction` puts it on
uvicorn's own loggers too, for servers run with uvicorn's logging config (the in-process test stacks)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

_TOKEN = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class RedactTokens(logging.Filter):
    """A token must never reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg = _TOKEN.sub(r"\1[redacted]", message)
            record.args = None
        return True


def configure_logging(level: str = "INFO", filters: Iterable[logging.Filter] = ()) -> None:
    """JSON lines on stderr (`filters` may add fields to each record, as the backlog's request id);
    idempotent: it replaces its own handler only."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_sprintboard", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._sprintboard = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter(LOG_FORMAT, rename_fields={"levelname": "level"}))
    for record_filter in (RedactTokens(), *filters):
        handler.addFilter(record_filter)
    root.addHandler(handler)
    root.setLevel(level.upper())


def install_redaction(names: Iterable[str] = UVICORN_LOGGERS) -> None:
    """Idempotent: logger filters only see records logged on that very logger, so each gets one."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
