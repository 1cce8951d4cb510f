"""Pure wire vocabulary of the Discord gateway: opcodes, close codes, codec, compression.

Nothing here performs I/O, reads a clock or draws random numbers. Both the client
(`tether.gateway`, `tether.runtime`) and the emulator (`tether.emulator`) build on it,
but each side writes its own *beliefs* about the protocol (what to do on a code) elsewhere.
"""

from __future__ import annotations

from tether.wire.close_codes import CloseCode
from tether.wire.codec import (
    DecodeError,
    Frame,
    decode_frame,
    decode_json,
    encode_json,
    encode_payload,
)
from tether.wire.compression import (
    DecompressionError,
    PayloadTooLarge,
    ZlibStreamInflater,
)
from tether.wire.intents import Intents
from tether.wire.opcodes import Op

__all__ = [
    "CloseCode",
    "DecodeError",
    "DecompressionError",
    "Frame",
    "Intents",
    "Op",
    "PayloadTooLarge",
    "ZlibStreamInflater",
    "decode_frame",
    "decode_json",
    "encode_json",
    "encode_payload",
]
