#!/usr/bin/env python3
"""Real-browser tests of the viewer page and the studio (headless Chromium driven by Selenium).

    python3 Tests/browser/run.py SERVER_URL ADMIN_KEY ARTIFACTS_DIR

The server must be running with a live channel (`liveloop serve --demo` publishes `demo`). Exits non-zero on failure
and prints one JSON summary line last. Checks:

1. The watch page plays the stream over the sub-second WebSocket path: `currentTime` advances, `readyState` >= 3, and
   the playhead latency measured against the stream's program date time is below 1.5 s (method in `measure_latency`).
2. A poll launched through the REST API appears in the page's overlay.
3. A click on an option votes, and the studio (a second browser session, signed in as host) shows the count.
4. A chat message makes a round trip between the two sessions (viewer -> studio, studio -> viewer).
5. Screenshots of the watch page and the studio at 1280x800 and 390x844 are saved to ARTIFACTS_DIR.
6. The watch page recovers (method in `wait_recovered`; measured times in the summary under `recovery`):
   a. from a 3 s network outage: DevTools offline emulation, and since that leaves open WebSockets alone, the page
      loaded through a relay (`Link`) whose link goes down at the same time; once with the connections held (a blip
      TCP survives: `networkOutage`), once with them closed (`networkDrop`); then back online;
   b. from a 5 s tab switch: another tab in front and the watch page frozen meanwhile, then back (`tabSwitch`);
   c. from its publisher reconnecting within the server's reconnect grace: ffmpeg, publishing a channel of its own,
      stopped and started again (`publisherReconnect`): frames of the new publisher play, never an error or offline
      state.
   a and b: within 10 s `currentTime` advances again and `window.liveloopPlayer.latency` is below 1.5 s. c needs
   ffmpeg and the server's RTMP URL (`LIVELOOP_RTMP_URL`, else the one the channel API reports, unless it names
   port 0); without them it is reported as skipped.
7. Neither page logs a JavaScript error.

Identities: viewer tokens come from `POST /api/v1/channels/C/tokens` when the server has it, else from the CLI when
`LIVELOOP_BIN` and `LIVELOOP_DATA` are set (`liveloop token …`), else the admin API key stands in for every
session (the server treats it as a host named "Admin"). The summary says which was used.
Optional: `LIVELOOP_TEST_CHANNEL` (default: `demo`, or the first live channel).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

STARTED = time.monotonic()


class CheckFailed(Exception):
    pass


# --- HTTP helpers ----------------------------------------------------------------------------------------------------

def http(method, url, body=None, bearer=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text


def wait_for_live_channel(server, deadline=20):
    wanted = os.environ.get("LIVELOOP_TEST_CHANNEL")
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            status, channels = http("GET", f"{server}/api/v1/live")
            last = channels
            if status == 200:
                live = [c["name"] for c in channels if c.get("live")]
                if wanted and wanted in live:
                    return wanted
                if not wanted and live:
                    return "demo" if "demo" in live else live[0]
        except OSError as error:
            last = str(error)
        time.sleep(0.3)
    raise CheckFailed(f"no live channel on {server} (last answer: {last})")


def mint_token(server, admin_key, channel, role, sub, name):
    """A signed token for `sub`, and how it was obtained."""
    status, body = http("POST", f"{server}/api/v1/channels/{channel}/tokens",
                        {"role": role, "sub": sub, "name": name, "ttlSeconds": 3600}, bearer=admin_key)
    if status == 200 and isinstance(body, dict) and body.get("token"):
        return body["token"], "api"
    binary, data = os.environ.get("LIVELOOP_BIN"), os.environ.get("LIVELOOP_DATA")
    if binary and data:
        out = subprocess.run([binary, "token", "--channel", channel, "--role", role, "--sub", sub, "--name", name,
                              "--data", data], capture_output=True, text=True, timeout=20)
        token = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else ""
        if token.count(".") == 2:
            return token, "cli"
    return admin_key, "admin-key"


def send_message(server, admin_key, channel, message):
    status, body = http("POST", f"{server}/api/v1/channels/{channel}/messages", {"v": 1, **message}, bearer=admin_key)
    if status != 200 or not isinstance(body, dict) or body.get("type") != "ack":
        raise CheckFailed(f"{message['type']} over REST was refused: HTTP {status} {body}")
    return body


# --- browser helpers -------------------------------------------------------------------------------------------------

def browser(extra=()):
    """Headless Chromium; `extra` adds flags (the fake camera and microphone for publishing pages)."""
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                     "--disable-dev-shm-usage", "--window-size=1280,800", "--mute-audio",
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding", *extra):
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    driver.set_script_timeout(15)
    viewport(driver, 1280, 800)
    return driver


def viewport(driver, width, height):
    mobile = width < 600
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1, "mobile": mobile})


def wait(driver, what, condition, timeout=10):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        raise CheckFailed(f"timed out after {timeout} s waiting for {what}") from None


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def visible(driver, selector):
    elements = driver.find_elements(By.CSS_SELECTOR, selector)
    return elements[0] if elements and elements[0].is_displayed() else None


def javascript_errors(driver):
    errors = []
    try:
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE" and entry.get("source") == "javascript":
                errors.append(entry.get("message"))
    except WebDriverException:
        pass
    return errors


def settle(driver):
    """Waits two animation frames, so a screenshot shows the layout after the last change."""
    driver.execute_async_script("const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));")


# --- checks ----------------------------------------------------------------------------------------------------------

PLAYER_STATE = """
const p = window.liveloopPlayer, v = document.querySelector('video');
return p ? {mode: p.mode, state: p.state, readyState: v.readyState, currentTime: v.currentTime, paused: v.paused,
            clock: p.clock, buffered: p.buffered, rate: v.playbackRate} : null;
