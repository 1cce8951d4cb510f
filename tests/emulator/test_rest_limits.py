"""The emulator's REST rate limits, faults and ban, seen by a raw HTTP client (spec 11.2-11.4,
14 A7-A9). No tether client here: these are the server's own rules."""

from __future__ import annotations

from typing import Any

import aiohttp

from tether.emulator import DEFAULT_TOKEN, Emulator

AUTH = {"Authorization": f"Bot {DEFAULT_TOKEN}"}
MSG = "POST /channels/{channel_id}/messages"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **kw: Any
) -> tuple[int, Any, Any]:
    async with http.request(method, url, json=body, **kw) as response:
        text = await response.text()
        data: Any = text
        if response.content_type == "application/json":
            data = await response.json()
        return response.status, data, response.headers


class TestBuckets:
    """Spec 11.2, 14 A7: real buckets, per major parameter, described by the headers."""

    async def test_headers_count_down_and_a_full_bucket_answers_429(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        emu.rest.set_bucket(MSG, "small", 2, 5.0)
        channel, other = emu.world.text_channel_ids()[:2]
        url = f"{emu.api_url}/channels/{channel}/messages"
        seen = []
        for _ in range(3):
            status, body, headers = await call(http, "POST", url, {"content": "x"}, headers=AUTH)
            seen.append((status, headers["X-RateLimit-Remaining"]))
        assert seen == [(200, "1"), (200, "0"), (429, "0")]
        assert headers["X-RateLimit-Limit"] == "2"
        assert headers["X-RateLimit-Scope"] == "user"
        assert 4.9 < float(headers["X-RateLimit-Reset-After"]) <= 5.0
        assert int(headers["Retry-After"]) == 5
        assert body["global"] is False and 4.9 < body["retry_after"] <= 5.0
        bucket = headers["X-RateLimit-Bucket"]
        status, _, headers = await call(
            http, "POST", f"{emu.api_url}/channels/{other}/messages", {"content": "y"},
            headers=AUTH,
        )  # fmt: skip
        assert (status, headers["X-RateLimit-Bucket"]) == (200, bucket)  # same hash, own count
        assert emu.rest.state()["invalid_requests"] == 1

    async def test_routes_with_one_name_share_a_bucket(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        emu.rest.set_bucket(MSG, "shared", 2, 5.0)
        emu.rest.set_bucket("POST /channels/{channel_id}/typing", "shared", 2, 5.0)
        channel = emu.world.text_channel_ids()[0]
        base = f"{emu.api_url}/channels/{channel}"
        _, _, first = await call(http, "POST", f"{base}/messages", {"content": "x"}, headers=AUTH)
        status, _, second = await call(http, "POST", f"{base}/typing", headers=AUTH)
        assert status == 204
        assert first["X-RateLimit-Bucket"] == second["X-RateLimit-Bucket"]
        assert second["X-RateLimit-Remaining"] == "0"
        status, _, _ = await call(http, "POST", f"{base}/messages", {"content": "x"}, headers=AUTH)
        assert status == 429

    async def test_the_global_limit_spares_interaction_routes(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        emu.rest.configure(global_limit=2, global_window_s=60.0)
        payload = emu.rest.interactions.create(emu.world.text_channel_ids()[0], "ping")
        for _ in range(2):
            assert (await call(http, "GET", f"{emu.api_url}/users/@me", headers=AUTH))[0] == 200
        status, body, headers = await call(http, "GET", f"{emu.api_url}/users/@me", headers=AUTH)
        assert (status, body["global"], headers["X-RateLimit-Global"]) == (429, True, "true")
        assert headers["X-RateLimit-Scope"] == "global"
        assert "X-RateLimit-Bucket" not in headers
        url = f"{emu.api_url}/interactions/{payload['id']}/{payload['token']}/callback"
        status, _, _ = await call(http, "POST", url, {"type": 4, "data": {"content": "hi"}})
        assert status == 204

    async def test_limits_over_the_control_api(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        url = f"{emu.control_url}/rest/limits"
        status, limits, _ = await call(
            http, "POST", url, {"routes": {MSG: {"name": "ctl", "limit": 1, "window_s": 2.0}}}
        )
        assert status == 200
        assert limits["routes"][MSG] == {"name": "ctl", "limit": 1, "window_s": 2.0}
        assert (await call(http, "POST", url, {"nope": 1}))[0] == 400
        channel = emu.world.text_channel_ids()[0]
        _, _, headers = await call(
            http, "POST", f"{emu.api_url}/channels/{channel}/messages", {"content": "x"},
            headers=AUTH,
        )  # fmt: skip
        assert headers["X-RateLimit-Limit"] == "1"


class TestFaults:
    """Spec 14 A8-A9: forced 429 of each scope, 5xx, and the invalid-request ban."""

    async def test_forced_429_scopes_over_http(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        faults = f"{emu.control_url}/rest/faults"
        me = f"{emu.api_url}/users/@me"
        for scope in ("global", "shared", "user"):
            status, _, _ = await call(
                http, "POST", f"{faults}/rate_limit", {"scope": scope, "retry_after": 0.25}
            )
            assert status == 200
            status, body, headers = await call(http, "GET", me, headers=AUTH)
            assert (status, headers["X-RateLimit-Scope"], body["retry_after"]) == (
                429, scope, 0.25,
            )  # fmt: skip
            assert (headers.get("X-RateLimit-Global") == "true") == (scope == "global")
            assert (await call(http, "GET", me, headers=AUTH))[0] == 200  # count=1
        _, state, _ = await call(http, "GET", f"{emu.control_url}/rest")
        assert state["invalid_requests"] == 2  # the shared one does not count
        status, error, _ = await call(http, "POST", f"{faults}/rate_limit", {"scope": "nope"})
        assert status == 400 and "scope" in error["error"]
        assert (await call(http, "POST", f"{faults}/explode", {}))[0] == 404

    async def test_5xx_for_one_route(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        emu.rest.faults.server_error(502, count=1, route="GET /gateway/bot")
        emu.rest.faults.server_error(503, count=1, route="GET /gateway/bot")
        url = f"{emu.api_url}/gateway/bot"
        assert (await call(http, "GET", f"{emu.api_url}/users/@me", headers=AUTH))[0] == 200
        status, body, headers = await call(http, "GET", url, headers=AUTH)
        assert (status, headers["Content-Type"].split(";")[0]) == (502, "text/html")
        status, body, _ = await call(http, "GET", url, headers=AUTH)
        assert (status, body["code"]) == (503, 0)
        assert (await call(http, "GET", url, headers=AUTH))[0] == 200

    async def test_invalid_requests_lead_to_a_ban(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        emu.rest.configure(ban_threshold=3, ban_window_s=600.0, ban_duration_s=60.0)
        me = f"{emu.api_url}/users/@me"
        for _ in range(3):
            assert (await call(http, "GET", me))[0] == 401
        record = await emu.wait_for("rest_banned")
        assert record.get("duration_s") == 60.0
        status, body, headers = await call(http, "GET", me, headers=AUTH)
        assert status == 403 and "Cloudflare" in body
        assert headers["Content-Type"].startswith("text/html")
        assert emu.rest.state()["banned_for_s"] > 50
        emu.rest.faults.unban()
        assert (await call(http, "GET", me, headers=AUTH))[0] == 200


class TestRecordedCalls:
    """Every REST call is recorded and queryable: "the bot replied X in channel Y"."""

    async def test_calls_and_messages_over_the_control_api(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        channel = str(emu.world.text_channel_ids()[0])
        url = f"{emu.api_url}/channels/{channel}/messages"
        await call(http, "POST", url, {"content": "pong"}, headers=AUTH)
        await call(http, "GET", f"{emu.api_url}/users/@me", headers=AUTH)
        status, found, _ = await call(
            http, "GET", f"{emu.control_url}/rest/calls",
            params={"method": "POST", "channel_id": channel, "status": "200"},
        )  # fmt: skip
        assert status == 200
        [posted] = found["calls"]
        assert posted["data"]["body"] == {"content": "pong"}
        assert posted["data"]["route"] == MSG
        assert posted["data"]["result_id"] is not None
        assert "Authorization" not in str(posted) and DEFAULT_TOKEN not in str(posted)
        _, messages, _ = await call(
            http, "GET", f"{emu.control_url}/rest/messages",
            params={"channel_id": channel, "author_id": "bot"},
        )  # fmt: skip
        assert [m["content"] for m in messages["messages"]] == ["pong"]
        assert [c.get("route") for c in emu.rest.calls()] == [MSG, "GET /users/@me"]
