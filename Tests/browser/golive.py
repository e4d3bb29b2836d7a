#!/usr/bin/env python3
"""The studio's "Go live from this browser" in headless Chromium with its fake camera and microphone (docs/webrtc.md).

    python3 Tests/browser/golive.py SERVER_URL ADMIN_KEY CHANNEL STREAM_KEY

The channel must be offline. The studio page, signed in as host, goes live with the stream key: it must show "On air",
the server must package the browser's camera as LL-HLS (H.264 and AAC that ffprobe reads, at the camera's size), and
a viewer's watch page with no mode must play it over WebRTC (browser to server to browser). "End broadcast" must take
the page off air and end the publish. A wrong key first must be refused on the page without going live. Prints one
JSON summary line last; exits non-zero on a failed check.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import run  # the team's helpers: http, browser, wait, js, mint_token, javascript_errors, CheckFailed

FAKE_MEDIA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")

WATCH = """
const p = window.liveloopPlayer, v = document.getElementById('video');
return p ? {mode: p.mode, state: p.state, latency: p.latency, webrtc: p.webrtc, currentTime: v.currentTime,
            width: v.videoWidth, height: v.videoHeight} : null;
"""


def text(driver, element_id):
    return run.js(driver, "const e = document.getElementById(arguments[0]); return e && !e.hidden ? e.textContent : null;", element_id)


def playlist(url):
    """The status and text of a playlist."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def probe(url):
    """Codec names and the video's size of the live LL-HLS, as ffprobe reads its start."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json", url],
                         capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout or "{}").get("streams", [])


def main():
    server, admin_key, channel, stream_key = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], sys.argv[4]
    return run.summarize(lambda summary, drivers: go_live(server, admin_key, channel, stream_key, summary, drivers))


def go_live(server, admin_key, channel, stream_key, summary, drivers):
    token, _ = run.mint_token(server, admin_key, channel, "host", "host-1", "Host")
    studio = run.browser(FAKE_MEDIA)
    drivers.append(studio)
    studio.get(f"{server}/studio/{channel}?token={token}")
    run.wait(studio, "the studio to sign in", lambda d: run.js(d, "return !document.getElementById('studio').hidden"), timeout=15)

    # A wrong key: refused on the page, nothing goes live.
    key = studio.find_element(run.By.ID, "golive-key")
    key.clear()
    key.send_keys("sk_not_this_channels_key")
    studio.find_element(run.By.ID, "golive-start").click()
    run.wait(studio, "the wrong key's refusal", lambda d: (t := text(d, "golive-status")) and "refused" in t, timeout=15)
    summary["wrongKey"] = text(studio, "golive-status")
    if text(studio, "golive-state") != "Off air":
        raise run.CheckFailed(f"a refused key left the page at {text(studio, 'golive-state')!r}")

    key.clear()
    key.send_keys(stream_key)
    started = time.monotonic()
    studio.find_element(run.By.ID, "golive-start").click()
    run.wait(studio, "the studio to be on air", lambda d: text(d, "golive-state") == "On air", timeout=20)
    summary["secondsToOnAir"] = round(time.monotonic() - started, 2)
    deadline = time.monotonic() + 20
    while playlist(f"{server}/live/{channel}/media.m3u8")[0] != 200:
        if time.monotonic() > deadline:
            raise run.CheckFailed("the browser's stream never reached LL-HLS")
        time.sleep(0.1)
    summary["secondsToPlaylist"] = round(time.monotonic() - started, 2)
    # ffprobe reads whole segments: wait for the first to close.
    while "#EXTINF" not in playlist(f"{server}/live/{channel}/media.m3u8")[1]:
        if time.monotonic() > deadline:
            raise run.CheckFailed("the browser's stream never made a whole segment")
        time.sleep(0.2)
    streams = probe(f"{server}/live/{channel}/index.m3u8")
    summary["hls"] = streams
    video = next((s for s in streams if s.get("codec_name") == "h264"), None)
    if not video or not any(s.get("codec_name") == "aac" for s in streams):
        raise run.CheckFailed(f"LL-HLS is not H.264 and AAC: {streams}")
    camera = run.js(studio, "const v = document.getElementById('golive-camera'); return [v.videoWidth, v.videoHeight];")
    summary["camera"] = camera
    if [video.get("width"), video.get("height")] != camera:
        raise run.CheckFailed(f"LL-HLS is {video.get('width')}x{video.get('height')}, the camera {camera}")

    # A viewer's watch page, no mode asked: WebRTC, browser to server to browser.
    viewer_token, _ = run.mint_token(server, admin_key, channel, "viewer", "viewer-1", "Viewer")
    watch = run.browser()
    drivers.append(watch)
    watch.get(f"{server}/watch/{channel}?token={viewer_token}")
    run.wait(watch, "the watch page to play", lambda d: (s := run.js(d, WATCH)) and s["state"] == "playing" and s["currentTime"] > 0, timeout=20)
    before = run.js(watch, WATCH)
    time.sleep(3)
    after = run.js(watch, WATCH)
    summary["watch"] = {"mode": after["mode"], "advancedSeconds": round(after["currentTime"] - before["currentTime"], 2),
                        "latency": after["latency"], "size": f"{after['width']}x{after['height']}",
                        "framesDecoded": (after["webrtc"] or {}).get("framesDecoded")}
    if after["mode"] != "webrtc":
        raise run.CheckFailed(f"the watch page took {after['mode']}, not WebRTC, for a browser's stream (no B-frames): {after}")
    if after["currentTime"] - before["currentTime"] < 2:
        raise run.CheckFailed(f"the watch page's video did not advance: {before} → {after}")

    studio.find_element(run.By.ID, "golive-stop").click()
    run.wait(studio, "the studio to be off air", lambda d: text(d, "golive-state") == "Off air", timeout=10)
    summary["ended"] = True


if __name__ == "__main__":
    sys.exit(main())
