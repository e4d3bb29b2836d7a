"""Reads the sub-second path of the same channel on several nodes at once and prints when each fragment arrived.

Each binary WebSocket message after the init segment is one CMAF chunk; its first `tfdt` (the video track's decode
time, the broadcast's timeline, the same on every node) names it. Prints one JSON object:
{"nodes": [{"url": …, "arrivals": {"<tfdt>": seconds since start, …}}, …]}.
usage: ws_arrivals.py SECONDS WS_URL [WS_URL …]
"""
import asyncio
import json
import struct
import sys
import time

import websockets


def first_tfdt(chunk):
    at = chunk.find(b"tfdt")
    if at < 4:
        return None
    version = chunk[at + 4]
    body = at + 8
    if version == 1:
        return struct.unpack(">Q", chunk[body:body + 8])[0]
    return struct.unpack(">I", chunk[body:body + 4])[0]


async def read(url, started, seconds, arrivals):
    async with websockets.connect(url, max_size=2**24) as ws:
        deadline = started + seconds
        got_init = False
        while time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=max(0.05, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            now = time.monotonic() - started
            if isinstance(message, str):
                continue
            if not got_init:
                got_init = True
                continue
            tfdt = first_tfdt(message)
            if tfdt is not None and str(tfdt) not in arrivals:
                arrivals[str(tfdt)] = now


async def main(seconds, urls):
    started = time.monotonic()
    results = [{"url": url, "arrivals": {}} for url in urls]
    await asyncio.gather(*(read(r["url"], started, seconds, r["arrivals"]) for r in results))
    print(json.dumps({"nodes": results}))


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), sys.argv[2:]))
