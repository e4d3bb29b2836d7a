"""Bad input on the interaction WebSocket, from Python's `websockets`: every bad frame gets an error frame with a
stable code, the connection stays open, and nothing else changes. Prints one JSON object with what it saw; the Swift
test that runs this script asserts on it.

usage: ws_bad_input.py WS_URL VIEWER_TOKEN POLL_ID
"""
import asyncio
import json
import sys

import websockets


async def request(ws, frame, want_id=None):
    """Sends a frame and returns the next ack/error/pong (skipping broadcasts)."""
    await ws.send(frame)
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
        if message.get("type") in ("ack", "error", "pong"):
            if want_id is None or message.get("id") == want_id:
                return message


async def main(url, token, poll_id):
    seen = {}
    async with websockets.connect(f"{url}?token={token}", max_size=2**20) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
        seen["hello"] = hello.get("type")
        seen["role"] = hello.get("you", {}).get("role")
        cases = {
            "malformed_json": "{not json",
            "not_an_object": "[1,2,3]",
            "unknown_type": json.dumps({"v": 1, "type": "teleport", "id": "u1"}),
            "oversized": json.dumps({"v": 1, "type": "chat.send", "id": "o1", "text": "x" * 20000}),
            "missing_option": json.dumps({"v": 1, "type": "poll.vote", "id": "m1", "pollID": poll_id, "choices": [42]}),
            "unknown_poll": json.dumps({"v": 1, "type": "poll.vote", "id": "p1", "pollID": "nope", "choices": [0]}),
            "viewer_host_action": json.dumps({"v": 1, "type": "poll.close", "id": "h1", "pollID": poll_id}),
        }
        for name, frame in cases.items():
            reply = await request(ws, frame)
            seen[name] = reply.get("code") if reply.get("type") == "error" else reply.get("type")
            pong = await request(ws, json.dumps({"v": 1, "type": "ping", "id": "alive-" + name}), "alive-" + name)
            seen[name + "_alive"] = pong.get("type") == "pong"
        vote = await request(ws, json.dumps({"v": 1, "type": "poll.vote", "id": "ok1", "pollID": poll_id, "choices": [1]}), "ok1")
        seen["valid_vote"] = vote.get("type")
        again = await request(ws, json.dumps({"v": 1, "type": "poll.vote", "id": "ok2", "pollID": poll_id, "choices": [0]}), "ok2")
        seen["second_vote"] = again.get("code") if again.get("type") == "error" else again.get("type")
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
