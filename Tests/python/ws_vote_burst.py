"""A burst of votes from many viewers over `websockets`, recording every vote the server acknowledged.

Each viewer connects with its own token, waits for `hello`, then votes once for option (index mod 2). Acked votes are
appended to ACK_FILE as they arrive (one "sub option" line each, flushed), so the record survives when the server is
killed mid-burst. Connection failures after the kill are expected and ignored. Prints a JSON summary.

usage: ws_vote_burst.py WS_URL POLL_ID ACK_FILE TOKEN...
"""
import asyncio
import json
import sys

import websockets


async def viewer(url, token, index, poll_id, acks, start):
    try:
        async with websockets.connect(f"{url}?token={token}") as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            sub = hello.get("you", {}).get("sub")
            await start.wait()
            option = index % 2
            await ws.send(json.dumps({"v": 1, "type": "poll.vote", "id": f"v{index}", "pollID": poll_id, "choices": [option]}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                if message.get("id") == f"v{index}":
                    if message.get("type") == "ack":
                        acks.write(f"{sub} {option}\n")
                        acks.flush()
                        return "ack"
                    return message.get("code", "error")
    except Exception:
        return "lost"


async def main(url, poll_id, ack_file, tokens):
    start = asyncio.Event()
    with open(ack_file, "a") as acks:
        tasks = [asyncio.create_task(viewer(url, t, i, poll_id, acks, start)) for i, t in enumerate(tokens)]
        await asyncio.sleep(1.0)  # let everyone connect
        print("VOTING", flush=True)
        start.set()
        results = await asyncio.gather(*tasks)
    summary = {}
    for r in results:
        summary[r] = summary.get(r, 0) + 1
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
