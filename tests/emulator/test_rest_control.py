"""REST bootstrap (spec 1.1, 11; 14 A1-A5) and the HTTP control API (spec 14, K64)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tether.emulator import DEFAULT_TOKEN, FAULT_NAMES, Emulator
from tether.emulator.config import DEFAULT_BOT_ID, bot_id_from_token

from .rawclient import Connect

AUTH = {"Authorization": f"Bot {DEFAULT_TOKEN}"}


async def _get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, str]:
    async with http.get(url, **kw) as response:
        return (
            response.status,
            await response.json(content_type=None),
            response.headers["Content-Type"],
        )


async def _post(http: aiohttp.ClientSession, url: str, body: Any, **kw: Any) -> tuple[int, Any]:
    async with http.post(url, json=body, **kw) as response:
        assert response.headers["Content-Type"] == "application/json"
        return response.status, await response.json()


class TestRest:
    """Spec 1.1, 11.5, 11.6 / 14 A1-A5."""

    async def test_gateway_and_gateway_bot(
        self, emu: Emulator, http: aiohttp.ClientSession
    ) -> None:
        status, body, ctype = await _get(http, f"{emu.api_url}/gateway")
        assert (status, body, ctype) == (200, {"url": emu.gateway_url}, "application/json")
        status, body, _ = await _get(http, f"{emu.api_url}/gateway/bot")
        assert (status, body) == (401, {"message": "401: Unauthorized", "code": 0})
        status, body, _ = await _get(http, f"{emu.api_url}/gateway/bot", headers=AUTH)
        assert status == 200
        assert body["url"] == emu.gateway_url
        assert body["shards"] == 1
        limit = body["session_start_limit"]
        assert limit["total"] == limit["remaining"] == 1000
        assert limit["max_concurrency"] == 1
        assert 0 < limit["reset_after"] <= 86_400_000

    async def test_budget_is_reported(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        client = await connect()
        await client.ready()
        _, body, _ = await _get(http, f"{emu.api_url}/gateway/bot", headers=AUTH)
        assert body["session_start_limit"]["remaining"] == 999

    async def test_me_and_application(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        _, me, _ = await _get(http, f"{emu.api_url}/users/@me", headers=AUTH)
        assert me["id"] == str(DEFAULT_BOT_ID)
        assert me["bot"] is True
        _, app, _ = await _get(http, f"{emu.api_url}/oauth2/applications/@me", headers=AUTH)
        assert app["id"] == me["id"]
        assert "owner" in app
        status, _, _ = await _get(http, f"{emu.api_url}/nope", headers=AUTH)
        assert status == 404

    async def test_create_message_emits_dispatch(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        client = await connect()
        await client.ready()
        channel = emu.world.text_channel_ids()[0]
        url = f"{emu.api_url}/channels/{channel}/messages"
        status, message = await _post(
            http, url, {"content": "via rest", "nonce": "x"}, headers=AUTH
        )
        assert status == 200
        assert message["author"]["id"] == str(emu.world.bot.id)
        got = await client.recv_dispatch("MESSAGE_CREATE")
        assert got["d"]["id"] == message["id"]
        assert got["d"]["content"] == "via rest"

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [({}, 400, 50006), ({"content": "x" * 2001}, 400, 50035), ({"content": 5}, 400, 50035)],
    )
    async def test_create_message_validation(
        self, emu: Emulator, http: aiohttp.ClientSession, body: Any, status: int, code: int
    ) -> None:
        url = f"{emu.api_url}/channels/{emu.world.text_channel_ids()[0]}/messages"
        got_status, got = await _post(http, url, body, headers=AUTH)
        assert (got_status, got["code"]) == (status, code)
        got_status, got = await _post(
            http, f"{emu.api_url}/channels/1/messages", {"content": "a"}, headers=AUTH
        )
        assert (got_status, got["code"]) == (404, 10003)

    def test_token_shape(self) -> None:
        assert bot_id_from_token(DEFAULT_TOKEN) == DEFAULT_BOT_ID
        assert DEFAULT_TOKEN.split(".")[1] == "Gemu01"
        assert bot_id_from_token("garbage") == DEFAULT_BOT_ID


class TestControlApi:
    """Spec 14: every knob and fault over HTTP under /_emulator/."""

    async def test_state_log_config_world(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        client = await connect()
        ready = await client.ready()
        _, state, _ = await _get(http, f"{emu.control_url}/state")
        assert state["identify_count"] == 1
        assert ready["d"]["session_id"] in state["sessions"]
        assert len(state["connections"]) == 1
        _, log, _ = await _get(http, f"{emu.control_url}/log", params={"kind": "identify"})
        assert [r["kind"] for r in log["records"]] == ["identify"]
        status, config = await _post(http, f"{emu.control_url}/config", {"send_limit": 50})
        assert (status, config["send_limit"], emu.config.send_limit) == (200, 50, 50)
        status, error = await _post(http, f"{emu.control_url}/config", {"nope": 1})
        assert status == 400
        assert "nope" in error["error"]
        _, world, _ = await _get(http, f"{emu.control_url}/world")
        assert len(world["guilds"]) == 3

    async def test_dispatch_messages_guilds(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        client = await connect()
        await client.ready()
        base = emu.control_url
        status, body = await _post(http, f"{base}/dispatch", {"event": "EMU_X", "data": {"a": 1}})
        assert (status, body) == (200, {"sessions": 1})
        assert (await client.recv_dispatch("EMU_X"))["d"] == {"a": 1}
        channel = str(emu.world.text_channel_ids()[0])
        status, message = await _post(
            http, f"{base}/messages", {"channel_id": channel, "content": "c"}
        )
        assert status == 200
        assert (await client.recv_dispatch("MESSAGE_CREATE"))["d"]["id"] == message["id"]
        status, joined = await _post(http, f"{base}/guilds/join", {"name": "Via HTTP"})
        assert status == 200
        status, left = await _post(http, f"{base}/guilds/leave", {"guild_id": joined["guild_id"]})
        assert (status, left) == (200, {"sessions": 1})

    async def test_faults_endpoint(
        self, emu: Emulator, http: aiohttp.ClientSession, connect: Connect
    ) -> None:
        client = await connect()
        await client.ready()
        status, body = await _post(http, f"{emu.control_url}/faults/close", {"code": 4000})
        assert (status, body) == (200, {"result": 1})
        assert await client.closed() == 4000
        status, body = await _post(http, f"{emu.control_url}/faults/close", {"bogus": 1})
        assert status == 400
        status, body = await _post(http, f"{emu.control_url}/faults/nonexistent", {})
        assert status == 404
        status, body = await _post(
            http, f"{emu.control_url}/faults/next_connection", {"hello_delay_s": 0.01}
        )
        assert status == 200
        assert emu.hub.scripts[0].hello_delay_s == 0.01
        assert set(FAULT_NAMES) <= set(dir(emu.faults))

    async def test_wait_endpoint(self, emu: Emulator, http: aiohttp.ClientSession) -> None:
        status, record = await _post(http, f"{emu.control_url}/wait", {"kind": "started"})
        assert status == 200
        assert record["kind"] == "started"
        status, _ = await _post(http, f"{emu.control_url}/wait", {"kind": "never", "timeout": 0.05})
        assert status == 408
