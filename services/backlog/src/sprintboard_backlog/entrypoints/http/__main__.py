"""`python -m sprintboard_backlog.entrypoints.http`: serve the API with uvicorn, as configured."""

from __future__ import annotations

from typing import Any

import uvicorn

from sprintboard_backlog.entrypoints.http.app import create_app
from sprintboard_backlog.settings import BacklogSettings


def main() -> None:
    settings = BacklogSettings()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,  # the app logs each request itself, with its request id
        "log_config": None,
        "proxy_headers": False,
    }
    if settings.workers > 1:
        # Each worker process builds its own app (and engine) from the environment.
        uvicorn.run(f"{create_app.__module__}:create_app", factory=True, workers=settings.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)


if __name__ == "__main__":
    main()
