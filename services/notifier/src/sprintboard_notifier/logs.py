"""Log hygiene: a filter that blanks `token=` values, since servers log WebSocket paths with their query."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "sprintboard_notifier")


class RedactTokens(logging.Filter):
    """Rewrites the rendered message; a token must never reach a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg = _TOKEN.sub(r"\1[redacted]", message)
            record.args = None
        return True


def install_redaction() -> None:
    """Idempotent: logger filters only see records logged on that very logger, so each gets one."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
