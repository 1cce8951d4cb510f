"""Discord's documentation examples (fixtures/discord-docs, see its INDEX.md) through the
cache: every dispatch envelope and every inner object decodes and applies without error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tether.cache import ALL_HANDLERS, Cache

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "discord-docs"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"no fixtures at {FIXTURES}")


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dispatch_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    found = [*FIXTURES.glob("gw_*.json"), *FIXTURES.glob("*.envelope.json")]
    found += FIXTURES.glob("composed/*.json")
    return sorted(p for p in found if _load(p).get("op") == 0)


def object_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.glob("obj_*.json") if not p.name.endswith(".envelope.json"))


def seeded_cache() -> Cache:
    """A cache that has seen READY and the docs' guild, so updates have somewhere to land."""
    cache = Cache()
    for name in ("composed/ready.json", "obj_guild.envelope.json"):
        payload = _load(FIXTURES / name)
        cache.apply(payload["t"], payload["d"])
    return cache


def fixture_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


#: What each kind of inner object is, as a dispatch the cache reads.
_WRAP = {
    "obj_channel_": lambda d: ("CHANNEL_CREATE", d),
    "obj_user": lambda d: ("USER_UPDATE", d),
    "obj_role": lambda d: ("GUILD_ROLE_CREATE", {"guild_id": "197038439483310086", "role": d}),
    "obj_guild_member": lambda d: ("GUILD_MEMBER_ADD", {**d, "guild_id": "197038439483310086"}),
    "obj_guild_unavailable": lambda d: ("GUILD_DELETE", d),
    "obj_guild": lambda d: ("GUILD_CREATE", d),
    "obj_message": lambda d: ("MESSAGE_CREATE", d),
    "obj_activity": lambda d: (
        "PRESENCE_UPDATE",
        {
            "user": {"id": "1"},
            "guild_id": "197038439483310086",
            "status": "online",
            "activities": [d],
        },
    ),
}


def _wrap_of(path: Path) -> Any:
    return next((w for prefix, w in _WRAP.items() if path.name.startswith(prefix)), None)


class TestDocumentationDispatches:
    """Spec 10: every documented dispatch applies to a cache without being skipped."""

    def test_there_are_dispatch_fixtures(self) -> None:
        names = {_load(p)["t"] for p in dispatch_files()}
        assert {"READY", "GUILD_CREATE", "MESSAGE_CREATE", "GUILD_MEMBERS_CHUNK"} <= names

    @pytest.mark.parametrize("path", dispatch_files(), ids=fixture_id)
    def test_dispatch_applies_cleanly(self, path: Path) -> None:
        payload = _load(path)
        cache = seeded_cache()
        cache.apply(payload["t"], payload["d"], shard_id=0)
        assert cache.ignored == 0

    def test_the_docs_guild_and_bot_are_kept(self) -> None:
        cache = seeded_cache()
        guild = cache.guild(197038439483310086)
        assert guild is not None
        assert guild.name == "Discord Testers"
        assert guild.large and guild.member_count == 100000
        assert cache.me is not None and cache.me.id == 80351110224678912


class TestDocumentationObjects:
    """Every inner object fixture goes through the cache: as the dispatch it belongs to
    (applied, not skipped), and as the body of every dispatch the cache reads (never raises)."""

    def test_every_cache_relevant_kind_has_fixtures(self) -> None:
        kinds = {prefix for path in object_files() for prefix in _WRAP if _wrap_of(path)}
        assert len(kinds) >= 6

    @pytest.mark.parametrize(
        "path", [p for p in object_files() if _wrap_of(p) is not None], ids=fixture_id
    )
    def test_object_as_its_own_dispatch(self, path: Path) -> None:
        wrap = _wrap_of(path)
        assert wrap is not None
        name, data = wrap(_load(path))
        cache = seeded_cache()
        cache.apply(name, data)
        assert cache.ignored == 0

    @pytest.mark.parametrize("path", object_files(), ids=fixture_id)
    def test_object_through_every_handler_never_raises(self, path: Path) -> None:
        data = _load(path)
        cache = seeded_cache()
        for name in ALL_HANDLERS:
            cache.apply(name, data)  # mismatched shapes are skipped (counted), never raised
        assert cache.ignored <= len(ALL_HANDLERS)

    def test_a_dm_channel_is_kept_without_a_guild(self) -> None:
        cache = seeded_cache()
        cache.apply("CHANNEL_CREATE", _load(FIXTURES / "obj_channel_dm.json"))
        dm = cache.channel(319674150115610528)
        assert dm is not None and dm.guild_id is None and dm.type == 1

    def test_an_id_above_u64_does_not_break_decoding(self) -> None:
        cache = seeded_cache()
        cache.apply("CHANNEL_CREATE", {"id": "111111111111111111111", "type": 0})
        assert cache.channel(111111111111111111111) is not None
