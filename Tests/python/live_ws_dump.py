"""Reads the sub-second path (`/live/CHANNEL/ws`) for a while and writes what it got as one fMP4 file.

Prints one JSON object: the init announcement, how many media fragments arrived, and the seconds until the first one.
usage: live_ws_dump.py WS_URL OUT_FILE SECONDS
"""
import asyncio
import json
import sys
import time

import websockets


async def main(url, out, seconds):
    started = time.monotonic()
    summary = {"fragments": 0, "inits": 0}
    with open(out, "wb") as f:
        async with websockets.connect(url, max_size=2**24) as ws:
            deadline = started + seconds
            while time.monotonic() < deadline:
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=max(0.05, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if isinstance(message, str):
                    summary["init"] = json.loads(message)
                    summary["inits"] += 1
                    continue
                if summary["inits"] > 0 and "first_fragment_after" not in summary and summary.get("got_init_segment"):
                    summary["first_fragment_after"] = time.monotonic() - started
                if not summary.get("got_init_segment"):
                    summary["got_init_segment"] = True
                else:
                    summary["fragments"] += 1
                f.write(message)
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
