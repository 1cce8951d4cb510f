"""Bounded inflaters for transport compression (spec sections 7.4 and 7.5).

One inflater per socket, never reused across sockets (:func:`make_inflater` builds the
right one). Every inflater bounds both the compressed bytes it buffers and the size of one
decompressed payload, so a decompression bomb costs at most ``max_payload`` bytes (zstd:
plus one 128 KiB block) before it is refused.
"""

from __future__ import annotations

import importlib
import zlib
from typing import Any, Protocol

from tether.errors import DecompressionError, PayloadTooLarge

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_MAX_PAYLOAD",
    "ZLIB_SUFFIX",
    "ZSTD_BLOCK_MAX",
    "DecompressionError",
    "PayloadTooLarge",
    "StreamInflater",
    "ZlibStreamInflater",
    "ZstdStreamInflater",
    "make_inflater",
    "zstd_available",
]

#: The transport compressions a client may ask for (``None``: plain text frames).
COMPRESSIONS = ("zlib-stream", "zstd-stream")

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


# ---------------------------------------------------------------------------- zstd-stream

#: The most one zstd block decodes to (the format's cap, ``ZSTD_BLOCKSIZE_MAX``).
ZSTD_BLOCK_MAX = 128 * 1024
#: zstd's own default limit on the window a frame may ask for (``ZSTD_WINDOWLOG_LIMIT_DEFAULT``).
_ZSTD_MAX_WINDOW = 1 << 27

_zstandard: Any = None


def _load_zstandard() -> Any:
    """The ``zstandard`` module, imported on first use (it is an optional dependency)."""
    global _zstandard
    if _zstandard is None:
        try:
            _zstandard = importlib.import_module("zstandard")
        except ImportError:
            raise DecompressionError(
                "zstd-stream needs the zstandard package (pip install 'tether[zstd]')"
            ) from None
    return _zstandard


def zstd_available() -> bool:
    """Whether zstd-stream can be used (the ``zstandard`` package imports)."""
    try:
        _load_zstandard()
    except DecompressionError:
        return False
    return True


class ZstdStreamInflater:
    """Turns the binary messages of one zstd-stream socket into payloads (spec 7.5).

    One decompression context lives as long as the socket; every WebSocket message holds
    exactly one payload, and the zstd frame stays open across messages. Feed every binary
    message to :meth:`feed`, in order; it returns the payload (None for a message that
    decodes to nothing, e.g. a bare frame header).

    Bounded output: ``zstandard`` cannot cap one call's output, but a zstd block decodes
    to at most 128 KiB and costs at least 3 bytes of input, so ``k`` input bytes decode to
    at most ``(k // 3 + 1)`` blocks (one may have started in an earlier message). A
    message small enough that this worst case fits ``max_payload`` (about 1.5 KB of input
    for the default 64 MiB, which covers nearly every dispatch) is decoded in one call;
    a larger one is fed in slices sized so that the worst case still fits what is left.
    A bomb is therefore refused after at most ``max_payload`` plus one block of output.
    The window a frame may ask for is capped at zstd's own default limit (128 MiB).

    Raises (from feed):
        DecompressionError: the stream is corrupt; the socket must be dropped.
        PayloadTooLarge: a payload exceeds ``max_payload``.
    """

    __slots__ = ("_error", "_inflater", "_whole", "max_payload")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        zstandard = _load_zstandard()
        decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        # Across frames: a server that ends a frame per payload still decodes.
        self._inflater = decompressor.decompressobj(read_across_frames=True)
        self._error: type[Exception] = zstandard.ZstdError
        self.max_payload = max_payload
        #: Messages up to this many bytes cannot decode past max_payload in one call.
        self._whole = (max_payload // ZSTD_BLOCK_MAX - 1) * 3 - 1

    @property
    def buffered(self) -> int:
        """Compressed bytes held while waiting for the end of a payload (always 0 here)."""
        return 0

    def feed(self, message: bytes) -> bytes | None:
        """Add one WebSocket message; return its payload (None if it decodes to nothing)."""
        try:
            if len(message) <= self._whole:
                out: bytes = self._inflater.decompress(message)
            else:
                out = self._feed_sliced(message)
        except self._error as exc:
            raise DecompressionError(f"corrupt zstd-stream data: {exc}") from None
        if len(out) > self.max_payload:
            raise PayloadTooLarge(len(out), self.max_payload)
        return out or None

    def _feed_sliced(self, message: bytes) -> bytes:
        inflater, limit = self._inflater, self.max_payload
        view = memoryview(message)
        parts: list[bytes] = []
        total = start = 0
        while start < len(view):
            room = limit - total
            # (step // 3 + 1) blocks at most: within ``room`` (one block over at worst).
            step = max(1, (room // ZSTD_BLOCK_MAX - 1) * 3)
            part = inflater.decompress(view[start : start + step])
            start += step
            if part:
                total += len(part)
                if total > limit:
                    raise PayloadTooLarge(total, limit)
                parts.append(part)
        return b"".join(parts)


class StreamInflater(Protocol):
    """What the gateway core needs from an inflater (both kinds above fit)."""

    @property
    def buffered(self) -> int:
        """Compressed bytes held while waiting for the end of a payload."""
        ...

    def feed(self, message: bytes) -> bytes | None:
        """Add one binary WebSocket message; return a whole payload or None."""
        ...


def make_inflater(compress: str | None, max_payload: int) -> StreamInflater | None:
    """A fresh inflater for one socket with transport compression ``compress`` (None: none).

    Raises:
        DecompressionError: zstd-stream without the ``zstandard`` package.
        ValueError: an unknown compression.
    """
    if compress is None:
        return None
    if compress == "zlib-stream":
        return ZlibStreamInflater(max_payload)
    if compress == "zstd-stream":
        return ZstdStreamInflater(max_payload)
    raise ValueError(f"unknown transport compression {compress!r}")
