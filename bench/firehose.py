"""A gateway firehose for bench/throughput.py: pre-built, pre-compressed, in its own process.

Run ``python bench/firehose.py --events N --modes zlib-stream,zstd-stream,none``: it prints
``PORT <n>`` on stdout once it listens, then serves until stdin is closed.

What one connection gets (the same bytes for every connection of a mode)::

    HELLO (heartbeat_interval = --heartbeat-ms, long: see below)
    ... the client's IDENTIFY ...
    READY, one GUILD_CREATE per guild, then N MESSAGE_CREATE with s = 1..N
    ... then one HEARTBEAT_ACK per HEARTBEAT the client sent (see below)

Everything is built before ``PORT`` is printed: every payload is encoded once and
compressed once, in order, with one per-connection compressor (zlib: ``compressobj()`` and
a sync flush per payload, spec 7.4; zstd: ``compressobj()`` and a block flush per payload,
spec 7.5; none: text frames), then framed as WebSocket frames and joined into 256 KiB
chunks. Serving a connection is writing those chunks as fast as the socket takes them, so
the client is the bottleneck.

Heartbeats: in a compressed stream a payload can only be appended at the end (every frame
depends on the compressor's history), so ACKs for heartbeats received while the stream is
being written are sent right after it: the stream is followed by a pre-compressed tail of
ACKs, one sent per heartbeat received. The HELLO interval is long (10 minutes by default)
so that periodic heartbeats rarely fall inside a run; an immediate one (discord.py beats
at HELLO) is simply answered later. Without compression ACKs go out at the next chunk
boundary. ``/_firehose/connections`` reports how many ACKs each connection waited for.

The payloads are realistic: READY, GUILD_CREATE and the REST answers a client needs at
start-up (``/gateway/bot``, ``/users/@me``, the application) are captured once from
tether's emulator (the shapes discord.py and hikari are tested against); messages are
built here from the captured guilds (their channels and members) in a seeded mix of
sizes: short chat lines, longer text with mentions and attachments, rich embeds, replies
that carry the message they answer.

``GET /_firehose/frames?compress=MODE`` returns the compressed payloads themselves (no
WebSocket framing) for the decode-limit loop: ``u32 count of prelude payloads`` (HELLO,
READY, GUILD_CREATEs), then ``u32 length + bytes`` per payload, messages last.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from tether.emulator import Emulator, EmulatorConfig

__all__ = ["MODES", "MessageFactory", "Prebuilt", "WorldCapture", "build", "capture"]

MODES = ("zlib-stream", "zstd-stream", "none")
CHUNK = 256 * 1024
HIGH_WATER = 4 * 1024 * 1024
ACK_TAIL = 64
DISCORD_EPOCH_MS = 1_420_070_400_000
START_MS = 1_767_225_600_000  # 2026-01-01, the first message's time
SESSION_ID = "firehose0000000000000000000000000"
ENVELOPE_KEYS = ("t", "s", "op", "d")

_encode = msgspec.json.Encoder().encode

_WORDS_TEXT = (
    "the be to of and a in that have i it for not on with he as you do at this but his by "
    "from they we say her she or an will my one all would there their what so up out if "
    "about who get which go me when make can like time no just him know take people into "
    "year your good some could them see other than then now look only come its over think "
    "also back after use two how our work first well way even new want because any these "
    "give day most us deploy build server patch release bug merge review ship test cache "
    "gateway shard latency ping lol ok yeah nice thanks gg wait what really maybe tomorrow "
    "tonight meeting link pls"
)
WORDS = tuple(_WORDS_TEXT.split())
_VOCAB_RNG = random.Random(12345)
#: A larger vocabulary of made-up words (names, jargon, typos), picked Zipf-like.
VOCAB = [
    "".join(_VOCAB_RNG.choices("etaoinshrdlcumwfgypbvkjxqz", k=_VOCAB_RNG.randint(2, 10)))
    for _ in range(4000)
]
LOG_VOCAB = math.log(len(VOCAB))
EMOJI = ("", "", "", " :)", " 🎉", " 👍", " 🔥", " <:pepe:1087021536436121700>", " 😂")
HOSTS = ("github.com", "youtu.be", "docs.python.org", "example.org", "cdn.discordapp.com")


# ---------------------------------------------------------------------------- capture


@dataclass
class WorldCapture:
    """What the emulator said, once: REST answers, READY, GUILD_CREATEs, a MESSAGE_CREATE."""

    rest: dict[str, Any]
    ready: dict[str, Any]
    guilds: list[dict[str, Any]]
    message: dict[str, Any]


async def capture(guilds: int, members: int, seed: int) -> WorldCapture:
    """Run tether's emulator briefly and record the payloads a client would get."""
    config = EmulatorConfig(identify_window_s=0)
    emu = Emulator(
        guilds=guilds,
        seed=seed,
        config=config,
        members_per_guild=members,
        channels_per_guild=8,
        roles_per_guild=6,
    )
    async with emu, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bot {emu.token}"}
        rest: dict[str, Any] = {}
        for path in (
            "/gateway",
            "/gateway/bot",
            "/users/@me",
            "/oauth2/applications/@me",
            "/applications/@me",
        ):
            async with http.get(emu.api_url + path, headers=headers) as resp:
                rest[path] = await resp.json(content_type=None)
        ws = await http.ws_connect(emu.gateway_url + "?v=10&encoding=json")
        payloads: list[dict[str, Any]] = []

        async def until(name: str) -> dict[str, Any]:
            async for msg in ws:
                payload = msgspec.json.decode(msg.data)
                payloads.append(payload)
                if payload.get("t") == name:
                    return dict(payload["d"])
            raise RuntimeError(f"the emulator closed before {name}")

        await ws.receive()  # HELLO
        intents = (1 << 0) | (1 << 1) | (1 << 9) | (1 << 15)  # guilds, members, messages, content
        await ws.send_json(
            {
                "op": 2,
                "d": {
                    "token": emu.token,
                    "intents": intents,
                    "properties": {"os": "linux", "browser": "b", "device": "b"},
                },
            }
        )
        ready = await until("READY")
        created = [await until("GUILD_CREATE") for _ in ready["guilds"]]
        channel = next(c for c in created[0]["channels"] if c["type"] == 0)
        await emu.send_message(channel["id"], "template")
        message = await until("MESSAGE_CREATE")
        await ws.close()
    return WorldCapture(rest=rest, ready=ready, guilds=created, message=message)


