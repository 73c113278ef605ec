"""`python -m sprintboard_notifier`: serve the notifier with uvicorn on uvloop, logging JSON lines."""

from __future__ import annotations

import gc

import uvicorn

from sprintboard_kit.logs import configure_logging
from sprintboard_notifier.app import listener, server_config
from sprintboard_notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.log_level)
    # No logging config of uvicorn's own: its loggers propagate to the JSON handler (tokens redacted).
    config = server_config(settings, loop="uvloop", log_config=None)
    config.load()
    sock = listener(config, settings)
    # Thousands of long-lived socket objects make each young collection walk more: collect less often.
    gc.set_threshold(10_000, 10, 10)
    # What is loaded now (the modules, the app) lives as long as the process: out of every collection.
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
