"""A WHEP viewer made of aiortc (an independent WebRTC stack), for the WebRTC tests.

    whep_client.py play   BASE CHANNEL UDP_PORT FRAMES TIMEOUT   receive and decode FRAMES video frames, with garbage
                                                                sent at the server's UDP port half-way; DELETE at the end
    whep_client.py checks BASE CHANNEL                          the WHEP route's refusals (bad SDP, content type, PATCH…)
    whep_client.py full   BASE CHANNEL COUNT                    COUNT offers in a row: the statuses (the cap refuses some)

Prints one JSON object on stdout.
"""
import asyncio
import json
import os
import socket
import sys
import time

from sdp_http import error_code, request
from aiortc import RTCPeerConnection, RTCSessionDescription


async def offer_sdp():
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


def send_garbage(port, answer):
    """Datagrams no session should act on, from an address no binding vouched for."""
    ufrag = next(line.split(":", 1)[1] for line in answer.splitlines() if line.startswith("a=ice-ufrag:"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", port)
    for _ in range(50):
        sock.sendto(os.urandom(200), target)
    # A Binding request naming the real session's ufrag, with no valid MESSAGE-INTEGRITY (a spoofer's guess).
    user = (ufrag + ":abcd").encode()
    pad = (4 - len(user) % 4) % 4
    attrs = b"\x00\x06" + len(user).to_bytes(2, "big") + user + b"\x00" * pad
    attrs += b"\x00\x08\x00\x14" + os.urandom(20)
    stun = b"\x00\x01" + len(attrs).to_bytes(2, "big") + b"\x21\x12\xa4\x42" + os.urandom(12) + attrs
    for _ in range(10):
        sock.sendto(stun, target)
    sock.sendto(b"\x16\xfe\xfd" + os.urandom(100), target)                  # a DTLS record from a stranger
    sock.sendto(b"\x80\x66\x00\x01" + os.urandom(100), target)              # RTP from a stranger
    sock.sendto(b"\x80\xc9\x00\x01" + os.urandom(40), target)               # RTCP from a stranger
    sock.settimeout(0.3)
    answered = 0
    try:
        while True:
            sock.recvfrom(2048)
            answered += 1
    except socket.timeout:
        pass
    sock.close()
    return answered


async def play(base, channel, port, wanted, timeout):
    pc, sdp = await offer_sdp()
    frames = []
    audio = []
    first_frame_at = None
    done = asyncio.Event()
    started = time.monotonic()

    @pc.on("track")
    def on_track(track):
        async def consume():
            nonlocal first_frame_at
            try:
                while len(frames) < wanted:
                    frame = await track.recv()
                    if first_frame_at is None:
                        first_frame_at = time.monotonic()
                    frames.append((frame.width, frame.height))
            finally:
                done.set()

        async def consume_audio():
            try:
                while True:
                    frame = await track.recv()
                    audio.append((frame.sample_rate, frame.samples, frame.pts))
            except Exception:
                pass

        if track.kind == "video":
            asyncio.ensure_future(consume())
        else:
            asyncio.ensure_future(consume_audio())

    status, headers, answer = await asyncio.get_running_loop().run_in_executor(
        None, request, "POST", f"{base}/live/{channel}/whep", sdp)
    result = {"status": status, "contentType": headers.get("Content-Type"), "location": headers.get("Location")}
    if status != 201:
        result["body"] = answer
        await pc.close()
        return result
    audio_section = answer.split("m=audio", 1)[1].split("m=", 1)[0] if "m=audio" in answer else ""
    result["audioInactive"] = "a=inactive" in audio_section
    result["audioOpus"] = "opus/48000/2" in audio_section and "a=sendonly" in audio_section
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    garbage_sent = False
    deadline = time.monotonic() + timeout
    while not done.is_set() and time.monotonic() < deadline:
        if not garbage_sent and len(frames) >= wanted // 3:
            garbage_sent = True
            result["garbageAnswered"] = send_garbage(port, answer)
            result["framesBeforeGarbage"] = len(frames)
        await asyncio.sleep(0.05)
    result["frames"] = len(frames)
    result["audioFrames"] = len(audio)
    result["audioRates"] = sorted({rate for rate, _, _ in audio})
    result["sizes"] = sorted({f"{w}x{h}" for w, h in frames})
    result["firstFrameSeconds"] = None if first_frame_at is None else round(first_frame_at - started, 3)
    stats = await pc.getStats()
    for report in stats.values():
        if report.type == "inbound-rtp":
            result["packetsReceived"] = report.packetsReceived
            result["packetsLost"] = report.packetsLost
    location = result["location"]
    result["deleteStatus"] = (await asyncio.get_running_loop().run_in_executor(None, request, "DELETE", base + location))[0]
    result["deleteAgainStatus"] = (await asyncio.get_running_loop().run_in_executor(None, request, "DELETE", base + location))[0]
    await pc.close()
    return result


async def checks(base, channel):
    url = f"{base}/live/{channel}/whep"
    pc, sdp = await offer_sdp()
    await pc.close()
    out = {}
    for name, body, kind in [
        ("garbage", "hello, not SDP", "application/sdp"),
        ("noVideo", sdp.replace("m=video", "m=text"), "application/sdp"),
        ("noFingerprint", "\r\n".join(l for l in sdp.split("\r\n") if not l.startswith("a=fingerprint")), "application/sdp"),
        ("wrongType", sdp, "application/json"),
    ]:
        status, headers, text = request("POST", url, body, kind)
        out[name] = {"status": status, "code": error_code(text), "json": headers.get("Content-Type", "").startswith("application/json")}
    status, _, text = request("POST", f"{base}/live/nosuchchannel/whep", sdp)
    out["notLive"] = {"status": status, "code": error_code(text)}
    status, _, text = request("DELETE", f"{url}/0123456789abcdef0123456789abcdef")
    out["deleteUnknown"] = {"status": status, "code": error_code(text)}
    status, headers, text = request("PATCH", f"{url}/0123456789abcdef0123456789abcdef", "a=candidate:1", "application/trickle-ice-sdpfrag")
    out["patch"] = {"status": status, "code": error_code(text), "allow": headers.get("Allow")}
    return out


async def full(base, channel, count):
    statuses = []
    codes = []
    pcs = []
    for _ in range(count):
        pc, sdp = await offer_sdp()
        pcs.append(pc)
        status, _, text = request("POST", f"{base}/live/{channel}/whep", sdp)
        statuses.append(status)
        codes.append(error_code(text) if status != 201 else None)
    for pc in pcs:
        await pc.close()
    return {"statuses": statuses, "codes": codes}


def main():
    mode, base, channel = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "play":
        result = asyncio.run(play(base, channel, int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])))
    elif mode == "checks":
        result = asyncio.run(checks(base, channel))
    else:
        result = asyncio.run(full(base, channel, int(sys.argv[4])))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
