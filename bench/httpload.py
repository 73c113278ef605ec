"""A lean HTTP/1.1 keep-alive client for load: one connection, one request at a time, timed."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import orjson


class HttpError(RuntimeError):
    """The server answered with a status the caller did not expect."""


class HttpConnection:
    """Requests with a bearer token and a JSON body over one persistent connection."""

    def __init__(self, base_url: str, token: str, local_addr: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.token = token
        self.local_addr = local_addr
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        # Wall-clock time the last response's headers arrived: end-to-end latency runs from here, the
        # moment a browser's fetch() resolves, not from when the body has been read and parsed.
        self.headers_at = 0.0

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            local = (self.local_addr, 0) if self.local_addr else None
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, local_addr=local)
        return self._reader, self._writer

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, parsed JSON or None, seconds from first byte written to last byte read)."""
        payload = b"" if body is None else orjson.dumps(body)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Length: {len(payload)}\r\n"
            + ("Content-Type: application/json\r\n" if body is not None else "")
            + "\r\n"
        ).encode()
        reader, writer = await self._connect()
        started = time.perf_counter()
        writer.write(head + payload)
        try:
            status, data, keep = await self._response(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        elapsed = time.perf_counter() - started
        if not keep:
            self.close()
        return status, (orjson.loads(data) if data else None), elapsed

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        raw = await reader.readuntil(b"\r\n\r\n")
        self.headers_at = time.time()
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        keep = headers.get("connection", "").lower() != "close"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            return status, b"".join(chunks), keep
        length = int(headers.get("content-length", "0"))
        return status, (await reader.readexactly(length) if length else b""), keep

    async def expect(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        status, data, _ = await self.request(method, path, body)
        if status not in ok:
            raise HttpError(f"{method} {path} -> {status}: {str(data)[:300]}")
        return data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
