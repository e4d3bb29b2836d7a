#!/usr/bin/env python3
"""The watch page's WebRTC path in headless Chromium (docs/webrtc.md).

    python3 Tests/browser/webrtc.py SERVER_URL ADMIN_KEY            # a stream without B-frames
    python3 Tests/browser/webrtc.py SERVER_URL ADMIN_KEY --bframes  # a stream with them
    python3 Tests/browser/webrtc.py SERVER_URL ADMIN_KEY --interrupt RTMP_URL  # publishes itself, drops, comes back

Without `--bframes` the server must have a live channel without B-frames and room for exactly one WebRTC viewer
(`--webrtc-max-viewers 1`). A first page opens `/watch/CHANNEL` with no mode: by default it must play over WebRTC —
the video element advances, `getStats` counts decoded frames, and the playhead's latency comes from the RTP clock. A
second page asks for WebRTC outright (`?mode=webrtc`), is refused (`server_full`), and must fall back to the WebSocket
path and play; the two pages' playheads must sit at about the same media time (the time a click carries).

With `--bframes` the stream has B-frames: the page with no mode must give WebRTC up (the answer's `Liveloop-B-Frames`
header) and play over the WebSocket, while `?mode=webrtc` still plays over WebRTC. Prints one JSON summary line last;
exits non-zero on a failed check.
"""

import subprocess
import sys
import time

import run  # the team's helpers: http, browser, wait, js, mint_token, javascript_errors, CheckFailed

STATE = """
const p = window.liveloopPlayer, v = document.getElementById('video');
return p ? {mode: p.mode, state: p.state, latency: p.latency, mediaTime: p.mediaTime, webrtc: p.webrtc, fallbackReason: p.fallbackReason,
            currentTime: v.currentTime, paused: v.paused, readyState: v.readyState,
            width: v.videoWidth, height: v.videoHeight} : null;
"""


def sample(driver):
    return run.js(driver, STATE)


def main():
    server, admin_key = sys.argv[1].rstrip("/"), sys.argv[2]
    if "--interrupt" in sys.argv[3:]:
        rtmp_url = sys.argv[sys.argv.index("--interrupt") + 1]
        return run.summarize(lambda summary, drivers: publisher_drops(server, admin_key, rtmp_url, summary, drivers))
    check = bframes if "--bframes" in sys.argv[3:] else plays_and_falls_back
    return run.summarize(lambda summary, drivers: check(server, admin_key, summary, drivers))


def open_watch(server, admin_key, channel, viewer, drivers, query=""):
    """A Chromium page on /watch/CHANNEL as viewer `viewer` (a minted token), kept in `drivers` for cleanup."""
    token, _ = run.mint_token(server, admin_key, channel, "viewer", viewer, viewer)
    driver = run.browser()
    drivers.append(driver)
    driver.get(f"{server}/watch/{channel}?token={token}{query}")
    return driver