"""

# The latency of the frame on screen, computed here from the player's own mapping of media time to wall clock (the
# stream clock from the WebSocket's init frame: wall(t) = wallClock + (t*timescale - mediaTime)/timescale*1000, t a
# decode time). The frame shown at currentTime (a presentation time) was decoded at currentTime - cto, where cto is
# the stream's composition offset (B-frames), so latency = now - wall(currentTime - cto). Same machine: no clock skew.
LATENCY_SAMPLE = """
const p = window.liveloopPlayer, v = document.querySelector('video'), c = p.clock;
const wall = (t) => c.wallClock + ((t * c.timescale - c.mediaTime) / c.timescale) * 1000;
const now = Date.now();
return {latency: (now - wall(v.currentTime - p.compositionOffset)) / 1000,
        presentationLatency: (now - wall(v.currentTime)) / 1000, rate: v.playbackRate, buffered: p.buffered};
"""

# Cross-check of that mapping against the LL-HLS playlist: the last segment's EXT-X-PROGRAM-DATE-TIME must equal the
# mapping applied to that segment's first video decode time (its tfdt), read with the page's own CMAF reader.
PDT_CROSSCHECK = """
const done = arguments[arguments.length - 1];
(async () => {
  const channel = arguments[0];
  const { parseFragment } = await import('/assets/cmaf.js');
  const c = window.liveloopPlayer.clock;
  const text = await (await fetch(`/live/${channel}/media.m3u8`, {cache: 'no-store'})).text();
  const lines = text.split('\\n');
  let pdt = null, uri = null;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const date = lines[i].slice(25).trim();
      for (let j = i + 1; j < lines.length; j++) {
        if (lines[j] && !lines[j].startsWith('#')) { pdt = date; uri = lines[j].trim(); break; }
      }
    }
  }
  if (!uri) return done({error: 'no segment with a program date time in the playlist'});
  const bytes = await (await fetch(new URL(uri, location.origin + `/live/${channel}/`), {cache: 'no-store'})).arrayBuffer();
  const video = parseFragment(bytes)?.find((t) => t.trackID === 1);
  if (!video) return done({error: `no video fragment in ${uri}`});
  const mapped = c.wallClock + ((video.baseDecodeTime - c.mediaTime) / c.timescale) * 1000;
  done({segment: uri, programDateTime: pdt, mappedMs: mapped, differenceMs: mapped - Date.parse(pdt)});
})().catch((error) => done({error: String(error)}));
"""


def check_playback(driver, results):
    wait(driver, "the player to start (window.liveloopPlayer)", lambda d: js(d, PLAYER_STATE), timeout=10)
    state = wait(driver, "readyState >= 3 and a stream clock",
                 lambda d: (s := js(d, PLAYER_STATE)) and s["readyState"] >= 3 and s["clock"] and s, timeout=15)
    if state["mode"] != "ws":
        raise CheckFailed(f"expected the WebSocket (MSE) player, got mode {state['mode']}")
    start = state["currentTime"]
    later = wait(driver, "currentTime to advance by 1.5 s",
                 lambda d: (s := js(d, PLAYER_STATE)) and s["currentTime"] - start >= 1.5 and s, timeout=10)
    if later["readyState"] < 3 or later["paused"]:
        raise CheckFailed(f"video not playing: {later}")
    results["playback"] = {"currentTimeAdvanced": round(later["currentTime"] - start, 3), "readyState": later["readyState"]}


def measure_latency(driver, channel, results, samples=12):
    # Let the rate control settle a moment after start (it seeks to the target at once, then steers ±5 %).
    values = []
    for _ in range(samples):
        values.append(js(driver, LATENCY_SAMPLE))
        time.sleep(0.15)
    latencies = sorted(v["latency"] for v in values)
    median = latencies[len(latencies) // 2]
    check = driver.execute_async_script(PDT_CROSSCHECK, channel)
    results["latency"] = {
        "medianSeconds": round(median, 3), "maxSeconds": round(latencies[-1], 3), "minSeconds": round(latencies[0], 3),
        "presentationMedianSeconds": round(sorted(v["presentationLatency"] for v in values)[len(values) // 2], 3),
        "playbackRates": sorted({round(v["rate"], 3) for v in values}),
        "programDateTimeCheck": check,
    }
    if "error" in check:
        raise CheckFailed(f"program date time cross-check failed: {check['error']}")
    if abs(check["differenceMs"]) > 50:
        raise CheckFailed(f"the player's clock mapping disagrees with EXT-X-PROGRAM-DATE-TIME by {check['differenceMs']:.0f} ms")
    if median >= 1.5:
        raise CheckFailed(f"playhead latency {median:.2f} s is not below 1.5 s")


def open_watch(driver, server, channel, token):
    driver.get(f"{server}/watch/{channel}?token={token}")
    wait(driver, "the watch page to join the room", lambda d: js(d, "return document.getElementById('room-state').dataset.kind") == "open")


def open_studio(driver, server, channel, token):
    driver.get(f"{server}/studio/{channel}?token={token}")
    wait(driver, "the studio to connect", lambda d: js(d, "return document.getElementById('room-state').dataset.kind") == "open"
         and visible(d, "#studio"))


def check_poll(watch, studio, server, admin_key, channel, results):
    question = f"Browser test poll {int(time.time() * 1000) % 100000}"
    ack = send_message(server, admin_key, channel, {"type": "poll.create", "id": "bt1", "question": question,
                                                   "options": ["Tea", "Coffee", "Water"], "windowSeconds": 120})
    poll_id = ack["ref"]
    launched = time.monotonic()
    send_message(server, admin_key, channel, {"type": "poll.launch", "id": "bt2", "pollID": poll_id})
    card = wait(watch, "the poll in the overlay", lambda d: visible(d, f'#overlay .poll[data-poll-id="{poll_id}"]'), timeout=5)
    shown_after = time.monotonic() - launched
    if question not in card.text:
        raise CheckFailed(f"the poll card does not show the question: {card.text!r}")
    button = card.find_element(By.XPATH, ".//button[normalize-space()='Coffee']")
    button.click()
    clicked = time.monotonic()
    wait(watch, "the vote to be acknowledged",
         lambda d: "Vote counted" in (visible(d, f'#overlay .poll[data-poll-id="{poll_id}"]') or card).text, timeout=5)
    row = f'#poll-control [data-poll-id="{poll_id}"] .bar[data-index="1"]'
    wait(studio, "the studio to show the vote", lambda d: js(d, f"return document.querySelector('{row}')?.dataset.count") == "1", timeout=5)
    counted_after = time.monotonic() - clicked
    results["poll"] = {"pollID": poll_id, "overlayAfterSeconds": round(shown_after, 3), "studioCountAfterSeconds": round(counted_after, 3)}
    return poll_id


def chat(driver, text):
    field = driver.find_element(By.CSS_SELECTOR, "#chat-input")
    field.click()
    field.send_keys(text, Keys.ENTER)


def wait_chat_line(driver, text, who):
    return wait(driver, f"{who} to receive {text!r}",
                lambda d: js(d, "return [...document.querySelectorAll('.chat-line .chat-text')].some((e) => e.textContent === arguments[0])", text),
                timeout=5)


def check_chat(watch, studio, results):
    stamp = int(time.time() * 1000) % 1000000
    hello, reply = f"hello from the viewer {stamp}", f"welcome from the studio {stamp}"
    start = time.monotonic()
    chat(watch, hello)
    wait_chat_line(studio, hello, "the studio")
    there = time.monotonic() - start
    chat(studio, reply)
    wait_chat_line(watch, reply, "the viewer")
    results["chat"] = {"viewerToStudioSeconds": round(there, 3), "roundTripSeconds": round(time.monotonic() - start, 3)}


# --- recovery ----------------------------------------------------------------------------------------------------

# What the player says about itself, plus the video element's own view of progress.
PLAYER_SAMPLE = """
const p = window.liveloopPlayer, v = document.querySelector('video');
return p ? {state: p.state, currentTime: p.currentTime, readyState: p.readyState, latency: p.latency, paused: v.paused,
            playheadDate: p.playheadDate,
            seeking: v.seeking, buffered: p.buffered, counters: p.counters, visibility: document.visibilityState,
            states: window.__playerStates || []} : null;