# ---------------------------------------------------------------------------- messages


class MessageFactory:
    """Seeded MESSAGE_CREATE bodies in a mix of sizes, over the captured guilds.

    Shares (by count): 55 % short chat lines, 25 % longer text with mentions (and sometimes
    an attachment), 12 % rich embeds (with longer text), 8 % replies carrying the message
    they answer. Ids are snowflakes in time order; authors and channels are the guilds'.
    """

    def __init__(self, world: WorldCapture, seed: int) -> None:
        self.rng = random.Random(seed)
        self.template = world.message
        self.places: list[tuple[str, str, list[dict[str, Any]]]] = []
        for guild in world.guilds:
            humans = [m for m in guild.get("members", []) if not m["user"].get("bot")]
            for channel in guild["channels"]:
                if channel["type"] == 0 and humans:
                    self.places.append((guild["id"], channel["id"], humans))
        if not self.places:
            raise RuntimeError("the captured world has no text channel with human members")
        self.count = 0
        self.recent: list[dict[str, Any]] = []

    def _snowflake(self, ms: int) -> str:
        self.count += 1
        return str(((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (self.count & 0x1FFFF))

    def _text(self, low: int, high: int) -> str:
        rng = self.rng
        target = rng.randint(low, high)
        words: list[str] = []
        size = 0
        while size < target:
            roll = rng.random()
            if roll < 0.02:
                word = f"https://{rng.choice(HOSTS)}/{rng.getrandbits(40):x}"
            elif roll < 0.04:
                word = str(rng.randint(0, 10_000))
            elif roll < 0.34:
                word = VOCAB[int(math.exp(rng.uniform(0.0, LOG_VOCAB))) - 1]
            else:
                word = rng.choice(WORDS)
            words.append(word)
            size += len(word) + 1
        text = " ".join(words)[:high]
        return (text[:1].upper() + text[1:] + rng.choice(EMOJI))[:2000]

    def _member(self, member: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in member.items() if k != "user"}

    def _mention(self, member: dict[str, Any]) -> dict[str, Any]:
        return {**member["user"], "member": self._member(member)}

    def _attachment(self, ms: int, channel_id: str) -> dict[str, Any]:
        rng = self.rng
        aid = self._snowflake(ms)
        name = f"{rng.choice(WORDS)}_{rng.randint(1, 999)}.{rng.choice(('png', 'jpg', 'txt'))}"
        url = f"https://cdn.discordapp.com/attachments/{channel_id}/{aid}/{name}"
        return {
            "id": aid,
            "filename": name,
            "size": rng.randint(1_000, 8_000_000),
            "url": url,
            "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
            "width": 1280,
            "height": 720,
            "content_type": "image/png",
            "placeholder": "4ygKHYKoeHiHeHd3",
            "placeholder_version": 1,
            "flags": 0,
        }

    def _embed(self, ms: int) -> dict[str, Any]:
        rng = self.rng
        fields = [
            {"name": self._text(5, 30), "value": self._text(10, 200), "inline": rng.random() < 0.5}
            for _ in range(rng.randint(0, 8))
        ]
        host = rng.choice(HOSTS)
        return {
            "type": "rich",
            "title": self._text(10, 80),
            "description": self._text(100, 1500),
            "url": f"https://{host}/{rng.getrandbits(48):x}",
            "color": rng.getrandbits(24),
            "timestamp": _iso(ms),
            "fields": fields,
            "footer": {"text": self._text(5, 40), "icon_url": f"https://{host}/icon.png"},
            "author": {"name": self._text(3, 20), "url": f"https://{host}/u"},
            "thumbnail": {
                "url": f"https://{host}/t.png",
                "proxy_url": f"https://{host}/t.png",
                "width": 80,
                "height": 80,
                "flags": 0,
            },
        }

    def make(self) -> dict[str, Any]:
        """The next message's ``d``."""
        rng = self.rng
        ms = START_MS + self.count * 37
        guild_id, channel_id, humans = rng.choice(self.places)
        author = rng.choice(humans)
        kind = rng.random()
        mentions: list[dict[str, Any]] = []
        attachments: list[dict[str, Any]] = []
        embeds: list[dict[str, Any]] = []
        reference = None
        if kind < 0.55:
            content = self._text(3, 90)
        elif kind < 0.80:
            mentioned = rng.sample(humans, k=min(len(humans), rng.randint(1, 3)))
            mentions = [self._mention(m) for m in mentioned]
            content = " ".join(f"<@{m['user']['id']}>" for m in mentioned) + " "
            content += self._text(120, 700)
            if rng.random() < 0.3:
                attachments = [self._attachment(ms, channel_id)]
        elif kind < 0.92:
            content = self._text(0, 300)
            embeds = [self._embed(ms) for _ in range(rng.randint(1, 2))]
        else:
            content = self._text(3, 200)
            reference = rng.choice(self.recent) if self.recent else None
        message = dict(self.template)
        message.update(
            id=self._snowflake(ms),
            channel_id=channel_id,
            guild_id=guild_id,
            author=author["user"],
            member=self._member(author),
            content=content,
            timestamp=_iso(ms),
            mentions=mentions,
            attachments=attachments,
            embeds=embeds,
            mention_everyone=False,
            mention_roles=[],
            nonce=str(rng.getrandbits(60)),
        )
        if reference is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": reference["id"],
                "channel_id": reference["channel_id"],
                "guild_id": reference["guild_id"],
            }
            message["referenced_message"] = {
                k: v for k, v in reference.items() if k not in ("member", "guild_id", "nonce")
            }
            message["type"] = 19
        self.recent = [*self.recent[-19:], message]
        return message


def _iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}000+00:00"


