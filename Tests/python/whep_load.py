"""Many WHEP viewers from one process, for `liveloop bench webrtc`: aiortc peers that receive the video and count
whole frames as aiortc's jitter buffer reassembles them, without decoding (decoding N streams in Python would measure
Python, not the server).

    whep_load.py BASE CHANNEL VIEWERS SECONDS

Prints one JSON object: viewers connected, frames and packets received, packets lost (RTCP receiver statistics).
"""
import asyncio
import json
import sys
import time
import http.client
import urllib.parse
import urllib.request

import aiortc.rtcrtpreceiver as receiver
from aiortc import RTCPeerConnection, RTCSessionDescription

FRAMES = {}


def counting_worker(loop, input_q, output_q, decode_error):
    """Stands in for aiortc's decoder thread: counts the frames it would decode."""
    key = id(output_q)
    while True:
        task = input_q.get()
        if task is None:
            break
        FRAMES[key] = FRAMES.get(key, 0) + 1


receiver.decoder_worker = counting_worker


def post(url, sdp, source):
    """POSTs the offer from loopback address `source`: the server holds at most 8 WebRTC sessions per client address,
    so the viewers are spread over 127.0.0.x as a crowd from many machines would be."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20, source_address=(source, 0))
    try:
        connection.request("POST", parts.path, body=sdp.encode(), headers={"Content-Type": "application/sdp"})
        response = connection.getresponse()
        return response.status, response.read().decode(), response.getheader("Location")
    finally:
        connection.close()


async def viewer(base, channel, number):
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    status, answer, location = await asyncio.get_running_loop().run_in_executor(
        None, post, f"{base}/live/{channel}/whep", pc.localDescription.sdp, f"127.0.{1 + number // 8 // 250}.{2 + number // 8 % 250}")
    if status != 201:
        await pc.close()
        raise RuntimeError(f"offer refused: {status}")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, location


async def main(base, channel, count, seconds):
    pcs = []
    failures = 0
    for number in range(count):
        try:
            pcs.append(await viewer(base, channel, number))
        except Exception:
            failures += 1
    await asyncio.sleep(3)  # ICE and DTLS
    connected = sum(1 for pc, _ in pcs if pc.connectionState == "connected")
    start_frames = sum(FRAMES.values())
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    frames = sum(FRAMES.values()) - start_frames
    packets = lost = 0
    for pc, _ in pcs:
        for report in (await pc.getStats()).values():
            if report.type == "inbound-rtp":
                packets += report.packetsReceived
                lost += max(report.packetsLost, 0)
    for pc, location in pcs:
        await pc.close()
        try:
            urllib.request.urlopen(urllib.request.Request(base + location, method="DELETE"), timeout=5).read()
        except Exception:
            pass
    print(json.dumps({"viewers": count, "connected": connected, "refused": failures, "seconds": round(elapsed, 2),
                      "framesPerViewerPerSecond": round(frames / max(connected, 1) / elapsed, 2),
                      "packetsReceived": packets, "packetsLost": lost}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