"""

# Records each change of `liveloopPlayer.state` (every 50 ms) and of the page's visibility, so a check can tell what
# the page went through.
TRACE_STATES = """
if (!window.__playerStates) {
  window.__visibilityLog = [];
  setInterval(() => {
    const state = window.liveloopPlayer?.state;
    if (state !== window.__playerStates.at(-1)) window.__playerStates.push(state);
  }, 50);
  document.addEventListener('visibilitychange', () => window.__visibilityLog.push(document.visibilityState));
}
window.__playerStates = [window.liveloopPlayer?.state];
window.__visibilityLog.length = 0;
"""

RECOVERY_TIMEOUT = 10
RECOVERED_LATENCY = 1.5
NETWORK = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


class Link:
    """A TCP relay between the browser and the server whose link can go down, for the network outage check.

    DevTools' offline emulation fails new requests but leaves open WebSockets alone (Chromium issue 423246): alone, it
    would not reach the video feed. While `down`, this relay stops moving bytes and holds new connections (`hold`: a
    short outage that TCP survives), or also closes every open connection (`drop`: a link that changed, as when a
    phone moves from Wi-Fi to mobile data)."""

    def __init__(self, server):
        host_port = server.split("://", 1)[1].split("/", 1)[0]
        host, _, port = host_port.rpartition(":")
        self.target = (host.strip("[]") or "127.0.0.1", int(port or 80))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.sockets = set()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.relay, args=(client,), daemon=True).start()

    def relay(self, client):
        self.up.wait()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            client.close()
            return
        with self.lock:
            self.sockets.update((client, upstream))
        threading.Thread(target=self.pump, args=(upstream, client), daemon=True).start()
        self.pump(client, upstream)

    def pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.up.wait()
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            self.close_socket(end)

    def close_socket(self, end):
        with self.lock:
            self.sockets.discard(end)
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        end.close()

    def down(self, drop):
        self.up.clear()
        if drop:
            with self.lock:
                ends = list(self.sockets)
            for end in ends:
                self.close_socket(end)

    def restore(self):
        self.up.set()

    def close(self):
        self.up.set()
        self.listener.close()
        self.down(drop=True)


def wait_playing(driver, what, timeout=15):
    """Waits until the page plays: currentTime moves between two samples, readyState >= 3, not paused."""
    previous = None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sample = js(driver, PLAYER_SAMPLE)
        if (sample and previous and sample["readyState"] >= 3 and not sample["paused"]
                and sample["currentTime"] > previous["currentTime"]):
            return sample
        previous = sample
        time.sleep(0.25)
    raise CheckFailed(f"timed out after {timeout} s waiting for {what} (last: {previous})")


def wait_recovered(driver, what, since, latency_below=RECOVERED_LATENCY, fresh_after=None, timeout=RECOVERY_TIMEOUT):
    """Seconds from `since` (a time.monotonic()) until the page plays again at low latency.

    Playing again: `currentTime` advanced between two samples 100 ms apart, readyState >= 3 and not paused (so a seek
    alone does not count), and, with `fresh_after` (Unix ms), the frame on screen was ingested after that moment (its
    `playheadDate`; server and test share this machine's clock). Recovered: playing, with `liveloopPlayer.latency`
    below `latency_below` (when given) in two samples running. Fails after `timeout` seconds, or at once on an error
    state."""
    previous, advanced, good = None, None, 0
    while time.monotonic() - since < timeout:
        sample = js(driver, PLAYER_SAMPLE)
        if sample["state"] == "error":
            raise CheckFailed(f"{what}: the player is in its error state: {sample}")
        playing = (previous is not None and sample["readyState"] >= 3 and not sample["paused"]
                   and sample["currentTime"] > previous["currentTime"]
                   and (fresh_after is None or (sample["playheadDate"] or 0) >= fresh_after))
        if playing and advanced is None:
            advanced = time.monotonic() - since
        low = latency_below is None or (sample["latency"] is not None and sample["latency"] < latency_below)
        good = good + 1 if playing and low else 0
        if good >= 2:
            return {"playingAfterSeconds": round(advanced, 2), "recoveredAfterSeconds": round(time.monotonic() - since, 2),
                    "latencySeconds": round(sample["latency"], 3) if sample["latency"] is not None else None,
                    "states": sample["states"], "counters": sample["counters"]}
        previous = sample
        time.sleep(0.1)
    raise CheckFailed(f"{what}: not recovered {timeout} s later (currentTime advancing again: "
                      f"{'after %.2f s' % advanced if advanced is not None else 'no'}; last sample: {previous})")


def check_network_outage(driver, link, results, name, drop, seconds=3):
    """DevTools offline for `seconds` with the relay's link down the same time (see `Link`), then back online."""
    wait_playing(driver, f"playback before the network outage ({name})")
    js(driver, TRACE_STATES)
    driver.execute_cdp_cmd("Network.enable", {})
    start = js(driver, PLAYER_SAMPLE)
    try:
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, **NETWORK})
        link.down(drop)
        time.sleep(seconds)
        during = js(driver, PLAYER_SAMPLE)
    finally:
        link.restore()
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, **NETWORK})
    online = time.monotonic()
    # The outage must have reached the video feed, or this checks nothing: the playhead cannot have moved on by the
    # whole outage on a sub-second buffer.
    moved = during["currentTime"] - start["currentTime"]
    if moved > seconds - 1:
        raise CheckFailed(f"network outage: playback went on offline ({moved:.2f} s in {seconds} s); the emulation did not cut the feed")
    recovered = wait_recovered(driver, f"network outage ({name})", online)
    results.setdefault("recovery", {})[name] = {
        "outageSeconds": seconds, "playedDuringOutageSeconds": round(moved, 2), "stateDuringOutage": during["state"], **recovered}


