"""JSON codec for gateway envelopes (spec section 2.1).

Decoding is two-level: :func:`decode_frame` parses the envelope (``op``, ``s``, ``t``)
and keeps ``d`` as raw bytes; :meth:`Frame.data` decodes the body only when someone
needs it. Missing ``s``/``t``/``d`` keys read as null; unknown keys are ignored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tether.errors import DecodeError

__all__ = [
    "DecodeError",
    "Frame",
    "decode_frame",
    "decode_guild_ref",
    "decode_json",
    "encode_json",
    "encode_payload",
]


class _Envelope(msgspec.Struct):
    op: int
    d: msgspec.Raw = msgspec.Raw(b"null")
    s: int | None = None
    t: str | None = None


class _GuildRef(msgspec.Struct):
    id: int | None = None
    unavailable: bool | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_guild_ref_decoder = msgspec.json.Decoder(_GuildRef, strict=False)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class Frame:
    """One decoded gateway envelope.

    Attributes:
        op: the opcode (an int; unknown values are kept, not rejected).
        s: the sequence number, or None.
        t: the dispatch name, or None.
        raw: the undecoded bytes of ``d`` (``b"null"`` when absent).
    """

    __slots__ = ("_data", "_decoded", "op", "raw", "s", "t")

    def __init__(self, op: int, raw: bytes, s: int | None = None, t: str | None = None) -> None:
        self.op = op
        self.raw = raw
        self.s = s
        self.t = t
        self._decoded = False
        self._data: Any = None

    def data(self) -> Any:
        """The decoded ``d`` (decoded once, on first use).

        Raises:
            DecodeError: ``d`` cannot be decoded into Python values (e.g. a number out of
                range); handlers reading ``Dispatch.data`` may see it too.
        """
        if not self._decoded:
            self._data = decode_json(self.raw)
            self._decoded = True
        return self._data

    @classmethod
    def build(cls, op: int, d: Any = None, s: int | None = None, t: str | None = None) -> Frame:
        """A frame from Python values (used by tests and by code that synthesises frames)."""
        frame = cls(op, _encoder.encode(d), s, t)
        frame._data = d
        frame._decoded = True
        return frame

    def __repr__(self) -> str:
        return f"Frame(op={self.op}, t={self.t!r}, s={self.s}, {len(self.raw)} bytes of d)"


def decode_frame(data: bytes | str) -> Frame:
    """Parse one gateway payload.

    Raises:
        DecodeError: not JSON, not an object, or ``op``/``s``/``t`` of the wrong type.
    """
    try:
        env = _envelope_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DecodeError(f"not a gateway payload: {exc}") from None
    return Frame(env.op, bytes(env.d), env.s, env.t)


def decode_guild_ref(data: bytes | str) -> tuple[int | None, bool]:
    """``(id, unavailable)`` of a guild object, skipping (not building) everything else.

    GUILD_CREATE bodies are large; the gateway core needs only these two fields, and the
    full body is decoded later, only by whoever wants it. ``id`` is None when absent or
    not a number, or when the body is not an object.

    Raises:
        DecodeError: not valid JSON.
    """
    try:
        ref = _guild_ref_decoder.decode(data)
    except msgspec.ValidationError:
        try:
            loose = _any_decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise DecodeError(f"invalid JSON: {exc}") from None
        if not isinstance(loose, dict):
            return None, False
        return None, bool(loose.get("unavailable"))
    except msgspec.DecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    return ref.id, bool(ref.unavailable)


def decode_json(data: bytes | str) -> Any:
    """Decode any JSON value.

    Raises:
        DecodeError: not valid JSON.
    """
    try:
        return _any_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None


def encode_json(value: Any) -> bytes:
    """Encode a JSON value to UTF-8 bytes."""
    return _encoder.encode(value)


def encode_payload(op: int, d: Any) -> bytes:
    """Encode a client payload ``{"op": op, "d": d}`` (the only keys a client needs)."""
    return _encoder.encode({"op": op, "d": d})
