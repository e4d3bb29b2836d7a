"""Holds COUNT sub-second video sockets (`/live/CHANNEL/ws`) open for SECONDS, reading what they send.

Prints one JSON object at the end: how many sockets got their `init` announcement and how many fragments in all.
usage: live_ws_hold.py WS_URL COUNT SECONDS
"""
import asyncio
import json
import sys
import time

import websockets


async def viewer(url, deadline, summary):
    async with websockets.connect(url, max_size=2**24) as ws:
        while time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=max(0.05, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if isinstance(message, str):
                summary["inits"] += 1
            else:
                summary["fragments"] += 1


async def main(url, count, seconds):
    summary = {"inits": 0, "fragments": 0}
    deadline = time.monotonic() + seconds
    await asyncio.gather(*(viewer(url, deadline, summary) for _ in range(count)))
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
