"""TLS on a live Liveloop server, from Python's `ssl`, `http.client` and `websockets`, trusting only the test CA.
Each mode prints one JSON object with what it saw; the Swift test that runs it (TLSTests) asserts on it.

usage:
  tls_checks.py limits PORT CA_FILE PER_ADDRESS_CAP
      the per-address cap answered over TLS, a stalled handshake's fate, a stalled request head's 408 over TLS
  tls_checks.py wss URL CA_FILE TOKEN
      the interaction WebSocket over wss://: hello, then a ping answered
  tls_checks.py reload PORT CA_FILE PID NEW_CERT NEW_KEY CERT KEY
      a kept-alive HTTPS connection across a SIGHUP that installs NEW_CERT/NEW_KEY at CERT/KEY, then one with a broken
      certificate file
"""
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import sys
import time


def context(ca_file):
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    return ctx


def tls_socket(port, ca_file):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context(ca_file).wrap_socket(raw, server_hostname="localhost")


def read_all(sock, deadline=10):
    """Reads until the server closes; returns (bytes, seconds)."""
    start = time.monotonic()
    sock.settimeout(deadline)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ssl.SSLError, ConnectionError, socket.timeout):
        pass
    return data, time.monotonic() - start


def response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None
    try:
        code = json.loads(body).get("error", {}).get("code")
    except ValueError:
        code = None
    return status, code


def limits(port, ca_file, cap):
    seen = {}
    # The per-address cap: `cap` connections held (handshakes done), the next is refused with 429, over TLS.
    held = [tls_socket(port, ca_file) for _ in range(cap)]
    extra = tls_socket(port, ca_file)
    data, _ = read_all(extra)
    seen["over_cap"] = response(data)
    for sock in held + [extra]:
        sock.close()
    time.sleep(0.3)
    # A client that connects and never starts the handshake.
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    data, seconds = read_all(raw, deadline=30)
    seen["stalled_handshake"] = {"closedAfter": round(seconds, 2), "bytes": len(data)}
    raw.close()
    # A handshake that stops halfway: a ClientHello record header and one byte of it.
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    raw.sendall(b"\x16\x03\x01\x00\xc8\x01")
    data, seconds = read_all(raw, deadline=30)
    seen["partial_handshake"] = {"closedAfter": round(seconds, 2)}
    raw.close()
    # A request head that never ends, inside a finished handshake: the guard's 408, encrypted.
    sock = tls_socket(port, ca_file)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
    data, seconds = read_all(sock, deadline=30)
    status, code = response(data)
    seen["stalled_head"] = {"status": status, "code": code, "closedAfter": round(seconds, 2)}
    sock.close()
    print(json.dumps(seen))


async def wss(url, ca_file, token):
    import websockets
    seen = {}
    async with websockets.connect(f"{url}?token={token}", ssl=context(ca_file)) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        seen["hello"] = hello.get("type")
        seen["role"] = hello.get("you", {}).get("role")
        await ws.send(json.dumps({"v": 1, "type": "ping", "id": "p1"}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            if message.get("type") == "pong":
                seen["pong"] = message.get("id")
                break
    print(json.dumps(seen))


def serial(connection):
    return connection.sock.getpeercert()["serialNumber"]


def get(connection):
    connection.request("GET", "/healthz")
    reply = connection.getresponse()
    reply.read()
    return reply.status


def fresh(port, ca_file):
    connection = http.client.HTTPSConnection("localhost", port, context=context(ca_file), timeout=10)
    status = get(connection)
    return connection, status


def reload(port, ca_file, pid, new_cert, new_key, cert, key):
    seen = {}
    kept, status = fresh(port, ca_file)
    seen["before"] = {"status": status, "serial": serial(kept)}
    shutil.copyfile(new_cert, cert)
    shutil.copyfile(new_key, key)
    os.kill(pid, signal.SIGHUP)
    # New connections see the new certificate once the server has read it.
    deadline = time.monotonic() + 10
    while True:
        connection, status = fresh(port, ca_file)
        latest = serial(connection)
        connection.close()
        if latest != seen["before"]["serial"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    seen["newConnection"] = {"status": status, "serial": latest}
    # The connection opened before the reload still works, with the certificate it started with.
    seen["keptConnection"] = {"status": get(kept), "serial": serial(kept)}
    # A broken certificate file: the reload fails and the server keeps serving the one it has.
    with open(cert, "w") as broken:
        broken.write("not a certificate\n")
    os.kill(pid, signal.SIGHUP)
    time.sleep(1.5)
    connection, status = fresh(port, ca_file)
    seen["afterBrokenFile"] = {"status": status, "serial": serial(connection)}
    connection.close()
    seen["keptConnectionAtEnd"] = get(kept)
    kept.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "limits":
        limits(int(args[0]), args[1], int(args[2]))
    elif mode == "wss":
        asyncio.run(wss(args[0], args[1], args[2]))
    elif mode == "reload":
        reload(int(args[0]), args[1], int(args[2]), *args[3:7])
    else:
        sys.exit(f"unknown mode {mode}")
