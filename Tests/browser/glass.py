#!/usr/bin/env python3
"""Glass-to-glass latency in headless Chromium, read from a clock that ffmpeg burns into the picture.

    python3 Tests/browser/glass.py SERVER_URL ADMIN_KEY RTMP_URL CHANNEL [MODE ...]    (modes: webrtc ws hls)

Starts its own ffmpeg publisher to RTMP_URL (rtmp://HOST:PORT/live/STREAM_KEY of CHANNEL): a 640x360 test picture at
30 frames/s whose top 80 rows carry the wall clock, in milliseconds since a base second B, at the moment ffmpeg made
the frame: 24 black/white blocks for the bits (least significant on the left) and below them the same bits
inverted, so a frame caught mid-change (or mangled by the encoder) is recognised and skipped. ffmpeg's `setpts` reads
RTCTIME (its wall clock) for each frame as it is made, `geq` draws the bits, and x264 encodes with the zero-latency
tune and no B-frames.

For each MODE it opens `/watch/CHANNEL?mode=MODE` and, for every frame the page shows (requestVideoFrameCallback),
draws it onto a canvas, reads the blocks, and takes `performance.timeOrigin + expectedDisplayTime − (B·1000 + bits)`:
the time from the frame's making to its display, on the same machine's clock. That covers encoding, RTMP ingest,
the server, the delivery path, the browser's jitter buffer, decoding and compositing — everything but the camera and
the screen. Prints one JSON line: per mode, the frames read, p50/p95/max in ms and the player's own latency figure.
Exits non-zero when a mode yields fewer than 60 readable frames.
"""

import json
import os
import subprocess
import sys
import time

import run  # the team's helpers: http, browser, wait, js, mint_token, CheckFailed

SECONDS = 8

SAMPLER = """
const video = document.getElementById('video');
const canvas = document.createElement('canvas');
const context = canvas.getContext('2d', { willReadFrequently: true });
window.glass = { samples: [], unreadable: 0 };
const base = arguments[0];
const onFrame = (now, metadata) => {
  const width = video.videoWidth, height = video.videoHeight;
  if (width > 0 && height > 0) {
    if (canvas.width !== width) { canvas.width = width; canvas.height = height; }
    context.drawImage(video, 0, 0, width, height);
    const scale = height / 360;
    const row = (y) => context.getImageData(0, Math.round(y * scale), width, 1).data;
    const bits = row(20), check = row(60);
    let value = 0, ok = true;
    for (let i = 0; i < 24; i += 1) {
      const x = Math.floor((i + 0.5) * width / 24) * 4;
      const on = bits[x] + bits[x + 1] + bits[x + 2] > 384;
      const inverse = check[x] + check[x + 1] + check[x + 2] > 384;
      if (on === inverse) { ok = false; break; }
      if (on) value += 2 ** i;
    }
    if (ok) {
      const shownAt = performance.timeOrigin + metadata.expectedDisplayTime;
      window.glass.samples.push(shownAt - (base * 1000 + value));
    } else {
      window.glass.unreadable += 1;
    }
  }
  video.requestVideoFrameCallback(onFrame);
};
video.requestVideoFrameCallback(onFrame);
"""

STATE = """
const p = window.liveloopPlayer, v = document.getElementById('video');
return p ? {mode: p.mode, state: p.state, latency: p.latency, currentTime: v.currentTime} : null;
"""


def publisher(rtmp_url, base, audio=True):
    bar = ("color=c=black:s=640x80:r=30,format=gray,"
           f"setpts='(RTCTIME-{base}000000)/(TB*1000000)',"
           "geq=lum='255*if(lt(Y\\,40)\\,mod(floor(floor(T*1000)/pow(2\\,floor(X*24/W)))\\,2)\\,"
           "1-mod(floor(floor(T*1000)/pow(2\\,floor(X*24/W)))\\,2))',"
           "setpts=N/(30*TB),format=yuv420p[bar]")
    graph = f"testsrc2=s=640x360:r=30[bg];{bar};[bg][bar]overlay=0:0:shortest=1[out0]"
    if audio:
        # In the same graph as the picture, so both are paced together (a second input would be paced on its own,
        # and the muxer would hold video back waiting for audio).
        graph += ";sine=frequency=440:sample_rate=48000:samples_per_frame=960[out1]"
    return subprocess.Popen([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", graph,
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
        *(["-c:a", "aac", "-b:a", "64k"] if audio else []), "-flush_packets", "1", "-f", "flv", rtmp_url,
    ], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def percentile(values, p):
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def measure(server, admin_key, channel, mode, base):
    token, _ = run.mint_token(server, admin_key, channel, "viewer", f"glass-{mode}", f"glass {mode}")
    driver = run.browser()
    try:
        driver.get(f"{server}/watch/{channel}?token={token}&mode={mode}")
        run.wait(driver, f"the {mode} player to play", lambda d: (s := run.js(d, STATE)) and s["mode"] == mode
                 and s["state"] == "playing" and s["currentTime"] > 0, timeout=25)
        # Let the player settle at its latency before reading the clock.
        time.sleep(3)
        run.js(driver, SAMPLER, base)
        time.sleep(SECONDS)
        glass = run.js(driver, "return window.glass")
        state = run.js(driver, STATE)
    finally:
        driver.quit()
    samples = [s for s in glass["samples"] if -1000 < s < 30000]
    if len(samples) < 60:
        raise run.CheckFailed(f"{mode}: only {len(samples)} readable frames in {SECONDS} s ({glass['unreadable']} unreadable)")
    return {"frames": len(samples), "unreadable": glass["unreadable"],
            "p50Ms": round(percentile(samples, 50)), "p95Ms": round(percentile(samples, 95)),
            "maxMs": round(max(samples)), "playerLatencySeconds": state and state["latency"]}


def main():
    server, admin_key, rtmp_url, channel = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
    modes = sys.argv[5:] or ["webrtc"]
    base = int(time.time()) - 2
    summary = {"ok": False, "modes": {}}
    ffmpeg = publisher(rtmp_url, base, audio=os.environ.get("GLASS_AUDIO", "1") != "0")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, channels = run.http("GET", f"{server}/api/v1/live")
            if status == 200 and any(c["name"] == channel and c.get("live") for c in channels):
                break
            if ffmpeg.poll() is not None:
                raise run.CheckFailed(f"ffmpeg exited: {ffmpeg.stderr.read().decode()[-500:]}")
            time.sleep(0.3)
        else:
            raise run.CheckFailed(f"{channel} did not go live")
        for mode in modes:
            summary["modes"][mode] = measure(server, admin_key, channel, mode, base)
        summary["ok"] = True
    except run.CheckFailed as failure:
        summary["error"] = str(failure)
    finally:
        ffmpeg.terminate()
        try:
            ffmpeg.wait(timeout=5)
        except subprocess.TimeoutExpired:
            ffmpeg.kill()
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
