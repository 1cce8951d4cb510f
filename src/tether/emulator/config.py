"""Knobs of the emulator and the default bot identity.

Every timing knob is in seconds unless its name says ``_ms``. The config object is a
plain mutable dataclass: tests may change fields while the emulator runs, and every
rule reads the field at the moment it applies (a heartbeat deadline, for instance, is
computed from ``heartbeat_interval_ms`` when each heartbeat arrives).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses

from tether.wire.intents import PRIVILEGED

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_TOKEN",
    "EmulatorConfig",
    "bot_id_from_token",
]

#: The bot user id (and application id) behind :data:`DEFAULT_TOKEN` (18 digits, 2021-06-01).
DEFAULT_BOT_ID = 849074769100931073

#: A token shaped like Discord's: base64(bot id) "." timestamp-ish "." secret-looking tail.
#: hikari derives the application id from the first part, so it must decode to the bot id.
DEFAULT_TOKEN = (
    base64.b64encode(str(DEFAULT_BOT_ID).encode()).decode()
    + ".Gemu01."
    + "tEtHeR-eMuLaToR_nOt-A-rEaL-sEcReT-0123456"
)


def bot_id_from_token(token: str, default: int = DEFAULT_BOT_ID) -> int:
    """The bot id encoded in the first dot-separated part of ``token``, else ``default``.

    Args:
        token: a bot token in Discord's format (``base64(id).xxx.yyy``).
        default: returned when the first part is not base64 of a decimal id.
    """
    head = token.split(".", 1)[0]
    head += "=" * (-len(head) % 4)
    try:
        text = base64.b64decode(head, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return default
    return int(text) if text.isdigit() and 0 < len(text) <= 20 else default


@dataclasses.dataclass
class EmulatorConfig:
    """Every behaviour knob of the emulator (spec section 14), mutable at run time.

    Attributes:
        heartbeat_interval_ms: the ``heartbeat_interval`` sent in HELLO.
        heartbeat_grace: close when no heartbeat came for ``interval * grace``.
        heartbeat_timeout_close_code: the code used for that close (spec 3.1 rule 7).
        hello_delay_s: wait before HELLO on every connection.
        hello_trace: include a ``_trace`` list in HELLO.
        session_expiry_s: how long a session stays resumable after its socket is gone.
        replay_buffer_size: dispatches kept per session for RESUME.
        guild_create_delay_s: pause before each GUILD_CREATE of the guild stream.
        guild_create_shuffle: stream guilds in a (seeded) random order.
        send_limit: client frames allowed per connection in ``send_window_s`` (4008 beyond).
        send_window_s: the sliding window of ``send_limit``.
        max_payload: the largest client frame in bytes (4002 beyond).
        max_guilds_per_shard: 4011 when one session would hold more guilds.
        shard_count_multiple: if set, ``num_shards`` must be a multiple of it (4010).
        enabled_privileged_intents: privileged bits the app may use (4014 otherwise).
        include_private_channels: put ``private_channels: []`` in READY.
        ready_padding_bytes: pad READY with an unknown string field of this size
            (e.g. > 1 MiB to catch clients with a small message-size limit).
        reconnect_close_delay_s: close this long after an op 7 (None: never close).
        reconnect_close_code: the code of that close.
        server_close_timeout_s: how long a server close waits for the client's close frame.
        identify_window_s: identify concurrency window (spec 6.2, 14 B15): a second
            IDENTIFY of the same ``shard_id % max_concurrency`` bucket within it gets op 9
            ``false``. Discord's 5.0 by default; 0 disables the check, and tests that
            re-identify often scale it down together with the client's identify window.
        session_start_total: ``session_start_limit.total`` in /gateway/bot.
        session_start_remaining: identifies left; decremented per accepted IDENTIFY.
        session_start_reset_after_s: when the budget refills (emulator time).
        max_concurrency: ``session_start_limit.max_concurrency``.
        shards: the ``shards`` count recommended by /gateway/bot.
        payload_compression_threshold: with IDENTIFY ``compress: true`` (and no transport
            compression), READY and GUILD_CREATE payloads at least this large are sent
            zlib-compressed as binary messages (spec 7.3).
        presence_update_limit: op 3 updates allowed per ``presence_update_window_s``.
        presence_update_window_s: the window of ``presence_update_limit``.
        member_chunk_size: members per GUILD_MEMBERS_CHUNK (spec 10.7).
        member_request_window_s: a full member list per guild once in this window; a
            repeat gets a RATE_LIMITED dispatch (spec 2.10, 2.16). Discord uses 30; the
            default 0 disables it (a client that re-identifies re-chunks at once).
        member_chunk_delay_s: pause before each GUILD_MEMBERS_CHUNK after the first (a slow
            chunk stream, spec 14 F39).
        zlib_level: the zlib-stream compression level (zlib's default 6; benchmarks use 1
            so that the emulator is never the slow side).
        prerender_guild_creates: build each guild's GUILD_CREATE body once per (intents,
            large_threshold) and reuse the bytes on every later connection. Only for worlds
            that no longer change (benchmarks); changes are not seen while it is on. With
            zlib-stream, each payload is then compressed independently of the others (a
            full flush after each), so each body is compressed once and reused too.
        log_limit: the most records the event log keeps (the oldest are dropped; None:
            all, which a long run pays for in memory, about 0.5 KiB a record).
    """

    heartbeat_interval_ms: int = 41250
    heartbeat_grace: float = 1.5
    heartbeat_timeout_close_code: int = 4009
    hello_delay_s: float = 0.0
    hello_trace: bool = True
    session_expiry_s: float = 180.0
    replay_buffer_size: int = 10000
    guild_create_delay_s: float = 0.0
    guild_create_shuffle: bool = False
    send_limit: int = 120
    send_window_s: float = 60.0
    max_payload: int = 4096
    max_guilds_per_shard: int = 2500
    shard_count_multiple: int | None = None
    enabled_privileged_intents: int = PRIVILEGED
    include_private_channels: bool = True
    ready_padding_bytes: int = 0
    reconnect_close_delay_s: float | None = 2.0
    reconnect_close_code: int = 4000
    server_close_timeout_s: float = 2.0
    identify_window_s: float = 5.0
    session_start_total: int = 1000
    session_start_remaining: int = 1000
    session_start_reset_after_s: float = 86400.0
    max_concurrency: int = 1
    shards: int = 1
    payload_compression_threshold: int = 0
    presence_update_limit: int = 5
    presence_update_window_s: float = 20.0
    member_chunk_size: int = 1000
    member_request_window_s: float = 0.0
    member_chunk_delay_s: float = 0.0
    zlib_level: int = 6
    prerender_guild_creates: bool = False
    log_limit: int | None = 1_000_000

    def update(self, **changes: object) -> None:
        """Set several fields at once (used by the control API).

        Raises:
            KeyError: a name is not a field of the config.
            TypeError: a value has the wrong type for its field.
        """
        fields = {f.name: f for f in dataclasses.fields(self)}
        for name in changes:
            if name not in fields:
                raise KeyError(name)
        for name, value in changes.items():
            current = getattr(self, name)
            if value is not None and current is not None and not _compatible(current, value):
                raise TypeError(f"{name}: expected {type(current).__name__}, got {value!r}")
            setattr(self, name, value)

    def as_dict(self) -> dict[str, object]:
        """The config as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _compatible(current: object, value: object) -> bool:
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(current))
