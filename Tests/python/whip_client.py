"""A WHIP publisher made of aiortc (an independent WebRTC stack), for the WHIP tests.

    whip_client.py publish BASE KEY CODEC SECONDS [keep]   publish a test pattern (640x360, 30 fps) and a 440 Hz tone
                                                            over WHIP with CODEC (H264 or VP8) for SECONDS, then DELETE
                                                            the session (not with `keep`: the process just ends)
    whip_client.py checks  BASE KEY                         the WHIP route's refusals (bearer, SDP, content type, busy…)

Prints one JSON object on stdout.
"""
import asyncio
import json
import sys
import time

from sdp_http import error_code, request
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer


async def publisher(codec):
    """A connection sending a test pattern and a tone, its video restricted to `codec`."""
    pc = RTCPeerConnection()
    video = MediaPlayer("testsrc=size=640x360:rate=30", format="lavfi")
    audio = MediaPlayer("sine=frequency=440:sample_rate=48000", format="lavfi")
    video_sender = pc.addTransceiver(video.video, direction="sendonly")
    pc.addTransceiver(audio.audio, direction="sendonly")
    if codec:
        wanted = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == f"video/{codec.lower()}"]
        video_sender.setCodecPreferences(wanted)
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp, (video, audio)


async def publish(base, key, codec, seconds, keep):
    pc, sdp, players = await publisher(codec)
    loop = asyncio.get_running_loop()
    status, headers, answer = await loop.run_in_executor(None, request, "POST", f"{base}/live/whip", sdp, "application/sdp", key)
    result = {"status": status, "contentType": headers.get("Content-Type"), "location": headers.get("Location")}
    if status != 201:
        result["body"] = answer
        await pc.close()
        return result
    video_section = answer.split("m=video", 1)[1].split("m=", 1)[0]
    result["answerRecvonly"] = "a=recvonly" in video_section
    result["answerCodec"] = next((l.split(" ", 1)[1] for l in video_section.splitlines() if l.startswith("a=rtpmap:")), None)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    started = time.monotonic()
    connected_at = None
    while time.monotonic() - started < seconds:
        if connected_at is None and pc.connectionState == "connected":
            connected_at = time.monotonic() - started
        await asyncio.sleep(0.1)
    result["connectedSeconds"] = None if connected_at is None else round(connected_at, 3)
    result["connectionState"] = pc.connectionState
    stats = await pc.getStats()
    result["outbound"] = {r.kind: r.packetsSent for r in stats.values() if r.type == "outbound-rtp"}
    if not keep:
        location = result["location"]
        result["deleteNoKey"] = (await loop.run_in_executor(None, request, "DELETE", base + location))[0]
        result["deleteWrongKey"] = (await loop.run_in_executor(None, request, "DELETE", base + location, None, "application/sdp", "not-the-key"))[0]
        result["deleteStatus"] = (await loop.run_in_executor(None, request, "DELETE", base + location, None, "application/sdp", key))[0]
        result["deleteAgainStatus"] = (await loop.run_in_executor(None, request, "DELETE", base + location, None, "application/sdp", key))[0]
    await pc.close()
    for player in players:
        for track in (player.audio, player.video):
            if track:
                track.stop()
    return result


async def checks(base, key):
    url = f"{base}/live/whip"
    pc, sdp, _ = await publisher(None)
    await pc.close()
    receiving = sdp.replace("a=sendonly", "a=recvonly")
    out = {}
    for name, body, kind, bearer in [
        ("noBearer", sdp, "application/sdp", None),
        ("wrongKey", sdp, "application/sdp", "not-a-stream-key"),
        ("garbage", "hello, not SDP", "application/sdp", key),
        ("receiveOnly", receiving, "application/sdp", key),
        ("noCodec", sdp.replace("VP8/90000", "AV1X/90000").replace("H264/90000", "H265X/90000"), "application/sdp", key),
        ("noFingerprint", "\r\n".join(l for l in sdp.split("\r\n") if not l.startswith("a=fingerprint")), "application/sdp", key),
        ("wrongType", sdp, "application/json", key),
    ]:
        status, headers, text = request("POST", url, body, kind, bearer)
        out[name] = {"status": status, "code": error_code(text), "authenticate": headers.get("WWW-Authenticate"),
                     "json": headers.get("Content-Type", "").startswith("application/json")}
    status, _, text = request("DELETE", f"{url}/0123456789abcdef0123456789abcdef", None, key=key)
    out["deleteUnknown"] = {"status": status, "code": error_code(text)}
    status, headers, text = request("PATCH", f"{url}/0123456789abcdef0123456789abcdef", "a=candidate:1", "application/trickle-ice-sdpfrag", key)
    out["patch"] = {"status": status, "code": error_code(text), "allow": headers.get("Allow")}
    return out


def main():
    mode, base, key = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "publish":
        keep = len(sys.argv) > 6 and sys.argv[6] == "keep"
        result = asyncio.run(publish(base, key, sys.argv[4], float(sys.argv[5]), keep))
    else:
        result = asyncio.run(checks(base, key))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
