"""The bounded zlib-stream inflater (wire/compression.py): spec 7.4 (transport compression)
and 6.4 (server payloads have no documented cap; ours is explicit, so a bomb is refused)."""

from __future__ import annotations

import functools
import json
import zlib

import pytest

from tether.errors import DecompressionError, PayloadTooLarge, WireError
from tether.wire.compression import DEFAULT_MAX_PAYLOAD, ZLIB_SUFFIX, ZlibStreamInflater


class Compressor:
    """The server side of spec 7.4: one compressobj per connection, a sync flush per payload."""

    def __init__(self) -> None:
        self._co = zlib.compressobj()

    def blob(self, payload: bytes) -> bytes:
        return self._co.compress(payload) + self._co.flush(zlib.Z_SYNC_FLUSH)


def payload(i: int, size: int = 0) -> bytes:
    return json.dumps({"op": 0, "s": i, "t": "X", "d": {"pad": "p" * size}}).encode()


@functools.cache
def bomb() -> bytes:
    co = zlib.compressobj(9)
    zeros = b"\0" * (1 << 20)
    return b"".join([co.compress(zeros) for _ in range(100)] + [co.flush(zlib.Z_SYNC_FLUSH)])


class TestZlibStream:
    """Spec 7.4: buffer until 00 00 FF FF, one inflate context for the connection."""

    def test_blob_ends_with_the_suffix_and_starts_with_a_header(self) -> None:
        blob = Compressor().blob(b"{}")
        assert blob[:2] == b"\x78\x9c"
        assert ZLIB_SUFFIX == b"\x00\x00\xff\xff"
        assert blob.endswith(ZLIB_SUFFIX)

    def test_one_message_per_payload(self) -> None:
        server, client = Compressor(), ZlibStreamInflater()
        for i in range(20):
            assert client.feed(server.blob(payload(i))) == payload(i)
            assert client.buffered == 0

    @pytest.mark.parametrize("pieces", [2, 3, 7, 50])
    def test_payload_split_over_several_messages(self, pieces: int) -> None:
        server, client = Compressor(), ZlibStreamInflater()
        client.feed(server.blob(payload(0)))
        blob = server.blob(payload(1, 4000))
        size = max(1, len(blob) // pieces)
        chunks = [blob[i : i + size] for i in range(0, len(blob), size)]
        assert not any(c.endswith(ZLIB_SUFFIX) for c in chunks[:-1])
        for chunk in chunks[:-1]:
            assert client.feed(chunk) is None
            assert client.buffered > 0
        assert client.feed(chunks[-1]) == payload(1, 4000)
        assert client.buffered == 0

    def test_trickle_one_byte_at_a_time(self) -> None:
        server, client = Compressor(), ZlibStreamInflater()
        blob = server.blob(payload(5, 100))
        results = [client.feed(blob[i : i + 1]) for i in range(len(blob))]
        assert results[:-1] == [None] * (len(blob) - 1)
        assert results[-1] == payload(5, 100)

    def test_empty_message_waits(self) -> None:
        client = ZlibStreamInflater()
        assert client.feed(b"") is None
        assert client.buffered == 0

    def test_a_new_connection_needs_a_new_inflater(self) -> None:
        old_server, client = Compressor(), ZlibStreamInflater()
        client.feed(old_server.blob(payload(1)))
        new_server = Compressor()
        with pytest.raises(DecompressionError):
            client.feed(new_server.blob(payload(2)))  # a second zlib header mid-stream
        assert ZlibStreamInflater().feed(Compressor().blob(payload(2))) == payload(2)

    def test_missing_the_start_of_a_stream_fails(self) -> None:
        server = Compressor()
        server.blob(payload(1))
        with pytest.raises(DecompressionError):
            ZlibStreamInflater().feed(server.blob(payload(2)))

    def test_corrupt_data(self) -> None:
        with pytest.raises(DecompressionError):
            ZlibStreamInflater().feed(b"\x78\x9c\xde\xad\xbe\xef" + ZLIB_SUFFIX)

    def test_finished_stream_is_an_error(self) -> None:
        co = zlib.compressobj()
        with pytest.raises(DecompressionError, match="ended"):
            ZlibStreamInflater().feed(co.compress(b'{"op":11}') + co.flush() + ZLIB_SUFFIX)

    def test_errors_are_wire_errors(self) -> None:
        assert issubclass(DecompressionError, WireError)
        assert issubclass(PayloadTooLarge, WireError)


class TestBounds:
    """Spec 6.4 / 7.4: a payload (compressed or not) over max_payload is refused."""

    def test_default_bound_allows_several_megabytes(self) -> None:
        assert DEFAULT_MAX_PAYLOAD >= 8 * 1024 * 1024
        big = payload(1, 3 * 1024 * 1024)
        assert ZlibStreamInflater().feed(Compressor().blob(big)) == big

    def test_decompression_bomb(self) -> None:
        blob = bomb()
        assert len(blob) < 200_000
        with pytest.raises(PayloadTooLarge) as info:
            ZlibStreamInflater(max_payload=1 << 20).feed(blob)
        assert info.value.limit == 1 << 20
        assert info.value.size > 1 << 20

    def test_exactly_at_the_bound(self) -> None:
        data = b"x" * 5000
        assert ZlibStreamInflater(max_payload=5000).feed(Compressor().blob(data)) == data
        with pytest.raises(PayloadTooLarge):
            ZlibStreamInflater(max_payload=4999).feed(Compressor().blob(data))

    def test_compressed_buffer_is_bounded(self) -> None:
        client = ZlibStreamInflater(max_payload=1000)
        assert client.feed(b"a" * 600) is None
        with pytest.raises(PayloadTooLarge):
            client.feed(b"b" * 600)

    def test_split_bomb_is_refused_too(self) -> None:
        blob = bomb()
        client = ZlibStreamInflater(max_payload=1 << 20)
        cut = 0
        while cut + 1000 < len(blob):
            assert not blob[cut : cut + 1000].endswith(ZLIB_SUFFIX)
            assert client.feed(blob[cut : cut + 1000]) is None
            cut += 1000
        with pytest.raises(PayloadTooLarge):
            client.feed(blob[cut:])