def check_tab_switch(driver, results, seconds=5):
    """Another tab in front for `seconds`, the watch page frozen meanwhile, as Chrome does to background tabs and
    mobile browsers to a page whose app is switched away from (this harness's Chromium flags keep hidden pages
    running, so hiding alone would change little), then the watch tab active and in front again."""
    wait_playing(driver, "playback before the tab switch")
    js(driver, TRACE_STATES)
    watch_tab = driver.current_window_handle
    start = js(driver, PLAYER_SAMPLE)
    driver.execute_cdp_cmd("Page.setWebLifecycleState", {"state": "frozen"})
    try:
        driver.switch_to.new_window("tab")
        driver.get("about:blank")
        time.sleep(seconds)
        driver.close()
    finally:
        driver.switch_to.window(watch_tab)
        driver.execute_cdp_cmd("Page.setWebLifecycleState", {"state": "active"})
    driver.execute_cdp_cmd("Page.bringToFront", {})
    back = time.monotonic()
    returned = js(driver, PLAYER_SAMPLE)
    hidden = "hidden" in js(driver, "return window.__visibilityLog || []")
    recovered = wait_recovered(driver, "tab switch", back)
    results.setdefault("recovery", {})["tabSwitch"] = {
        "awaySeconds": seconds, "pageWasHidden": hidden, "playedWhileAwaySeconds": round(returned["currentTime"] - start["currentTime"], 2),
        "latencyOnReturnSeconds": returned["latency"] and round(returned["latency"], 3), **recovered}
    if not hidden:
        raise CheckFailed("tab switch: the watch page never became hidden, so the check switched nothing")


