"""The column tables against a plain dict, with ids in no order (as on real Discord).

The guild stream of the benchmarks lists users in rising id order, which only ever takes the
tables' append paths; these tests shuffle the ids (seeded) so that every merge and insert
path runs, across many merges of the user table's recent batch.
"""

from __future__ import annotations

import datetime
import random

from tether.cache.payloads import StreamUser
from tether.models import Member, MemberTable, PresenceTable, User, UserTable
from tether.models.presence import Presence

_BASE = 80_000_000_000_000_000


def _ids(count: int, seed: int) -> list[int]:
    ids = [_BASE + 7919 * i for i in range(count)]
    random.Random(seed).shuffle(ids)
    return ids


class TestUserTable:
    def test_shuffled_ids_across_many_merges_match_a_dict(self) -> None:
        ids = _ids(6000, seed=3)
        table = UserTable()
        model: dict[int, User] = {}
        for start in range(0, 4000, 100):  # the guild stream's batches
            batch = [
                StreamUser(id=uid, username=f"u{uid % 997}") for uid in ids[start : start + 100]
            ]
            assert table.fill_many(batch) == []
            for su in batch:
                model[su.id] = User(id=su.id, username=su.username)
        for uid in ids[4000:]:  # one at a time, as members and authors arrive
            table.put(User(id=uid, username="late", global_name="Late"))
            model[uid] = User(id=uid, username="late", global_name="Late")
        again = [StreamUser(id=uid, username="renamed") for uid in ids[:300]]
        assert sorted(table.fill_many(again)) == sorted(ids[:300])  # kept already
        for uid in ids[:300]:
            model[uid] = User(id=uid, username="renamed")
        for uid in ids[300:500]:
            table.remove(uid)
            del model[uid]
        assert len(table) == len(model)
        assert sorted(table) == sorted(model)
        for uid, expected in model.items():
            assert table[uid] == expected
        assert table.get(ids[300]) is None
        assert list(table._ids) == sorted(table._ids)  # the columns stay sorted after merges


class TestMemberTable:
    def test_shuffled_puts_and_chunks_match_a_dict(self) -> None:
        ids = _ids(3000, seed=4)
        table = MemberTable()
        model: dict[int, Member] = {}
        joined = datetime.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=datetime.UTC)

        def make(uid: int, n: int) -> Member:
            return Member(
                user=User(id=uid, username=f"m{uid % 13}"),
                roles=(1, 2) if n % 3 else (),
                joined_at=None if n % 5 == 0 else joined,
                nick="nick" if n % 7 == 0 else None,
            )

        for n, uid in enumerate(ids[:500]):
            table.put(make(uid, n))
            model[uid] = make(uid, n)
        for start in range(500, 3000, 1000):  # member chunks, interleaving the kept ids
            chunk = [make(uid, n) for n, uid in enumerate(ids[start : start + 1000], start)]
            table.put_many(chunk)
            model.update((m.user.id, make(m.user.id, n)) for n, m in enumerate(chunk, start))
        for uid in ids[::10]:
            assert table.remove(uid) == model.pop(uid)
        assert len(table) == len(model)
        assert sorted(table) == sorted(model)
        for uid, expected in model.items():
            assert table[uid] == expected


class TestPresenceTable:
    def test_shuffled_sets_and_deletes_match_a_dict(self) -> None:
        ids = _ids(2000, seed=5)
        online, idle = Presence(status="online"), Presence(status="idle")
        table = PresenceTable()
        table.build(ids[:1000], [online if i % 2 else idle for i in range(1000)])
        model = {uid: online if i % 2 else idle for i, uid in enumerate(ids[:1000])}
        for i, uid in enumerate(ids[1000:]):
            table[uid] = model[uid] = idle if i % 3 else online
        for uid in ids[::7]:
            del table[uid]
            del model[uid]
        assert sorted(table) == sorted(model)
        assert all(table[uid] is presence for uid, presence in model.items())
