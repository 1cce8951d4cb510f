"""Discord's own documentation examples (fixtures/discord-docs, see its INDEX.md) through the
codec and a connected ShardProtocol: spec 2.1 (envelope), 2.2 (opcode directions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tether.gateway import Action, Dispatch, HelloReceived, Phase
from tether.wire.codec import decode_frame

from .helpers import Pump, connected, make_config

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "discord-docs"
SERVER_TO_CLIENT = frozenset({0, 1, 7, 9, 10, 11})
CLIENT_TO_SERVER = frozenset({1, 2, 3, 4, 6, 8, 31, 43})


def envelope_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    found = {
        *FIXTURES.glob("gw_*.json"),
        *FIXTURES.glob("*.envelope.json"),
        *FIXTURES.glob("composed/*.json"),
    }
    return sorted(found)


FILES = envelope_files()
pytestmark = pytest.mark.skipif(not FILES, reason=f"no fixtures at {FIXTURES}")


def fixture_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


def load(path: Path) -> tuple[bytes, dict[str, Any]]:
    raw = path.read_bytes()
    value = json.loads(raw)
    assert isinstance(value, dict), path
    return raw, value


def server_files() -> list[Path]:
    return [p for p in FILES if load(p)[1]["op"] in SERVER_TO_CLIENT]


class TestDocumentationEnvelopes:
    """Spec 2.1: every documented gateway envelope decodes; spec 2.2: its op has a direction."""

    def test_the_fixture_set_is_complete(self) -> None:
        # 19 gw_*, 28+ envelopes, 4 composed: a glob that silently matches little is a bug.
        assert len(FILES) >= 45
        assert {p.name for p in FILES} >= {"gw_hello.json", "ready.json", "obj_guild.envelope.json"}

    @pytest.mark.parametrize("path", FILES, ids=fixture_id)
    def test_decode_frame(self, path: Path) -> None:
        raw, value = load(path)
        frame = decode_frame(raw)
        assert frame.op == value["op"]
        assert frame.s == value.get("s")
        assert frame.t == value.get("t")
        assert frame.data() == value.get("d")
        assert frame.op in SERVER_TO_CLIENT | CLIENT_TO_SERVER

    def test_both_directions_are_represented(self) -> None:
        ops = {load(p)[1]["op"] for p in FILES}
        assert ops >= {0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 31, 43}


class TestDocumentationPayloadsThroughTheProtocol:
    """Spec 2.1/2.3: server payloads from the docs never break a connected protocol."""

    @pytest.mark.parametrize("compress", [None, "zlib-stream"])
    @pytest.mark.parametrize("path", server_files(), ids=fixture_id)
    def test_connected_protocol_accepts(self, path: Path, compress: str | None) -> None:
        raw, value = load(path)
        pump = Pump(make_config(compress=compress))
        pump.hello()
        pump.ready([], s=0)  # the envelopes all carry s=1: start the session below them
        assert pump.phase() is Phase.CONNECTED
        out = pump.send(raw, at=1.0)
        op = value["op"]
        if op == 0:
            [dispatch] = out.of(Dispatch)
            assert dispatch.name == value["t"]
            assert dispatch.seq == value.get("s")
            assert dispatch.data == value["d"]
            assert out.closes == []
        elif op == 1:
            assert out.heartbeats() == [{"op": 1, "d": 0}]
        elif op in (7, 9):
            assert [c.code for c in out.closes] == [4000]
            expected = Action.RESUME if op == 7 else Action.REIDENTIFY
            assert pump.closed(4000).verdict().action is expected
            return
        else:  # a second HELLO, or an ACK
            assert out.closes == []
            assert out.sent == []
        assert pump.phase() is Phase.CONNECTED

    def test_documented_hello_starts_a_connection(self) -> None:
        raw, _ = load(FIXTURES / "gw_hello.json")
        pump = Pump()
        out = pump.send(raw)
        assert out.of(HelloReceived)[0].heartbeat_interval == 45.0
        assert out.ops() == [2]

    def test_documented_ready_opens_a_session(self) -> None:
        raw, value = load(FIXTURES / "composed" / "ready.json")
        pump = Pump()
        pump.hello()
        pump.send(raw)
        assert pump.session.session_id == value["d"]["session_id"]
        assert pump.session.resume_url == value["d"]["resume_gateway_url"]
        assert pump.session.seq == value["s"]
        assert pump.session.stream.pending == {int(g["id"]) for g in value["d"]["guilds"]}

    def test_documented_guild_payloads_replayed_in_sequence(self) -> None:
        pump = connected([1])
        for i, path in enumerate(p for p in FILES if p.name.endswith(".envelope.json")):
            value = load(path)[1]
            value["s"] = 10 + i  # spec INDEX: "renumber when you replay several of them"
            out = pump.send(json.dumps(value).encode())
            [dispatch] = out.of(Dispatch)
            assert dispatch.data == value["d"]
        assert pump.phase() is Phase.CONNECTED