def rtmp_base(channel_body):
    """The RTMP URL to publish to: LIVELOOP_RTMP_URL, else the channel API's (unless it names port 0, as a server on
    an ephemeral port does)."""
    url = os.environ.get("LIVELOOP_RTMP_URL") or (channel_body or {}).get("rtmpURL") or ""
    host_port = url.split("://", 1)[-1].split("/", 1)[0]
    if not url or host_port.endswith(":0"):
        return None
    return url.rstrip("/")


def publisher(url):
    """ffmpeg publishing a generated H.264 (B-frames, 1 s GOP) + AAC stream at real-time pace, small to spare the CPU."""
    return subprocess.Popen([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=426x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "2", "-g", "30", "-keyint_min", "30",
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "flv", url,
    ], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(process):
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def channel_live(server, name):
    status, channels = http("GET", f"{server}/api/v1/live")
    return status == 200 and any(c["name"] == name and c.get("live") for c in channels)


def wait_live(server, name, process, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise CheckFailed(f"ffmpeg publishing {name} exited: {process.stderr.read().decode(errors='replace')[-300:]}")
        if channel_live(server, name):
            return
        time.sleep(0.05)
    raise CheckFailed(f"channel {name} was not live {timeout} s after ffmpeg started")


def check_publisher_reconnect(driver, server, admin_key, results, cleanup):
    """A channel of its own, published by ffmpeg; ffmpeg is stopped and started again at once."""
    report = results.setdefault("recovery", {})
    if not shutil.which("ffmpeg"):
        report["publisherReconnect"] = {"skipped": "ffmpeg is not installed"}
        return
    name = f"recovery-{int(time.time() * 1000) % 10000000}"
    status, body = http("POST", f"{server}/api/v1/channels", {"name": name}, bearer=admin_key)
    if status != 201:
        raise CheckFailed(f"could not create channel {name}: HTTP {status} {body}")
    cleanup.append(lambda: http("DELETE", f"{server}/api/v1/channels/{name}", bearer=admin_key))
    base = rtmp_base(body)
    if not base:
        named = os.environ.get("LIVELOOP_RTMP_URL") or body.get("rtmpURL")
        report["publisherReconnect"] = {"skipped": f"no usable RTMP URL ({named!r}); set LIVELOOP_RTMP_URL to rtmp://HOST:PORT/live"}
        print(f"publisher reconnect check skipped: {report['publisherReconnect']['skipped']}", file=sys.stderr)
        return
    url = f"{base}/{body['streamKey']}"
    processes = []
    cleanup.append(lambda: [stop(p) for p in processes])
    processes.append(publisher(url))
    wait_live(server, name, processes[0], timeout=15)
    driver.get(f"{server}/watch/{name}")
    first = wait_playing(driver, f"the watch page of {name} to play")
    wait(driver, f"the watch page of {name} to play 2 s", lambda d: js(d, PLAYER_SAMPLE)["currentTime"] - first["currentTime"] >= 2, timeout=10)
    js(driver, TRACE_STATES)
    before = js(driver, PLAYER_SAMPLE)
    stopped = time.monotonic()
    stop(processes[0])
    gone = time.time() * 1000  # every frame ingested after this came from the second ffmpeg
    processes.append(publisher(url))
    wait_live(server, name, processes[-1], timeout=10)
    gap = time.monotonic() - stopped
    # Playing on: currentTime advances with frames the second ffmpeg published, and no error or offline state.
    recovered = wait_recovered(driver, "publisher reconnect", stopped, latency_below=None, fresh_after=gone)
    after = js(driver, PLAYER_SAMPLE)
    bad = [s for s in after["states"] if s in ("error", "offline")]
    report["publisherReconnect"] = {"channel": name, "publisherAwaySeconds": round(gap, 2),
                                    "currentTimeBefore": round(before["currentTime"], 2), **recovered,
                                    "latencySeconds": after["latency"] and round(after["latency"], 3),
                                    "states": after["states"]}
    if bad:
        raise CheckFailed(f"publisher reconnect: the page went through {bad} (states: {after['states']})")
    if after["currentTime"] <= before["currentTime"]:
        raise CheckFailed(f"publisher reconnect: currentTime did not advance ({before['currentTime']} -> {after['currentTime']})")


def screenshots(watch, studio, artifacts, results):
    saved = []
    for width, height in ((1280, 800), (390, 844)):
        for name, driver in (("watch", watch), ("studio", studio)):
            viewport(driver, width, height)
            driver.execute_script("window.scrollTo(0, 0)")
            settle(driver)
            path = os.path.join(artifacts, f"{name}-{width}x{height}.png")
            if not driver.save_screenshot(path):
                raise CheckFailed(f"could not save {path}")
            saved.append(path)
    results["screenshots"] = saved


def main():
    if len(sys.argv) != 4:
        print("usage: run.py SERVER_URL ADMIN_KEY ARTIFACTS_DIR", file=sys.stderr)
        return 2
    server, admin_key, artifacts = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    os.makedirs(artifacts, exist_ok=True)
    results = {}
    summary = {"ok": False, "server": server}
    drivers = []
    cleanup = []
    step = "setup"
    try:
        channel = wait_for_live_channel(server)
        summary["channel"] = channel
        viewer_token, how = mint_token(server, admin_key, channel, "viewer", "browser-ada", "Ada")
        host_token, _ = mint_token(server, admin_key, channel, "host", "browser-hal", "Hal")
        summary["identities"] = how

        step = "playback"
        watch = browser()
        drivers.append(watch)
        open_watch(watch, server, channel, viewer_token)
        check_playback(watch, results)
        step = "latency"
        measure_latency(watch, channel, results)

        step = "studio"
        studio = browser()
        drivers.append(studio)
        open_studio(studio, server, channel, host_token)

        step = "poll"
        check_poll(watch, studio, server, admin_key, channel, results)
        step = "chat"
        check_chat(watch, studio, results)
        step = "screenshots"
        screenshots(watch, studio, artifacts, results)
        viewport(watch, 1280, 800)

        # The studio's part is done: close it (keeping its console) so the recovery checks have the CPU.
        step = "console"
        errors = {"studio": javascript_errors(studio)}
        studio.quit()
        drivers.remove(studio)

        step = "recovery-network"
        link = Link(server)
        cleanup.append(link.close)
        open_watch(watch, link.url, channel, viewer_token)
        check_network_outage(watch, link, results, "networkOutage", drop=False)
        step = "recovery-network-drop"
        check_network_outage(watch, link, results, "networkDrop", drop=True)
        step = "recovery-tab-switch"
        check_tab_switch(watch, results)
        step = "recovery-publisher"
        check_publisher_reconnect(watch, server, admin_key, results, cleanup)

        step = "console"
        errors["watch"] = javascript_errors(watch)
        errors = {k: v for k, v in errors.items() if v}
        if errors:
            raise CheckFailed(f"JavaScript errors: {errors}")
        summary["ok"] = True
    except (CheckFailed, WebDriverException, OSError, subprocess.SubprocessError) as error:
        summary["failedStep"] = step
        summary["error"] = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        for index, driver in enumerate(drivers):
            try:
                driver.save_screenshot(os.path.join(artifacts, f"failure-{step}-{index}.png"))
                summary.setdefault("consoleErrors", {})[str(index)] = javascript_errors(driver)
            except WebDriverException:
                pass
    finally:
        for driver in drivers:
            try:
                driver.quit()
            except WebDriverException:
                pass
        for undo in reversed(cleanup):
            try:
                undo()
            except (OSError, subprocess.SubprocessError):
                pass
    summary["checks"] = results
    summary["seconds"] = round(time.monotonic() - STARTED, 1)
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())


def summarize(check):
    """Runs `check(summary, drivers)`: it fills the summary and keeps every browser it opens in `drivers`. A check that
    fails, or JavaScript errors on any page, make the summary's `ok` false; every browser is quit; the summary is
    printed as one JSON line last. Returns the exit status."""
    summary = {"ok": False}
    drivers = []
    try:
        check(summary, drivers)
        errors = [e for d in drivers for e in javascript_errors(d)]
        if errors:
            raise CheckFailed(f"JavaScript errors: {errors}")
        summary["ok"] = True
    except CheckFailed as failure:
        summary["error"] = str(failure)
    finally:
        for driver in drivers:
            driver.quit()
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1