def plays_and_falls_back(server, admin_key, summary, drivers):
    """No B-frames: the page with no mode plays over WebRTC; a refused viewer falls back; their media times agree."""
    channel = run.wait_for_live_channel(server)
    first = open_watch(server, admin_key, channel, "rtc-1", drivers)
    started = time.monotonic()
    run.wait(first, "the page (no mode asked for) to play over WebRTC", lambda d: (s := sample(d)) and s["mode"] == "webrtc"
             and s["state"] == "playing" and s["currentTime"] > 0, timeout=20)
    summary["secondsToPlay"] = round(time.monotonic() - started, 2)
    before = sample(first)
    time.sleep(3)
    after = sample(first)
    if after["mode"] != "webrtc":
        raise run.CheckFailed(f"the first viewer left WebRTC: {after}")
    advanced = after["currentTime"] - before["currentTime"]
    decoded = (after["webrtc"] or {}).get("framesDecoded", 0)
    summary["webrtc"] = {"advancedSeconds": round(advanced, 2), "framesDecoded": decoded,
                         "size": f"{after['width']}x{after['height']}", "packetsLost": (after["webrtc"] or {}).get("packetsLost"),
                         "audioPacketsReceived": (after["webrtc"] or {}).get("audioPacketsReceived", 0)}
    if advanced < 2:
        raise run.CheckFailed(f"the WebRTC video advanced {advanced:.2f} s in 3 s")
    if decoded < 60:
        raise run.CheckFailed(f"getStats shows {decoded} frames decoded")
    if summary["webrtc"]["audioPacketsReceived"] < 50:
        raise run.CheckFailed(f"getStats shows {summary['webrtc']['audioPacketsReceived']} Opus packets received")
    latencies = []
    for _ in range(8):
        latency = sample(first)["latency"]
        if latency is not None:
            latencies.append(latency)
        time.sleep(0.25)
    if not latencies:
        raise run.CheckFailed("no latency from the RTP clock (Liveloop-RTP-Clock and requestVideoFrameCallback)")
    latencies.sort()
    summary["webrtc"]["latencyMedianSeconds"] = round(latencies[len(latencies) // 2], 3)

    second = open_watch(server, admin_key, channel, "rtc-2", drivers, "&mode=webrtc")
    run.wait(second, "the refused viewer to fall back and play", lambda d: (s := sample(d)) and s["mode"] == "ws"
             and s["state"] in ("playing", "behind") and s["currentTime"] > 0, timeout=25)
    fallback = sample(second)
    summary["fallback"] = {"mode": fallback["mode"], "reason": fallback["fallbackReason"]}
    if "WebRTC viewers" not in (fallback["fallbackReason"] or ""):
        raise run.CheckFailed(f"the fallback does not name the refusal: {fallback}")
    # Where each playhead is on the broadcast's timeline, read at once: WebRTC's from the RTP clock, the
    # WebSocket's from the fMP4 times. They differ by the two paths' latencies (well under 2 s), not by a clock.
    rtc_media, ws_media = sample(first)["mediaTime"], sample(second)["mediaTime"]
    summary["mediaTimes"] = {"webrtc": rtc_media, "ws": ws_media}
    if not isinstance(rtc_media, (int, float)) or not isinstance(ws_media, (int, float)) or abs(rtc_media - ws_media) > 2:
        raise run.CheckFailed(f"the playheads' media times disagree: WebRTC {rtc_media}, WebSocket {ws_media}")


def bframes(server, admin_key, summary, drivers):
    """A stream with B-frames: the automatic choice takes the WebSocket, an explicit ?mode=webrtc keeps WebRTC."""
    channel = run.wait_for_live_channel(server)
    page = open_watch(server, admin_key, channel, "rtc-b", drivers)
    run.wait(page, "the page (no mode asked for) to give WebRTC up and play over the WebSocket",
             lambda d: (s := sample(d)) and s["mode"] == "ws" and s["state"] in ("playing", "behind") and s["currentTime"] > 0,
             timeout=25)
    auto = sample(page)
    summary["auto"] = {"mode": auto["mode"], "reason": auto["fallbackReason"]}
    if "B-frames" not in (auto["fallbackReason"] or ""):
        raise run.CheckFailed(f"the page left WebRTC for another reason: {auto}")
    explicit = open_watch(server, admin_key, channel, "rtc-c", drivers, "&mode=webrtc")
    run.wait(explicit, "?mode=webrtc to play over WebRTC all the same",
             lambda d: (s := sample(d)) and s["mode"] == "webrtc" and s["state"] == "playing", timeout=20)
    summary["explicit"] = {"mode": sample(explicit)["mode"]}


def publish(rtmp_url):
    """ffmpeg publishing a test pattern without B-frames (WebRTC's kind) in real time."""
    return subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                             "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "30",
                             "-pix_fmt", "yuv420p", "-f", "flv", rtmp_url], stdin=subprocess.DEVNULL)


def publisher_drops(server, admin_key, rtmp_url, summary, drivers):
    """The publisher drops and comes back within the grace period: the WebRTC page says the picture stopped (it gets no
    word from the server on this path), then plays on over WebRTC when the host is back."""
    encoder = publish(rtmp_url)
    try:
        channel = run.wait_for_live_channel(server)
        page = open_watch(server, admin_key, channel, "rtc-drop", drivers)
        run.wait(page, "the page to play over WebRTC", lambda d: (s := sample(d)) and s["mode"] == "webrtc"
                 and s["state"] == "playing" and s["currentTime"] > 0, timeout=20)
        time.sleep(1)
        encoder.kill()
        encoder.wait()
        dropped = time.monotonic()
        run.wait(page, "the page to say the picture stopped", lambda d: (s := sample(d)) and s["state"] == "interrupted", timeout=8)
        summary["interruptedAfterSeconds"] = round(time.monotonic() - dropped, 2)
        message = run.js(page, "return document.getElementById('player-status')?.textContent ?? ''")
        summary["message"] = message
        if "reconnecting" not in message:
            raise run.CheckFailed(f"the page does not tell the viewer what happened: {message!r}")
        encoder = publish(rtmp_url)
        back = time.monotonic()
        run.wait(page, "the page to play again over WebRTC", lambda d: (s := sample(d)) and s["mode"] == "webrtc"
                 and s["state"] == "playing", timeout=20)
        summary["playingAgainAfterSeconds"] = round(time.monotonic() - back, 2)
        before = sample(page)["currentTime"]
        time.sleep(2)
        after = sample(page)
        summary["advancedSeconds"] = round(after["currentTime"] - before, 2)
        if after["mode"] != "webrtc" or after["currentTime"] - before < 1:
            raise run.CheckFailed(f"the picture did not move again over WebRTC: {before} → {after}")
    finally:
        encoder.kill()


if __name__ == "__main__":
    sys.exit(main())
