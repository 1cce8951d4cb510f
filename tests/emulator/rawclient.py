"""A raw gateway test client: aiohttp's ws client plus the zlib-stream suffix rule (and
zstd-stream: one ``zstandard`` decompressobj per socket, one payload per message).

Written here on purpose instead of using tether's gateway client, so that the emulator is
tested against an independent reading of the spec.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import zstandard

from tether.emulator import DEFAULT_TOKEN

__all__ = ["STEP", "Closed", "Connect", "RawGateway"]

ZLIB_SUFFIX = b"\x00\x00\xff\xff"
#: Seconds any single receive may take before the test fails.
STEP = 3.0


class Closed(Exception):
    """The server closed the socket (``code``) or the TCP connection dropped (None)."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"closed with {code}")
        self.code = code
        self.reason = reason


class RawGateway:
    """A minimal gateway client over one aiohttp WebSocket.

    Attributes:
        messages: (type, size) of every WebSocket message received, for framing tests.
        payloads: every decoded payload received, in order.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compress = compress
        self.inflater = zlib.decompressobj() if compress == "zlib-stream" else None
        self.zstd = (
            zstandard.ZstdDecompressor().decompressobj() if compress == "zstd-stream" else None
        )
        self._buffer = bytearray()
        self.messages: list[tuple[str, int]] = []
        self.payloads: list[dict[str, Any]] = []

    async def recv(self, timeout: float = STEP) -> dict[str, Any]:
        """The next whole payload.

        Raises:
            Closed: the socket closed first.
        """
        while True:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(("text", len(msg.data)))
                payload = json.loads(msg.data)
                break
            if msg.type is aiohttp.WSMsgType.BINARY:
                self.messages.append(("binary", len(msg.data)))
                if self.zstd is not None:
                    payload = json.loads(self.zstd.decompress(msg.data))
                    break
                if self.inflater is None:
                    payload = json.loads(zlib.decompress(msg.data))
                    break
                self._buffer += msg.data
                if not self._buffer.endswith(ZLIB_SUFFIX):
                    continue
                data = self.inflater.decompress(bytes(self._buffer))
                self._buffer.clear()
                payload = json.loads(data)
                break
            if msg.type is aiohttp.WSMsgType.CLOSE:
                raise Closed(int(msg.data), str(msg.extra or ""))
            raise Closed(None)
        self.payloads.append(payload)
        return payload

    async def recv_until(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = STEP
    ) -> dict[str, Any]:
        """Receive until a payload matches; earlier ones stay in :attr:`payloads`."""
        while True:
            payload = await self.recv(timeout)
            if match(payload):
                return payload

    async def recv_dispatch(self, t: str, timeout: float = STEP) -> dict[str, Any]:
        """Receive until a dispatch named ``t``."""
        return await self.recv_until(lambda p: p["op"] == 0 and p["t"] == t, timeout)

    async def closed(self, timeout: float = STEP) -> int | None:
        """Receive (discarding payloads) until the socket closes; returns the close code."""
        while True:
            try:
                await self.recv(timeout)
            except Closed as exc:
                return exc.code

    async def send(self, op: int, d: Any = None) -> None:
        """Send ``{"op": op, "d": d}`` as a text frame."""
        await self.ws.send_str(json.dumps({"op": op, "d": d}))

    async def hello(self) -> dict[str, Any]:
        """Receive HELLO (must be the first payload)."""
        payload = await self.recv()
        assert payload["op"] == 10, payload
        return payload

    async def identify(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        intents: int = 0x331FFFF,
        shard: list[int] | None = None,
        **extra: Any,
    ) -> None:
        """Send IDENTIFY."""
        d: dict[str, Any] = {
            "token": token,
            "properties": {"os": "linux", "browser": "raw", "device": "raw"},
            "intents": intents,
            **extra,
        }
        if shard is not None:
            d["shard"] = shard
        await self.send(2, d)

    async def ready(self, **identify: Any) -> dict[str, Any]:
        """HELLO, IDENTIFY, READY: returns the READY payload."""
        await self.hello()
        await self.identify(**identify)
        return await self.recv_dispatch("READY")

    async def resume(self, session_id: str, seq: int | None, *, token: str = DEFAULT_TOKEN) -> None:
        """Send RESUME."""
        await self.send(6, {"token": token, "session_id": session_id, "seq": seq})

    async def close(self, code: int = 4000) -> None:
        """Close from the client side with ``code``."""
        await self.ws.close(code=code)


Connect = Callable[..., Awaitable["RawGateway"]]
