"""First events of a reference-client socket (`?token=`, never subscribes): HTTP take → frame, per take.

A scenario of `python -m bench` (`first_event`), or on its own with a stack of its own:

    uv run --frozen --no-sync python -m bench.first_event [--takes 30] [--fresh 20]

(1) one socket and `takes` takes one by one, (2) `fresh` new sockets with one take each. The latency of a
new socket's first event against a live socket's, in ms: from the arrival of the take's response headers
to the frame's arrival (both `time.time()` in this process; below zero is counted, not dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.board import API, create_board
from bench.httpload import HttpConnection
from bench.stats import summary
from bench.targets import bench_token


async def _welcomed(url: str) -> ClientConnection:
    ws = await connect(url)
    while orjson.loads(await ws.recv()).get("type") != "welcome":
        pass
    return ws


async def _take(http: HttpConnection, ws: ClientConnection, task_id: str) -> float:
    """ms from the HTTP response's headers to the socket's frame for that task."""
    status, _, _ = await http.request("PUT", f"{API}/tasks/{task_id}/ownership")
    answered = http.headers_at
    assert status == 200, status
    while True:
        frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        arrived = time.time()
        events = frame["events"] if frame.get("type") == "batch" else [frame]
        if any(e.get("task_id") == task_id for e in events):
            return (arrived - answered) * 1000


async def measure(backlog_url: str, notifier_url: str, secret: str, takes: int, fresh: int) -> dict[str, Any]:
    token = bench_token(secret)
    board = await create_board(backlog_url, token, takes + fresh)
    ws_url = notifier_url.replace("http://", "ws://") + f"/api/v1/ws/tasks?token={token}"
    http = HttpConnection(backlog_url, token)
    try:
        ws = await _welcomed(ws_url)
        one_socket = [await _take(http, ws, t) for t in board.task_ids[:takes]]
        await ws.close()
        firsts = []
        for t in board.task_ids[takes : takes + fresh]:
            ws = await _welcomed(ws_url)
            firsts.append(await _take(http, ws, t))
            await ws.close()
    finally:
        http.close()
    return {
        "takes": takes,
        "fresh": fresh,
        "one_socket_first_ms": round(one_socket[0], 2),
        "one_socket_rest": summary(one_socket[1:]),
        "one_socket_all": summary(one_socket),
        "fresh_sockets_first": summary(firsts),
        "negative_latencies": sum(1 for v in one_socket + firsts if v < 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--takes", type=int, default=30)
    parser.add_argument("--fresh", type=int, default=20)
    args = parser.parse_args()
    from sprintboard_devstack.stack import running_stack

    env = {"BACKLOG_ACCESS_LOG": "false", "BACKLOG_LOG_LEVEL": "WARNING", "NOTIFIER_LOG_LEVEL": "warning"}
    with running_stack(notifiers=1, extra_env=env, relay_process=True, durable_database=True) as stack:
        assert stack.backlog is not None
        result = asyncio.run(
            measure(stack.backlog.url, stack.notifiers[0].url, stack.jwt_secret, args.takes, args.fresh)
        )
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
