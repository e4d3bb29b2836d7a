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
6. Neither page logs a JavaScript error.

Identities: viewer tokens come from `POST /api/v1/channels/C/tokens` when the server has it, else from the CLI when
`LIVELOOP_BIN` and `LIVELOOP_DATA` are set (`liveloop token …`), else the admin API key stands in for every
session (the server treats it as a host named "Admin"). The summary says which was used.
Optional: `LIVELOOP_TEST_CHANNEL` (default: `demo`, or the first live channel).
"""

import json
import os
import subprocess
import sys
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

def browser():
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                     "--disable-dev-shm-usage", "--window-size=1280,800", "--mute-audio",
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
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

        step = "console"
        errors = {name: javascript_errors(d) for name, d in (("watch", watch), ("studio", studio))}
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
    summary["checks"] = results
    summary["seconds"] = round(time.monotonic() - STARTED, 1)
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