# ---------------------------------------------------------------------------- building


def _frame(data: bytes, binary: bool) -> bytes:
    """One unmasked, final WebSocket frame (server to client)."""
    first = 0x82 if binary else 0x81
    n = len(data)
    if n < 126:
        return bytes((first, n)) + data
    if n < 1 << 16:
        return bytes((first, 126)) + n.to_bytes(2, "big") + data
    return bytes((first, 127)) + n.to_bytes(8, "big") + data


def _compressor(mode: str) -> Callable[[bytes], bytes]:
    if mode == "zlib-stream":
        co = zlib.compressobj()
        return lambda data: co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH)
    if mode == "zstd-stream":
        import zstandard

        zo = zstandard.ZstdCompressor().compressobj()
        flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        return lambda data: zo.compress(data) + zo.flush(flush)
    return lambda data: data


@dataclass
class Prebuilt:
    """One mode's connection, ready to write."""

    mode: str
    events: int
    hello: bytes
    chunks: list[bytes]
    acks: list[bytes]
    prelude: list[bytes] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    json_bytes: int = 0
    wire_bytes: int = 0
    sizes: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _payloads(
    world: WorldCapture, events: int, seed: int, url: str, heartbeat_ms: int
) -> Iterator[tuple[str, bytes]]:
    """(kind, envelope bytes) in stream order: hello, ready, guild, message..."""
    yield (
        "hello",
        _encode({"t": None, "s": None, "op": 10, "d": {"heartbeat_interval": heartbeat_ms}}),
    )
    ready = dict(world.ready)
    ready.update(session_id=SESSION_ID, resume_gateway_url=url)
    yield "ready", _encode({"t": "READY", "s": 1, "op": 0, "d": ready})
    seq = 1
    for guild in world.guilds:
        seq += 1
        yield "guild", _encode({"t": "GUILD_CREATE", "s": seq, "op": 0, "d": guild})
    factory = MessageFactory(world, seed)
    for _ in range(events):
        seq += 1
        yield "message", _encode({"t": "MESSAGE_CREATE", "s": seq, "op": 0, "d": factory.make()})


