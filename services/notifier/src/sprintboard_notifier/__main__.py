"""`python -m sprintboard_notifier`: serve the notifier with uvicorn on uvloop."""

from __future__ import annotations

import gc
import logging

import uvicorn

from sprintboard_notifier.app import server_config
from sprintboard_notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # Thousands of long-lived socket objects make each young collection walk more: collect less often.
    gc.set_threshold(10_000, 10, 10)
    uvicorn.Server(server_config(settings, loop="uvloop")).run()


if __name__ == "__main__":
    main()
