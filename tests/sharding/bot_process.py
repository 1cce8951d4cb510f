"""A bot process for the restart test: handles MESSAGE_CREATE and records what it handled.

Usage: python bot_process.py API_URL TOKEN STORE_PATH OUT_PATH
Writes one line "seq id" per handled message to OUT_PATH (flushed at once), and prints
"connected resumed=<bool>" once the gateway session is live.
"""

from __future__ import annotations

import asyncio
import sys

import tether
from tether.sharding import FileStore


async def main(api_url: str, token: str, store_path: str, out_path: str) -> None:
    out = open(out_path, "a", buffering=1)  # noqa: SIM115, ASYNC230 - line-buffered log of handled ids
    client = tether.Client(
        token,
        api_url=api_url,
        session_store=FileStore(store_path),
        store_interval=0.05,
        identify_window=0.2,
        guild_ready_timeout=1.0,
    )

    @client.on("MESSAGE_CREATE")
    def handled(event: tether.Dispatch) -> None:
        out.write(f"{event.seq} {event.data['id']}\n")

    @client.on(tether.Connected)
    def connected(event: tether.Connected) -> None:
        print(f"connected resumed={event.resumed}", flush=True)

    await client.start()
    await client.wait_stopped()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
