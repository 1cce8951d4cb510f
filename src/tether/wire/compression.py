"""Bounded inflaters for transport compression (spec sections 7.4 and 7.5).

One inflater per socket, never reused across sockets. Every inflater bounds both the
compressed bytes it buffers and the size of one decompressed payload, so a
decompression bomb costs at most ``max_payload`` bytes before it is refused.
"""

from __future__ import annotations

import zlib

from tether.errors import DecompressionError, PayloadTooLarge

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "ZLIB_SUFFIX",
    "DecompressionError",
    "PayloadTooLarge",
    "ZlibStreamInflater",
]

#: The marker that ends every zlib-stream payload (a sync flush).
ZLIB_SUFFIX = b"\x00\x00\xff\xff"

#: Default bound on one decompressed payload. Real READY/GUILD_CREATE can be several MB.
DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024


class ZlibStreamInflater:
    """Turns the binary messages of one zlib-stream socket into whole payloads.

    Feed every binary WebSocket message to :meth:`feed`, in order. It returns the
    decompressed payload once a message ends with ``00 00 FF FF``, else None.

    Raises (from feed):
        DecompressionError: the stream is corrupt; the socket must be dropped.
        PayloadTooLarge: a payload (compressed or not) exceeds ``max_payload``.
    """

    __slots__ = ("_buffer", "_inflater", "max_payload")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self._inflater = zlib.decompressobj()
        self._buffer = bytearray()
        self.max_payload = max_payload

    @property
    def buffered(self) -> int:
        """Compressed bytes held while waiting for the end of a payload."""
        return len(self._buffer)

    def feed(self, message: bytes) -> bytes | None:
        """Add one WebSocket message; return a complete payload or None (need more)."""
        if self._buffer or not message.endswith(ZLIB_SUFFIX):
            self._buffer += message
            if len(self._buffer) > self.max_payload:
                raise PayloadTooLarge(len(self._buffer), self.max_payload)
            if not self._buffer.endswith(ZLIB_SUFFIX):
                return None
            data: bytes = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = message
        return self._inflate(data)

    def _inflate(self, data: bytes) -> bytes:
        inflater = self._inflater
        try:
            # Asking for one byte more than allowed tells "exactly at the limit" from "over it".
            out = inflater.decompress(data, self.max_payload + 1)
        except zlib.error as exc:
            raise DecompressionError(f"corrupt zlib-stream data: {exc}") from None
        if len(out) > self.max_payload:
            raise PayloadTooLarge(len(out), self.max_payload)
        if inflater.eof:
            raise DecompressionError("zlib-stream ended; the server closed the stream")
        return out
