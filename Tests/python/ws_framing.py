#!/usr/bin/env python3
"""Feeds RFC 6455 framing errors to the interaction WebSocket over a raw socket, one case per connection, and prints
{case: close code the server sent (or null)} as JSON. Usage: ws_framing.py HOST PORT PATH [CASE ...]"""
import base64, json, os, socket, struct, sys, time

def handshake(host, port, path):
    s = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk: raise SystemExit("closed during handshake")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status: raise SystemExit(f"no upgrade: {status!r}")
    return s, head.split(b"\r\n\r\n", 1)[1]

def frame(opcode, payload, fin=True, masked=True):
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126: header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536: header = struct.pack("!BBH", first, mask_bit | 126, n)
    else: header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not masked: return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

def close_code(s, buffered, wait):
    """Reads frames until a close frame; returns its code (None if the socket ended without one)."""
    data = buffered
    deadline = time.time() + wait
    while time.time() < deadline:
        while len(data) >= 2:
            opcode = data[0] & 0x0F
            n = data[1] & 0x7F
            offset = 2
            if n == 126: n, offset = struct.unpack("!H", data[2:4])[0], 4
            elif n == 127: n, offset = struct.unpack("!Q", data[2:10])[0], 10
            if len(data) < offset + n: break
            payload = data[offset:offset + n]
            data = data[offset + n:]
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        try:
            s.settimeout(max(0.1, deadline - time.time()))
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            continue
        if not chunk: return None
        data += chunk
    return None

CASES = {
    "invalid_utf8": lambda: [frame(0x1, b'{"v":1,"type":"\xff\xfe"}')],
    "unmasked": lambda: [frame(0x1, b'{"v":1,"type":"ping","id":"p"}', masked=False)],
    "stray_continuation": lambda: [frame(0x0, b'{"v":1}')],
    "oversized_fragmented": lambda: [frame(0x1, b"a" * 40000, fin=False), frame(0x0, b"a" * 40000, fin=False),
                                     frame(0x0, b"a", fin=True)],
    "silent": lambda: [],
}

def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    names = sys.argv[4:] or [n for n in CASES if n != "silent"]
    wait = float(os.environ.get("WAIT", "5"))
    seen = {}
    for name in names:
        s, rest = handshake(host, port, path)
        for f in CASES[name]():
            try: s.sendall(f)
            except OSError: break
        seen[name] = close_code(s, rest, wait)
        s.close()
    print(json.dumps(seen))

if __name__ == "__main__":
    main()
