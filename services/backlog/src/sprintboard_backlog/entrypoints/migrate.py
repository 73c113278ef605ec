"""`python -m sprintboard_backlog.entrypoints.migrate [--seed-demo]`: the one-shot schema migration job."""

from __future__ import annotations

import argparse
import asyncio
import logging

from sprintboard_backlog.adapters.migrations import upgrade_sync
from sprintboard_backlog.settings import BacklogSettings
from sprintboard_kit.logs import configure_logging

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Migrate the backlog database to the latest schema.")
    parser.add_argument(
        "--seed-demo", action="store_true", help="then create the demo tenant (development only; idempotent)"
    )
    args = parser.parse_args(argv)
    settings = BacklogSettings()
    configure_logging(settings.log_level)
    # Concurrent runs are safe: the migrations take an advisory lock, and applied ones are skipped.
    upgrade_sync(settings.database_url)
    log.info("database migrated")
    if args.seed_demo:
        from sprintboard_backlog.entrypoints.seed import seed_demo

        seed = asyncio.run(seed_demo(settings.database_url, issuer=settings.jwt_issuer))
        log.info("demo tenant %s", "created" if seed.created else "already there")


if __name__ == "__main__":
    main()
