"""kill -9 of the room's node in the middle of a vote: every client moves to the other node and nothing acknowledged is lost.

Node A loads the room first (a REST read), so A is the room's node and B follows it. VIEWERS clients connect to each
node, the host launches a poll through B, and half of each node's viewers vote. Then A is killed (SIGKILL, pid given).
Every client reconnects to B with its last seq; B takes the room over from the log. The other half votes through B,
and the first half tries again (a ballot made before the kill must still count once). Prints one JSON object.
With several survivors (HTTP_B,HTTP_C,…) the clients spread over them, before the kill and after; the REST calls go
through the first survivor.
usage: ws_cluster_failover.py HTTP_A HTTP_B[,HTTP_C…] ADMIN_KEY PID_A TOKEN…
"""
import asyncio
import json
import os
import signal
import sys
import time
import websockets

from ws_cluster_room import rest


class Viewer:
    def __init__(self, token):
        self.token = token
        self.ws = None
        self.frames = []
        self.last_seq = None

    async def connect(self, ws_base, deadline):
        while True:
            url = ws_base + "?token=" + self.token + ("&lastSeq=%d" % self.last_seq if self.last_seq else "")
            try:
                self.ws = await websockets.connect(url, open_timeout=3)
                self.frames = []
                asyncio.ensure_future(self.read())
                hello = await self.wait_for(lambda f: f.get("type") == "hello", 5)
                if hello is not None:
                    return hello
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.2)

    async def read(self):
        ws = self.ws
        try:
            async for message in ws:
                frame = json.loads(message)
                self.frames.append(frame)
                if "seq" in frame:
                    self.last_seq = max(self.last_seq or 0, frame["seq"])
                if frame.get("type") == "hello":
                    self.last_seq = max(self.last_seq or 0, frame.get("currentSeq", 0))
        except websockets.ConnectionClosed:
            pass

    async def wait_for(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames:
                if predicate(frame):
                    return frame
            await asyncio.sleep(0.02)
        return None

    async def vote(self, poll, option, request):
        try:
            await self.ws.send(json.dumps({"v": 1, "type": "poll.vote", "id": request, "pollID": poll, "choices": [option]}))
        except websockets.WebSocketException:
            return "send failed"
        reply = await self.wait_for(lambda f: f.get("id") == request, 10) or {}
        return "ack" if reply.get("type") == "ack" else reply.get("code", "no answer")


async def main(http_a, survivors, admin, pid, tokens):
    out = {}
    http_b = survivors[0]
    ws_a = http_a.replace("http://", "ws://") + "/api/v1/channels/show/ws"
    ws_others = [s.replace("http://", "ws://") + "/api/v1/channels/show/ws" for s in survivors]
    out["room_on_a"] = rest(http_a, "GET", "/api/v1/channels/show/room", admin)[0]
    half = len(tokens) // 2
    viewers = [Viewer(t) for t in tokens]
    deadline = time.monotonic() + 20
    hellos = await asyncio.gather(*(v.connect(ws_a if i < half else ws_others[i % len(ws_others)], deadline)
                                    for i, v in enumerate(viewers)))
    out["connected"] = sum(1 for h in hellos if h is not None)

    status, created = rest(http_b, "POST", "/api/v1/channels/show/messages", admin,
                           {"v": 1, "type": "poll.create", "id": "c1", "question": "Left or right?", "options": ["left", "right"],
                            "windowSeconds": 120})
    poll = (created or {}).get("ref")
    status, _ = rest(http_b, "POST", "/api/v1/channels/show/messages", admin, {"v": 1, "type": "poll.launch", "id": "l1", "pollID": poll})
    out["launched"] = status
    await asyncio.gather(*(v.wait_for(lambda f: f.get("type") == "poll" and f.get("phase") == "live") for v in viewers))

    # Before the kill: the first half of each node's viewers vote.
    early = [i for i in range(len(viewers)) if (i % half) < half // 2]
    answers = await asyncio.gather(*(viewers[i].vote(poll, i % 2, "e%d" % i) for i in early))
    acked = {i: i % 2 for i, a in zip(early, answers) if a == "ack"}
    out["acked_before_kill"] = len(acked)
    out["early_answers"] = sorted(set(answers))

    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    # Every client finds itself disconnected (A's directly, B's when B's link to A breaks) and reconnects to B.
    for v in viewers:
        for _ in range(200):
            if v.ws.state.name == "CLOSED":
                break
            await asyncio.sleep(0.05)
    out["all_disconnected"] = all(v.ws.state.name == "CLOSED" for v in viewers)
    deadline = time.monotonic() + 20
    hellos = await asyncio.gather(*(v.connect(ws_others[i % len(ws_others)], deadline) for i, v in enumerate(viewers)))
    out["reconnected"] = sum(1 for h in hellos if h is not None)
    out["failover_seconds"] = round(time.monotonic() - killed, 2)
    live = [p for p in ((hellos[0] or {}).get("snapshot") or {}).get("polls", []) if p.get("pollID") == poll]
    out["poll_live_after"] = bool(live) and live[0].get("phase") == "live"

    late = [i for i in range(len(viewers)) if i not in early]
    answers = await asyncio.gather(*(viewers[i].vote(poll, i % 2, "l%d" % i) for i in late))
    for i, a in zip(late, answers):
        if a == "ack":
            acked[i] = i % 2
    out["late_answers"] = sorted(set(answers))
    again = await asyncio.gather(*(viewers[i].vote(poll, 1 - i % 2, "r%d" % i) for i in early))
    out["revote_answers"] = sorted(set(again))
    out["acked"] = len(acked)
    out["expected_counts"] = [sum(1 for o in acked.values() if o == 0), sum(1 for o in acked.values() if o == 1)]
    status, room = rest(http_b, "GET", "/api/v1/channels/show/room", admin)
    results = [p.get("results") for p in (room or {}).get("polls", []) if p.get("pollID") == poll]
    out["counts"] = (results[0] or {}).get("counts") if results else None
    for v in viewers:
        await v.ws.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2].split(","), sys.argv[3], int(sys.argv[4]), sys.argv[5:]))