class _Builder:
    """One mode's stream under construction."""

    def __init__(self, mode: str, keep_frames: bool) -> None:
        self.mode = mode
        self.squeeze = _compressor(mode)
        self.binary = mode != "none"
        self.keep = keep_frames
        self.hello = b""
        self.prelude: list[bytes] = []
        self.messages: list[bytes] = []
        self.chunks: list[bytes] = []
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.wire_bytes = 0
        self.seconds = 0.0

    def add(self, kind: str, envelope: bytes) -> None:
        started = time.perf_counter()
        data = self.squeeze(envelope)
        if kind == "hello":
            self.hello = _frame(data, self.binary)
            self.prelude.append(data)
            return
        if kind == "message":
            self.wire_bytes += len(data)
            if self.keep:
                self.messages.append(data)
        elif self.keep:
            self.prelude.append(data)
        framed = _frame(data, self.binary)
        self.pending.append(framed)
        self.pending_size += len(framed)
        if self.pending_size >= CHUNK:
            self.chunks.append(b"".join(self.pending))
            self.pending, self.pending_size = [], 0
        self.seconds += time.perf_counter() - started

    def finish(self, events: int, json_bytes: int, json_sizes: list[int]) -> Prebuilt:
        if self.pending:
            self.chunks.append(b"".join(self.pending))
        ack = _encode({"t": None, "s": None, "op": 11, "d": None})
        acks = [_frame(self.squeeze(ack), self.binary) for _ in range(ACK_TAIL)]
        json_sizes = sorted(json_sizes)
        sizes = {
            "json_mean": json_bytes / max(1, events),
            "json_p50": json_sizes[len(json_sizes) // 2] if json_sizes else 0,
            "json_p90": json_sizes[len(json_sizes) * 9 // 10] if json_sizes else 0,
            "json_max": json_sizes[-1] if json_sizes else 0,
            "wire_mean": self.wire_bytes / max(1, events),
        }
        return Prebuilt(
            mode=self.mode,
            events=events,
            hello=self.hello,
            chunks=self.chunks,
            acks=acks,
            prelude=self.prelude,
            messages=self.messages,
            json_bytes=json_bytes,
            wire_bytes=self.wire_bytes,
            sizes=sizes,
            seconds=self.seconds,
        )


def build(
    world: WorldCapture,
    modes: list[str],
    events: int,
    *,
    seed: int,
    url: str,
    heartbeat_ms: int,
    keep_frames: bool = True,
) -> dict[str, Prebuilt]:
    """Encode each payload once and compress it, in order, with one compressor per mode.

    Returns one :class:`Prebuilt` per mode (``seconds`` is that mode's compression time).
    """
    builders = [_Builder(mode, keep_frames) for mode in modes]
    json_bytes = 0
    json_sizes: list[int] = []
    for kind, envelope in _payloads(world, events, seed, url, heartbeat_ms):
        if kind == "message":
            json_bytes += len(envelope)
            json_sizes.append(len(envelope))
        for builder in builders:
            builder.add(kind, envelope)
    return {b.mode: b.finish(events, json_bytes, json_sizes) for b in builders}


# ---------------------------------------------------------------------------- serving


@dataclass
class ConnRecord:
    """What happened on one gateway connection (for the benchmark's sanity checks)."""

    mode: str
    identify: bool = False
    resume: bool = False
    heartbeats: int = 0
    acks_sent: int = 0
    acks_deferred: int = 0
    stream_s: float | None = None
    completed: bool = False


class Firehose:
    """The aiohttp app: REST answers, the gateway, and the frames for the decode limit."""

    def __init__(self, world: WorldCapture, streams: dict[str, Prebuilt]) -> None:
        self.world = world
        self.streams = streams
        self.connections: list[ConnRecord] = []
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.gateway)
        app.router.add_get("/resume", self.gateway)
        app.router.add_get("/_firehose/frames", self.frames)
        app.router.add_get("/_firehose/connections", self.connections_json)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest)
        return app

    async def rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = self.world.rest.get(path)
        if body is None:
            print(f"firehose: no REST answer for {request.method} {path}", file=sys.stderr)
            return web.Response(
                status=404,
                body=b'{"message": "404: Not Found", "code": 0}',
                content_type="application/json",
            )
        if path in {"/gateway/bot", "/gateway"}:
            body = {**body, "url": f"ws://127.0.0.1:{self.port}/"}
        return web.Response(body=_encode(body), content_type="application/json")

    async def frames(self, request: web.Request) -> web.StreamResponse:
        stream = self.streams[request.query.get("compress", "zlib-stream")]
        parts = [struct.pack(">I", len(stream.prelude))]
        for data in (*stream.prelude, *stream.messages):
            parts.append(struct.pack(">I", len(data)))
            parts.append(data)
        return web.Response(body=b"".join(parts), content_type="application/octet-stream")

    async def connections_json(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=_encode([vars(c) for c in self.connections]), content_type="application/json"
        )

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=1 << 20, compress=False)
        await ws.prepare(request)
        mode = request.query.get("compress") or "none"
        stream = self.streams.get(mode)
        if stream is None:
            await ws.close(code=4002, message=f"not pre-built: {mode}".encode())
            return ws
        record = ConnRecord(mode=mode)
        self.connections.append(record)
        transport = request.transport
        assert transport is not None
        transport.set_write_buffer_limits(high=HIGH_WATER)
        transport.write(stream.hello)
        beats = asyncio.Event()
        writer: asyncio.Task[None] | None = None
        try:
            async for msg in ws:
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue  # hikari sends its JSON in binary frames
                op = msgspec.json.decode(msg.data).get("op")
                if op == 1:
                    record.heartbeats += 1
                    beats.set()
                elif op == 2 and writer is None:
                    record.identify = True
                    writer = asyncio.create_task(self._write(transport, stream, record, beats))
                elif op == 6:
                    record.resume = True  # a resume means the measurement failed: say so
                    await ws.close(code=4000, message=b"firehose does not resume")
        finally:
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await writer
        return ws

    async def _write(
        self,
        transport: asyncio.Transport,
        stream: Prebuilt,
        record: ConnRecord,
        beats: asyncio.Event,
    ) -> None:
        started = time.perf_counter()
        compressed = stream.mode != "none"
        for chunk in stream.chunks:
            if transport.is_closing():
                return
            transport.write(chunk)
            while transport.get_write_buffer_size() > HIGH_WATER:  # noqa: ASYNC110 - no event
                await asyncio.sleep(0.0005)  # for "drained" without aiohttp's private helpers
            if not compressed:
                self._ack(transport, stream, record)
        record.stream_s = time.perf_counter() - started
        record.completed = True
        record.acks_deferred = record.heartbeats - record.acks_sent
        while not transport.is_closing():
            self._ack(transport, stream, record)
            beats.clear()
            await beats.wait()

    def _ack(self, transport: asyncio.Transport, stream: Prebuilt, record: ConnRecord) -> None:
        while record.acks_sent < min(record.heartbeats, len(stream.acks)):
            transport.write(stream.acks[record.acks_sent])
            record.acks_sent += 1


async def serve(args: argparse.Namespace) -> None:
    world = await capture(args.guilds, args.members, args.seed)
    runner: web.AppRunner | None = None
    firehose = Firehose(world, {})
    app = firehose.app()
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = getattr(site, "_server", None)
    firehose.port = server.sockets[0].getsockname()[1] if server else 0
    url = f"ws://127.0.0.1:{firehose.port}/resume"
    started = time.perf_counter()
    firehose.streams = build(
        world,
        args.modes.split(","),
        args.events,
        seed=args.seed,
        url=url,
        heartbeat_ms=args.heartbeat_ms,
        keep_frames=not args.no_frames,
    )
    print(f"firehose: built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    summary = {
        m: {"build_s": round(s.seconds, 2), **{k: round(v, 1) for k, v in s.sizes.items()}}
        for m, s in firehose.streams.items()
    }
    print("SIZES " + _encode(summary).decode(), flush=True)
    print(f"PORT {firehose.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # serve until stdin closes
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--guilds", type=int, default=4)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--heartbeat-ms", type=int, default=600_000)
    parser.add_argument(
        "--no-frames",
        action="store_true",
        help="do not keep the payloads for /_firehose/frames (memory runs)",
    )
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
