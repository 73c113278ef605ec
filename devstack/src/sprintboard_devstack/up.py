"""`make up`: PostgreSQL, NATS, the backlog and the notifier on embedded defaults; Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal

from sprintboard_devstack.stack import Stack


def main() -> None:
    """Every setting comes from the environment when set; only what is unset is invented."""
    stack = Stack(
        host=os.environ.get("SPRINTBOARD_HOST", "127.0.0.1"),
        database_url=os.environ.get("DATABASE_URL") or None,
        nats_url=os.environ.get("NATS_URL") or None,
        relay_process=True,  # the relay alone, woken by the API's NOTIFY (docs/operations.md)
    )
    stack.jwt_secret = os.environ.get("SPRINTBOARD_JWT_SECRET") or stack.jwt_secret
    try:
        print("Starting PostgreSQL and NATS (embedded unless DATABASE_URL / NATS_URL are set)...", flush=True)
        stack.start_servers()
        stack.migrate_and_seed()
        stack.add_notifier(int(os.environ.get("NOTIFIER_PORT", "8001")))
        backlog = stack.add_backlog(int(os.environ.get("BACKLOG_PORT", "8000")))
        print_banner(stack, backlog.url)
        # Block only now: the services were started with the default mask and stop on their own signals.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stack.stop()
        print("Sprintboard stopped.", flush=True)


def print_banner(stack: Stack, backlog_url: str) -> None:
    notifier = stack.notifiers[0]
    print("\nSprintboard is up.")
    print(f"  board       {backlog_url}/")
    print(f"  API docs    {backlog_url}/docs")
    print(f"  notifier    ws://{notifier.host}:{notifier.port}/api/v1/ws/tasks")
    if stack.relay is not None:
        print(f"  relay       {stack.relay.url}/metrics")
    print(f"  postgres    {stack.database_url}")
    print(f"  nats        {stack.nats_url}")
    print(f"  logs        {stack.logs}")
    assert stack.seed is not None
    for user, _ in stack.seed.users:
        print(f"  dev token for {user.name} ({user.sub}): {stack.token(user.sub)}")
    print("Press Ctrl-C to stop.", flush=True)


if __name__ == "__main__":
    main()
