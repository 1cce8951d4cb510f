"""The bounded zstd-stream inflater (wire/compression.py): spec 7.5 (one decompression
context per socket, one payload per WebSocket message, the frame left open) and 6.4 (our
explicit payload bound, so a bomb is refused)."""

from __future__ import annotations

import functools
import importlib
import json
import random
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.errors import DecompressionError, PayloadTooLarge, WireError
from tether.wire import compression
from tether.wire.compression import (
    DEFAULT_MAX_PAYLOAD,
    ZSTD_BLOCK_MAX,
    ZlibStreamInflater,
    ZstdStreamInflater,
    make_inflater,
    zstd_available,
)


class Compressor:
    """The server side of spec 7.5: one compressobj per connection, a block flush per payload."""

    def __init__(self, level: int = 3) -> None:
        self._co = zstandard.ZstdCompressor(level=level).compressobj()

    def blob(self, payload: bytes) -> bytes:
        return self._co.compress(payload) + self._co.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


def payload(i: int, size: int = 0) -> bytes:
    return json.dumps({"op": 0, "s": i, "t": "X", "d": {"pad": "p" * size}}).encode()


def noisy(size: int, seed: int = 0) -> bytes:
    """JSON that compresses about as badly as real text does."""
    rng = random.Random(seed)
    words = ["".join(rng.choices("abcdefghijklmnop", k=rng.randint(2, 9))) for _ in range(500)]
    text = " ".join(rng.choice(words) for _ in range(size // 5))
    return json.dumps({"op": 0, "d": {"content": text}}).encode()


@functools.cache
def bomb() -> bytes:
    """100 MiB of zeros in about 3 KB (RLE blocks: 4 bytes per 128 KiB)."""
    co = zstandard.ZstdCompressor(level=19).compressobj()
    zeros = b"\0" * (1 << 20)
    parts = [co.compress(zeros) for _ in range(100)]
    return b"".join([*parts, co.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)])


class TestZstdStream:
    """Spec 7.5: one context for the connection; each message is one whole payload."""

    def test_frame_header_first_and_frame_left_open(self) -> None:
        server, client = Compressor(), ZstdStreamInflater()
        first = server.blob(b'{"op":10}')
        assert first[:4] == b"\x28\xb5\x2f\xfd"  # the zstd magic number: a frame starts
        second = server.blob(b'{"op":11}')
        assert not second.startswith(b"\x28\xb5\x2f\xfd")  # same frame, still open
        assert client.feed(first) == b'{"op":10}'
        assert client.feed(second) == b'{"op":11}'

    def test_one_message_per_payload_with_shared_history(self) -> None:
        server, client = Compressor(), ZstdStreamInflater()
        sizes = []
        for i in range(200):
            blob = server.blob(payload(i, 300))
            sizes.append(len(blob))
            assert client.feed(blob) == payload(i, 300)
            assert client.buffered == 0
        assert max(sizes[100:]) < min(sizes[:1])  # later payloads lean on earlier ones

    def test_each_payload_its_own_frame_also_decodes(self) -> None:
        client = ZstdStreamInflater()
        for i in range(5):
            assert client.feed(zstandard.ZstdCompressor().compress(payload(i))) == payload(i)

    def test_message_that_decodes_to_nothing(self) -> None:
        client = ZstdStreamInflater()
        assert client.feed(b"") is None

    def test_a_new_connection_needs_a_new_inflater(self) -> None:
        old_server, client = Compressor(), ZstdStreamInflater()
        client.feed(old_server.blob(payload(1)))
        with pytest.raises(DecompressionError, match="corrupt zstd-stream"):
            client.feed(Compressor().blob(payload(2)))  # a new frame inside the open one
        assert ZstdStreamInflater().feed(Compressor().blob(payload(2))) == payload(2)

    def test_missing_the_start_of_a_stream_fails(self) -> None:
        server = Compressor()
        server.blob(payload(1, 100))
        with pytest.raises(DecompressionError):
            ZstdStreamInflater().feed(server.blob(payload(2)))

    def test_corrupt_data(self) -> None:
        with pytest.raises(DecompressionError):
            ZstdStreamInflater().feed(b"\x28\xb5\x2f\xfd" + b"\xde\xad\xbe\xef" * 4)

    def test_errors_are_wire_errors(self) -> None:
        assert issubclass(DecompressionError, WireError)


class TestBounds:
    """Spec 6.4: a payload over max_payload is refused after at most one block more."""

    def test_default_bound_allows_several_megabytes_of_text(self) -> None:
        big = noisy(3 * 1024 * 1024)
        server, client = Compressor(), ZstdStreamInflater()
        blob = server.blob(big)
        assert len(blob) > 100_000  # fed in slices, not in one call
        assert client.feed(blob) == big
        assert client.feed(server.blob(payload(2))) == payload(2)  # the stream goes on

    @pytest.mark.parametrize("limit", [1 << 20, DEFAULT_MAX_PAYLOAD])
    def test_decompression_bomb(self, limit: int) -> None:
        blob = bomb()
        assert len(blob) < 4000
        with pytest.raises(PayloadTooLarge) as info:
            ZstdStreamInflater(max_payload=limit).feed(blob)
        assert info.value.limit == limit
        assert limit < info.value.size <= limit + ZSTD_BLOCK_MAX

    def test_exactly_at_the_bound(self) -> None:
        data = noisy(5000)
        blob = Compressor().blob(data)
        assert ZstdStreamInflater(max_payload=len(data)).feed(blob) == data
        with pytest.raises(PayloadTooLarge):
            ZstdStreamInflater(max_payload=len(data) - 1).feed(blob)

    def test_small_messages_take_one_call(self, monkeypatch: pytest.MonkeyPatch) -> None:
        client = ZstdStreamInflater()
        sliced: list[int] = []
        original = ZstdStreamInflater._feed_sliced

        def spy(self: ZstdStreamInflater, message: bytes) -> bytes:
            sliced.append(len(message))
            return original(self, message)

        monkeypatch.setattr(ZstdStreamInflater, "_feed_sliced", spy)
        server = Compressor()
        for i in range(50):
            client.feed(server.blob(payload(i, 2000)))
        assert sliced == []
        client.feed(server.blob(noisy(20_000)))  # over ~1.5 KB compressed: sliced
        assert len(sliced) == 1

    @settings(max_examples=60, deadline=None)
    @given(
        sizes=st.lists(st.integers(0, 40_000), min_size=1, max_size=6),
        limit=st.sampled_from([ZSTD_BLOCK_MAX, 3 * ZSTD_BLOCK_MAX, 1 << 20]),
        seed=st.integers(0, 3),
    )
    def test_sliced_decoding_is_lossless(self, sizes: list[int], limit: int, seed: int) -> None:
        server, client = Compressor(level=1), ZstdStreamInflater(max_payload=limit)
        for n, size in enumerate(sizes):
            data = noisy(size, seed + n)
            blob = server.blob(data)
            if len(data) > limit:
                with pytest.raises(PayloadTooLarge):
                    client.feed(blob)
                return
            assert client.feed(blob) == data


class TestChoosing:
    """One inflater per socket, of the kind the connect URL asked for."""

    def test_make_inflater(self) -> None:
        assert make_inflater(None, 100) is None
        zlib_one = make_inflater("zlib-stream", 100)
        zstd_one = make_inflater("zstd-stream", 100)
        assert isinstance(zlib_one, ZlibStreamInflater) and zlib_one.max_payload == 100
        assert isinstance(zstd_one, ZstdStreamInflater) and zstd_one.max_payload == 100
        with pytest.raises(ValueError, match="lz4"):
            make_inflater("lz4", 100)

    def test_without_zstandard(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = importlib.import_module

        def no_zstd(name: str, *args: Any) -> Any:
            if name == "zstandard":
                raise ImportError(name)
            return real(name, *args)

        monkeypatch.setattr(compression, "_zstandard", None)
        monkeypatch.setattr(importlib, "import_module", no_zstd)
        assert zstd_available() is False
        with pytest.raises(DecompressionError, match=r"pip install 'tether\[zstd\]'"):
            ZstdStreamInflater()
        assert zstd_available() is False
