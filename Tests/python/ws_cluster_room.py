"""One room across two nodes: clients on both, the host's REST calls on the node that does not hold the room.

Node A loads the room first (a REST read), so A is the room's node and B follows it. Ada is connected to B and to A
(two connections, one user), Bo to A, Cy to B. The host creates and launches a poll through B. Everyone votes; Ada
votes on both nodes. Ada chats from B. Ada's B connection goes, Bo chats, Ada resumes on A with her last seq. The
host bans Cy through B. Prints one JSON object of what each client saw.
usage: ws_cluster_room.py HTTP_A HTTP_B ADMIN_KEY TOKEN_ADA TOKEN_BO TOKEN_CY TOKEN_DAN
"""
import asyncio
import json
import sys
import urllib.request

import websockets


def rest(base, method, path, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Client:
    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.frames = []
        self.closed = None
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        try:
            async for message in self.ws:
                self.frames.append(json.loads(message))
        except websockets.ConnectionClosed as closed:
            self.closed = closed.code if closed.rcvd else 1006
            return
        self.closed = self.ws.close_code

    async def wait_for(self, predicate, timeout=10):
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for frame in self.frames:
                if predicate(frame):
                    return frame
            await asyncio.sleep(0.02)
        return None

    async def send(self, message):
        await self.ws.send(json.dumps(message))

    def seqs(self, kind):
        return [f["seq"] for f in self.frames if f.get("type") == kind and "seq" in f]


async def connect(name, ws_base, token, last_seq=None):
    url = ws_base + "?token=" + token + ("&lastSeq=%d" % last_seq if last_seq is not None else "")
    client = Client(name, await websockets.connect(url))
    hello = await client.wait_for(lambda f: f.get("type") == "hello")
    return client, hello


async def main(http_a, http_b, admin, ada, bo, cy, dan):
    out = {}
    ws_a = http_a.replace("http://", "ws://") + "/api/v1/channels/show/ws"
    ws_b = http_b.replace("http://", "ws://") + "/api/v1/channels/show/ws"
    out["room_on_a"] = rest(http_a, "GET", "/api/v1/channels/show/room", admin)[0]

    ada_b, _ = await connect("ada@B", ws_b, ada)
    bo_a, _ = await connect("bo@A", ws_a, bo)
    ada_a, _ = await connect("ada@A", ws_a, ada)
    cy_b, _ = await connect("cy@B", ws_b, cy)
    dan_b, hello = await connect("dan@B", ws_b, dan)
    out["hello_viewers"] = (hello.get("snapshot") or {}).get("viewers")

    status, created = rest(http_b, "POST", "/api/v1/channels/show/messages", admin,
                           {"v": 1, "type": "poll.create", "id": "c1", "question": "Tea or coffee?", "options": ["tea", "coffee"]})
    out["create_via_b"] = status
    poll = (created or {}).get("ref")
    status, _ = rest(http_b, "POST", "/api/v1/channels/show/messages", admin, {"v": 1, "type": "poll.launch", "id": "l1", "pollID": poll})
    out["launch_via_b"] = status
    clients = [ada_b, bo_a, ada_a, cy_b, dan_b]
    polls = [await c.wait_for(lambda f: f.get("type") == "poll" and f.get("phase") == "live") for c in clients]
    out["poll_seqs"] = [p.get("seq") if p else None for p in polls]

    async def vote(client, option, request):
        await client.send({"v": 1, "type": "poll.vote", "id": request, "pollID": poll, "choices": [option]})
        reply = await client.wait_for(lambda f: f.get("id") == request)
        reply = reply or {}
        return "ack" if reply.get("type") == "ack" else reply.get("code", str(reply))

    out["votes"] = {
        "ada@B": await vote(ada_b, 0, "v1"),
        "ada@A": await vote(ada_a, 1, "v2"),
        "bo@A": await vote(bo_a, 1, "v3"),
        "cy@B": await vote(cy_b, 1, "v4"),
        "dan@B": await vote(dan_b, 0, "v5"),
    }

    await ada_b.send({"v": 1, "type": "chat.send", "id": "m1", "text": "hello from B"})
    chats = [await c.wait_for(lambda f: f.get("type") == "chat" and f.get("text") == "hello from B") for c in clients]
    out["chat_seqs"] = [c.get("seq") if c else None for c in chats]
    out["chat_ack"] = ((await ada_b.wait_for(lambda f: f.get("id") == "m1")) or {}).get("type")

    await asyncio.sleep(0.3)
    status, room = rest(http_b, "GET", "/api/v1/channels/show/room", admin)
    out["room_via_b"] = status
    results = [p.get("results") for p in (room or {}).get("polls", []) if p.get("pollID") == poll]
    out["counts"] = (results[0] or {}).get("counts") if results else None

    # A quiet link (longer than the nodes' 7 s read timeout) stays up: heartbeats both ways.
    await asyncio.sleep(9)
    await dan_b.send({"v": 1, "type": "chat.send", "id": "m9", "text": "still there?"})
    out["after_quiet"] = (await bo_a.wait_for(lambda f: f.get("type") == "chat" and f.get("text") == "still there?")) is not None
    out["after_quiet_ack"] = ((await dan_b.wait_for(lambda f: f.get("id") == "m9")) or {}).get("type")

    # Ada leaves B; Bo chats; Ada resumes on A after the last seq she had.
    last = max(f["seq"] for f in ada_b.frames if "seq" in f)
    await ada_b.ws.close()
    await bo_a.send({"v": 1, "type": "chat.send", "id": "m2", "text": "while you were away"})
    await bo_a.wait_for(lambda f: f.get("type") == "chat" and f.get("text") == "while you were away")
    ada_back, hello = await connect("ada@A again", ws_a, ada, last_seq=last)
    out["resume_recovered"] = hello.get("recovered")
    missed = await ada_back.wait_for(lambda f: f.get("type") == "chat" and f.get("text") == "while you were away")
    out["resume_missed_chat"] = missed is not None
    out["resume_no_repeat"] = not any(f.get("type") == "chat" and f.get("text") == "hello from B" for f in ada_back.frames)

    # The host bans Cy through B: Cy's connection on B closes; Cy cannot vote again anywhere.
    status, _ = rest(http_b, "POST", "/api/v1/channels/show/messages", admin, {"v": 1, "type": "mod.ban", "id": "b1", "sub": "cy"})
    out["ban_via_b"] = status
    for _ in range(150):
        if cy_b.closed is not None:
            break
        await asyncio.sleep(0.02)
    out["banned_closed"] = cy_b.closed is not None
    try:
        cy_again, hello = await connect("cy@A", ws_a, cy)
        out["banned_rejoin"] = ((await cy_again.wait_for(lambda f: f.get("type") == "error", timeout=3)) or {}).get("code")
    except Exception as error:  # a refused upgrade
        out["banned_rejoin"] = "refused: %s" % error

    for client in [bo_a, ada_a, dan_b, ada_back]:
        await client.ws.close()
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
