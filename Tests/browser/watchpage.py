#!/usr/bin/env python3
"""The watch page as a new viewer finds it (headless Chromium, 1280x800 and 390x844), against streams ffmpeg publishes.

    LIVELOOP_RTMP_URL=rtmp://127.0.0.1:PORT/live python3 Tests/browser/watchpage.py SERVER_URL ADMIN_KEY ARTIFACTS_DIR

Each check publishes a channel of its own with ffmpeg (`LIVELOOP_RTMP_URL`, else the URL the channel API reports):

1. overlay: a revealed poll's results, then a 4-option quiz question: the question card is whole (inside the overlay,
   nothing to scroll, Submit not covered) and the results card is hidden meanwhile; the player's status text is above
   the cards; the results leave by themselves; a viewer who joins after the quiz ended sees no finished card.
2. guest: a guest who cannot chat is not told "Say hello!"; a viewer who can is.
3. shelf: with no offers the stream card is one row (no empty shelf); with an offer the shelf shows it.
4. phoneChat: at 390x844 with the keyboard up (the viewport 390x480), the chat field focused: the video stays in view
   above it.
5. gift: a paid gift's button shows its price; a click asks first (nothing is sent), Cancel sends nothing, Send does.
6. publisherStop: ffmpeg stops: the page says the host is offline (not "Connection lost"), the "behind live" counter
   is gone and a placeholder covers the last frame; after the reconnect grace, "The broadcast has ended"; a new
   broadcast plays again.
7. slowPublisher: ffmpeg at `-readrate 0.88` (14 s behind after two minutes, uncorrected): the page holds its target (no "can't keep up"), and a poll
   launched after 30 s shows within 1.5 s (the stream clock follows the media as it arrives).
8. jitteryAudio: audio timestamps jittered by ±30 ms (`-bsf:a setts`): the picture keeps moving (video frames
   presented, counted with requestVideoFrameCallback) while the page says LIVE.
9. latencyTarget: the viewer's own target in the page's module, with time passed in: raised to 6 s by a stall
   episode, back at the shared target within a minute of calm; held where the data still arrives late; a new broadcast
   starts from the shared target; raising it is a `behind` event, never a player state (the studio's preview shows
   player states only).
Screenshots of the fixed states land in ARTIFACTS_DIR (`watchpage-*.png`). Prints one JSON line last:
{"ok": bool, "failedStep": …, "error": …, "checks": {…}}.
"""

import json
import os
import subprocess
import sys
import time

from selenium.webdriver.common.by import By

import run  # the team's helpers: http, browser, viewport, wait, js, mint_token, send_message, settle, CheckFailed

CheckFailed = run.CheckFailed
SERVER, ADMIN, ARTIFACTS = (sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]) if len(sys.argv) == 4 else (None, None, None)
checks = {}
cleanup = []


# --- channels and publishers -----------------------------------------------------------------------------------------

def new_channel(prefix):
    name = f"{prefix}-{int(time.time() * 1000) % 10000000}"
    status, body = run.http("POST", f"{SERVER}/api/v1/channels", {"name": name}, bearer=ADMIN)
    if status != 201:
        raise CheckFailed(f"could not create channel {name}: HTTP {status} {body}")
    cleanup.append(lambda: run.http("DELETE", f"{SERVER}/api/v1/channels/{name}", bearer=ADMIN))
    base = run.rtmp_base(body)
    if not base:
        raise CheckFailed("no usable RTMP URL: set LIVELOOP_RTMP_URL to rtmp://HOST:PORT/live")
    return name, f"{base}/{body['streamKey']}"


def publish(url, *, readrate=None, audio_bsf=None, seconds=None):
    """ffmpeg publishing a generated H.264 (B-frames, 1 s GOP) + AAC stream: at real time, or at `readrate` of it."""
    pace = ["-readrate", str(readrate)] if readrate else ["-re"]
    process = subprocess.Popen([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *pace,
        "-f", "lavfi", "-i", "testsrc2=size=426x240:rate=30", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000",
        *(["-t", str(seconds)] if seconds else []),
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-bf", "2", "-g", "30", "-keyint_min", "30",
        "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
        *(["-bsf:a", audio_bsf] if audio_bsf else []), "-f", "flv", url,
    ], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cleanup.append(lambda: run.stop(process))
    return process


def live_channel(prefix, **options):
    name, url = new_channel(prefix)
    process = publish(url, **options)
    run.wait_live(SERVER, name, process, timeout=20)
    return name, url, process


def host(channel, message):
    return run.send_message(SERVER, ADMIN, channel, message)


def viewer_token(channel, sub):
    token, how = run.mint_token(SERVER, ADMIN, channel, "viewer", sub, sub.capitalize())
    if how != "api":
        raise CheckFailed(f"no viewer token from the API ({how})")
    return token


def open_watch(driver, channel, token=None, query=""):
    """The watch page, as the viewer `token` names, or as a guest with nothing stored from an earlier visit."""
    if not token:
        driver.get(f"{SERVER}/watch/{channel}{query}")
        driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.get(f"{SERVER}/watch/{channel}{query}" + (f"{'&' if query else '?'}token={token}" if token else ""))
    # A guest is in the room where the channel lets guests in; elsewhere the page offers to join.
    run.wait(driver, "the watch page to join the room (or, for a guest, to offer joining)",
             lambda d: run.js(d, "return document.getElementById('room-state').dataset.kind") == "open"
             or (not token and showing(d, "#join-form")), timeout=15)
    run.wait_playing(driver, f"{channel} to play", timeout=20)


def showing(driver, selector):
    """Whether an element matching `selector` is rendered (read in the page: cards are re-rendered as they change)."""
    return run.js(driver, "return [...document.querySelectorAll(arguments[0])].some((e) => e.checkVisibility())", selector)


def shot(driver, name):
    run.settle(driver)
    path = os.path.join(ARTIFACTS, f"watchpage-{name}.png")
    driver.save_screenshot(path)
    checks.setdefault("screenshots", []).append(path)


RECT = "const r = arguments[0].getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height};"


def rect(driver, element):
    return run.js(driver, RECT, element)


def inside(inner, outer, slack=1):
    return (inner["top"] >= outer["top"] - slack and inner["bottom"] <= outer["bottom"] + slack
            and inner["left"] >= outer["left"] - slack and inner["right"] <= outer["right"] + slack)


def uncovered(driver, element):
    """Whether a click at the element's centre lands on it (nothing drawn over it)."""
    return run.js(driver, """const e = arguments[0], r = e.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); return !!hit && (hit === e || e.contains(hit));""", element)


# --- 1. overlay ------------------------------------------------------------------------------------------------------

def check_overlay(driver):
    channel, _, _ = live_channel("overlay")
    report = checks.setdefault("overlay", {})
    poll = host(channel, {"type": "poll.create", "id": "o1", "question": "Which colour next?", "options": ["Red", "Blue"]})["ref"]
    quiz = host(channel, {"type": "quiz.create", "id": "o2", "title": "Warm-up", "questions": [
        {"prompt": "Which planet is the largest?", "options": ["Mercury", "Venus", "Jupiter", "Mars"], "correct": [2], "windowSeconds": 60},
    ]})["ref"]
    for width, height in ((1280, 800), (390, 844)):
        run.viewport(driver, width, height)
        open_watch(driver, channel, viewer_token(channel, f"quizzer{width}"))
        if width == 1280:
            # Results on screen, then the next question: it must not be pushed down under them.
            host(channel, {"type": "poll.launch", "id": "o3", "pollID": poll})
            host(channel, {"type": "poll.reveal", "id": "o4", "pollID": poll})
            run.wait(driver, "the poll's results", lambda d: run.visible(d, '#overlay .poll[data-phase="revealed"]'), timeout=8)
            host(channel, {"type": "quiz.next", "id": "o5", "quizID": quiz})
        card = run.wait(driver, "the quiz question", lambda d: run.visible(d, '#overlay .quiz[data-phase="asking"]'), timeout=8)
        run.wait(driver, "the results to make way", lambda d: not showing(d, "#overlay .poll"), timeout=3)
        overlay = driver.find_element(By.ID, "overlay")
        submit = card.find_element(By.XPATH, ".//button[normalize-space()='Submit answer']")
        options = card.find_elements(By.CSS_SELECTOR, ".option")
        scroll = run.js(driver, "const o = arguments[0]; return {scrollHeight: o.scrollHeight, clientHeight: o.clientHeight};", overlay)
        whole = inside(rect(driver, card), rect(driver, overlay)) and scroll["scrollHeight"] <= scroll["clientHeight"] + 1
        if width == 1280:
            whole = whole and inside(rect(driver, card), rect(driver, driver.find_element(By.CSS_SELECTOR, ".video-frame")))
        # The page at rest, scrolled so the card is in view (on a phone it sits under the video).
        driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'})", card)
        reachable = len(options) == 4 and all(uncovered(driver, e) for e in options + [submit])
        # Status text (say a reconnect) is drawn above the cards wherever they meet.
        status_above = run.js(driver, """const s = document.getElementById('player-status'), c = arguments[0];
            s.hidden = false; s.textContent = 'The host is offline right now — the stream continues here when they\\'re back.';
            const a = s.getBoundingClientRect(), b = c.getBoundingClientRect();
            const x = Math.max(a.left, b.left), r = Math.min(a.right, b.right), y = Math.max(a.top, b.top), t = Math.min(a.bottom, b.bottom);
            const z = (e) => Number(getComputedStyle(e).zIndex) || 0;
            const hit = x < r && y < t ? document.elementFromPoint((x + r) / 2, (y + t) / 2) : null;
            const result = hit ? s.contains(hit) : z(s) > z(document.getElementById('overlay'));
            s.hidden = true; return result;""", card)
        report[f"{width}x{height}"] = {"questionWhole": whole, "answersAndSubmitReachable": reachable, "statusAboveCards": status_above, **scroll}
        shot(driver, f"quiz-{width}x{height}")
        if not whole or not reachable or not status_above:
            raise CheckFailed(f"overlay at {width}x{height}: {report[f'{width}x{height}']}")
    # The revealed poll leaves by itself (15 s after its reveal), even with nothing else on screen.
    host(channel, {"type": "quiz.end", "id": "o6", "quizID": quiz})
    run.viewport(driver, 1280, 800)
    open_watch(driver, channel, viewer_token(channel, "latecomer"))
    time.sleep(2)
    late = run.js(driver, "return [...document.querySelectorAll('#overlay .card')].filter((c) => c.offsetParent).map((c) => c.dataset.phase)")
    report["lateJoinerCards"] = late
    if late:
        raise CheckFailed(f"a viewer who joined after the poll and the quiz sees finished cards: {late}")
    shot(driver, "late-joiner-1280x800")
    poll2 = host(channel, {"type": "poll.create", "id": "o7", "question": "Again?", "options": ["Yes", "No"]})["ref"]
    host(channel, {"type": "poll.launch", "id": "o8", "pollID": poll2})
    host(channel, {"type": "poll.reveal", "id": "o9", "pollID": poll2})
    run.wait(driver, "the second poll's results", lambda d: run.visible(d, '#overlay .poll[data-phase="revealed"]'), timeout=8)
    shown = time.monotonic()
    run.wait(driver, "the results to leave by themselves", lambda d: not showing(d, "#overlay .poll"), timeout=25)
    report["resultsLeftAfterSeconds"] = round(time.monotonic() - shown, 1)
    if report["resultsLeftAfterSeconds"] < 10:
        raise CheckFailed(f"the results left after {report['resultsLeftAfterSeconds']} s: too soon to read them")
    return channel


# --- 2-5. chat, shelf, phone, gifts ----------------------------------------------------------------------------------

def check_guest_and_viewer(driver, channel):
    run.viewport(driver, 1280, 800)
    # A watch-only channel: guests are in the room (they see the chat) but cannot write.
    status, body = run.http("PUT", f"{SERVER}/api/v1/channels/{channel}/audience", {"join": "guests"}, bearer=ADMIN)
    if status != 200:
        raise CheckFailed(f"could not make {channel} watch-only: HTTP {status} {body}")
    open_watch(driver, channel)
    guest = run.wait(driver, "the empty chat", lambda d: run.js(d, "return document.querySelector('.chat-log .empty')?.textContent"), timeout=5)
    shot(driver, "guest-1280x800")
    run.http("PUT", f"{SERVER}/api/v1/channels/{channel}/audience", {"join": "open"}, bearer=ADMIN)
    open_watch(driver, channel, viewer_token(channel, "chatter"))
    viewer = run.wait(driver, "the empty chat", lambda d: run.js(d, "return document.querySelector('.chat-log .empty')?.textContent"), timeout=5)
    checks["guest"] = {"guestSees": guest, "viewerSees": viewer}
    if "hello" in guest.lower() or "hello" not in viewer.lower():
        raise CheckFailed(f"empty chat: a guest sees {guest!r}, a viewer {viewer!r}")


def check_shelf(driver, channel):
    run.viewport(driver, 1280, 800)
    open_watch(driver, channel, viewer_token(channel, "shopper"))
    card = driver.find_element(By.CSS_SELECTOR, ".stream-card")
    empty = rect(driver, card)
    shelf_shown = run.js(driver, "return !!document.querySelector('.stream-card .shelf').offsetParent")
    shot(driver, "no-offers-1280x800")
    host(channel, {"type": "offer.show", "id": "s1", "offer": {"offerID": "tee", "title": "Liveloop tee", "price": "19.99",
                                                              "currency": "EUR", "link": "https://example.com/tee"}})
    run.wait(driver, "the offer in the shelf", lambda d: run.visible(d, '.shelf-offers [data-offer-id="tee"]'), timeout=8)
    full = rect(driver, card)
    checks["shelf"] = {"emptyCardHeight": round(empty["height"]), "emptyShelfShown": shelf_shown, "withOfferCardHeight": round(full["height"])}
    host(channel, {"type": "offer.hide", "id": "s2", "offerID": "tee"})
    if shelf_shown or empty["height"] > 90:
        raise CheckFailed(f"an empty shelf takes room under the video: {checks['shelf']}")


def check_phone_chat(driver, channel):
    run.viewport(driver, 390, 844)
    open_watch(driver, channel, viewer_token(channel, "typist"))
    field = driver.find_element(By.ID, "chat-input")
    field.click()
    field.send_keys("hello from the phone")
    # The keyboard takes the bottom of the screen: what is left is 390x480, and the field must be in view.
    run.viewport(driver, 390, 480)
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", field)
    run.settle(driver)
    height = run.js(driver, "return innerHeight")
    video, box = rect(driver, driver.find_element(By.CSS_SELECTOR, ".video-frame")), rect(driver, field)
    checks["phoneChat"] = {"viewportHeight": height, "video": video, "field": box}
    shot(driver, "phone-typing-390x480")
    run.viewport(driver, 390, 844)
    if not (video["top"] >= -1 and video["bottom"] <= box["top"] + 1 and box["bottom"] <= height + 1):
        raise CheckFailed(f"typing on a phone: the video is not in view above the field: {checks['phoneChat']}")


def check_gift(driver, channel):
    run.viewport(driver, 1280, 800)
    open_watch(driver, channel, viewer_token(channel, "giver"))
    star = run.wait(driver, "the Star gift", lambda d: run.visible(d, '#gift-picker [data-gift-id="star"]'), timeout=5)
    label = star.text.replace("\n", " ")
    gifts = "return window.__gifts"
    run.js(driver, "window.__gifts = 0; new MutationObserver((m) => { for (const r of m) window.__gifts += r.addedNodes.length; })"
                   ".observe(document.getElementById('gift-layer'), {childList: true});")
    star.click()
    confirm = run.wait(driver, "the confirmation", lambda d: run.visible(d, "#gift-picker .gift-confirm"), timeout=3)
    question = confirm.text.replace("\n", " ")
    shot(driver, "gift-confirm-1280x800")
    time.sleep(1)
    sent_before_yes = run.js(driver, gifts)
    confirm.find_element(By.XPATH, ".//button[normalize-space()='Cancel']").click()
    run.wait(driver, "the picker again", lambda d: run.visible(d, '#gift-picker [data-gift-id="star"]'), timeout=3)
    time.sleep(1)
    sent_after_cancel = run.js(driver, gifts)
    driver.find_element(By.CSS_SELECTOR, '#gift-picker [data-gift-id="star"]').click()
    run.wait(driver, "the confirmation", lambda d: run.visible(d, "#gift-picker .gift-confirm"), timeout=3) \
        .find_element(By.XPATH, ".//button[normalize-space()='Send']").click()
    run.wait(driver, "the gift over the video", lambda d: run.js(d, gifts) > 0, timeout=5)
    checks["gift"] = {"button": label, "question": question, "sentBeforeYes": sent_before_yes, "sentAfterCancel": sent_after_cancel}
    if "10" not in label or "10" not in question or sent_before_yes or sent_after_cancel:
        raise CheckFailed(f"paid gift: {checks['gift']}")


# --- 6. the publisher stops ------------------------------------------------------------------------------------------

STATUS = """const s = document.getElementById('player-status'); return {state: window.liveloopPlayer.state,
  status: s.hidden ? '' : s.textContent, room: document.getElementById('room-state').textContent,
  latency: document.getElementById('latency').textContent, placeholder: !document.getElementById('stream-placeholder').hidden,
  live: !document.getElementById('live-badge').hidden};"""


def check_publisher_stop(driver):
    channel, url, process = live_channel("stop")
    report = checks.setdefault("publisherStop", {})
    for width, height in ((1280, 800), (390, 844)):
        run.viewport(driver, width, height)
        open_watch(driver, channel)
        time.sleep(1.5)
        run.stop(process)
        away = run.wait(driver, "the page to say the host is offline",
                        lambda d: (s := run.js(d, STATUS)) and s["state"] == "interrupted" and s, timeout=6)
        samples = []
        for _ in range(6):
            samples.append(run.js(driver, STATUS))
            time.sleep(0.5)
        shot(driver, f"host-offline-{width}x{height}")
        texts = " ".join(s["status"] + " " + s["room"] for s in samples)
        counter = sorted({s["latency"] for s in samples if s["latency"]})
        report[f"{width}x{height}"] = {"away": away, "latencyTexts": counter}
        if "Connection lost" in texts or "host is offline" not in away["status"] or counter or not all(s["placeholder"] for s in samples) \
                or any(s["live"] for s in samples):
            raise CheckFailed(f"publisher stopped at {width}x{height}: {report[f'{width}x{height}']} {samples[-1]}")
        ended = run.wait(driver, "the page to say the broadcast ended",
                         lambda d: (s := run.js(d, STATUS)) and "ended" in s["status"] and s, timeout=20)
        report[f"{width}x{height}"]["ended"] = ended
        if not ended["placeholder"] or ended["latency"]:
            raise CheckFailed(f"broadcast ended at {width}x{height}: {ended}")
        shot(driver, f"broadcast-ended-{width}x{height}")
        # A new broadcast plays again, the placeholder gone.
        process = publish(url)
        run.wait_live(SERVER, channel, process, timeout=20)
        run.wait(driver, "the new broadcast to play", lambda d: (s := run.js(d, STATUS)) and s["state"] == "playing" and not s["placeholder"], timeout=20)
    run.stop(process)


# --- 7. a publisher slower than real time ----------------------------------------------------------------------------

def check_slow_publisher(driver):
    channel, _, process = live_channel("slow", readrate=0.88)
    run.viewport(driver, 1280, 800)
    open_watch(driver, channel, viewer_token(channel, "patient"))
    started = time.monotonic()
    run.js(driver, "window.__behind = false; setInterval(() => { if (window.liveloopPlayer.behind) window.__behind = true; }, 100);")
    latencies, times = [], []
    while time.monotonic() - started < 28:
        sample = run.js(driver, run.PLAYER_SAMPLE)
        if sample["latency"] is not None:
            latencies.append(sample["latency"])
        times.append((time.monotonic(), sample["currentTime"]))
        time.sleep(1)
    poll = host(channel, {"type": "poll.create", "id": "w1", "question": "Still with us?", "options": ["Yes", "No"]})["ref"]
    launched = time.monotonic()
    host(channel, {"type": "poll.launch", "id": "w2", "pollID": poll})
    run.wait(driver, "the poll", lambda d: run.visible(d, f'#overlay .poll[data-poll-id="{poll}"]'), timeout=15)
    shown_after = time.monotonic() - launched
    behind = run.js(driver, "return window.__behind")
    notice = run.js(driver, "const n = document.getElementById('sync-notice'); return n.hidden ? '' : n.textContent")
    played = (times[-1][1] - times[2][1]) / (times[-1][0] - times[2][0])
    late = sorted(latencies[5:])
    checks["slowPublisher"] = {"pollShownAfterSeconds": round(shown_after, 2), "toldBehind": behind, "notice": notice,
                               "latencyMedian": round(late[len(late) // 2], 2) if late else None,
                               "latencyMax": round(late[-1], 2) if late else None, "playedPerSecond": round(played, 2),
                               "counters": run.js(driver, "return window.liveloopPlayer.counters")}
    shot(driver, "slow-publisher-1280x800")
    run.stop(process)
    if shown_after > 1.5 or behind or notice or not late or late[len(late) // 2] > 1.5:
        raise CheckFailed(f"a publisher at 88 % of real time: {checks['slowPublisher']}")


# --- 8. jittery audio timestamps -------------------------------------------------------------------------------------

FRAMES = """const done = arguments[0], v = document.querySelector('video'); let n = 0; const t0 = performance.now();
const count = () => { n++; if (performance.now() - t0 < 6000) v.requestVideoFrameCallback(count); };
v.requestVideoFrameCallback(count);
setTimeout(() => done({frames: n, live: !document.getElementById('live-badge').hidden,
  latency: document.getElementById('latency').textContent, state: window.liveloopPlayer.state,
  counters: window.liveloopPlayer.counters}), 6200);"""


def check_jittery_audio(driver):
    channel, _, process = live_channel("jitter", audio_bsf="setts=ts=TS+(random(0)-0.5)*60")
    run.viewport(driver, 1280, 800)
    open_watch(driver, channel)
    time.sleep(3)
    driver.set_script_timeout(20)
    result = driver.execute_async_script(FRAMES)
    checks["jitteryAudio"] = result
    run.stop(process)
    # 30 fps for 6 s is 180 frames; a picture frozen until each keyframe shows a handful.
    if result["frames"] < 100 or not result["live"]:
        raise CheckFailed(f"jittery audio timestamps: {result}")


# --- 9. the viewer's own latency target ------------------------------------------------------------------------------

TARGET = """const done = arguments[0];
(async () => {
  const { LatencyTarget } = await import('/assets/latencytarget.js');
  const { LivePlayer } = await import('/assets/player.js');
  const run = (delay) => {
    const t = new LatencyTarget(0.5);
    let now = 0;
    t.stalled(now); now += 3000; t.stalled(now);                               // a CPU stall: two stalls in 20 s
    for (let i = 0; i < 28; i++) { now += 250; t.update(now, true, 6, 6); }   // and data 6 s late for 7 s
    const raised = t.seconds;
    let back = null;
    const calm = now;
    for (let i = 0; i < 4 * 120; i++) { now += 250; t.update(now, false, 0.6, delay); if (back === null && t.seconds === 0.5) back = (now - calm) / 1000; }
    const held = t.seconds;
    t.reset();
    return { raised, held, backAfterSeconds: back, afterReset: t.seconds };
  };
  const p = new LivePlayer(document.createElement('video'), { channel: 'x' });
  const events = [];
  p.addEventListener('state', (e) => events.push(`state:${e.detail.state}`));
  p.addEventListener('behind', (e) => events.push(`behind:${e.detail.behind}`));
  p.setState('playing');
  p.target.raiseTo(3, 0); p.targetChanged();
  done({ recovered: run(0.1), stillLate: run(2.0), events, behind: p.behind });
})().catch((e) => done({ error: String(e) }));"""


def check_latency_target(driver, channel):
    run.viewport(driver, 1280, 800)
    driver.get(f"{SERVER}/watch/{channel}")
    result = driver.execute_async_script(TARGET)
    checks["latencyTarget"] = result
    if "error" in result:
        raise CheckFailed(f"latency target: {result['error']}")
    recovered, late = result["recovered"], result["stillLate"]
    if recovered["raised"] < 5 or recovered["held"] != 0.5 or (recovered["backAfterSeconds"] or 999) > 60 \
            or late["held"] < 2.25 or recovered["afterReset"] != 0.5 \
            or result["events"] != ["state:playing", "behind:true"] or not result["behind"]:
        raise CheckFailed(f"latency target: {result}")


# --- main --------------------------------------------------------------------------------------------------------------

def main():
    if SERVER is None:
        print("usage: watchpage.py SERVER_URL ADMIN_KEY ARTIFACTS_DIR", file=sys.stderr)
        sys.exit(2)
    os.makedirs(ARTIFACTS, exist_ok=True)
    # WATCHPAGE_ONLY=slowPublisher,jitteryAudio runs only those checks (the ones that need no other's channel).
    only = set(filter(None, os.environ.get("WATCHPAGE_ONLY", "").split(",")))
    driver = run.browser()
    step = "start"
    ok, error = False, None
    try:
        if not only:
            step = "overlay"
            channel = check_overlay(driver)
            for step, check in (("guest", check_guest_and_viewer), ("shelf", check_shelf), ("phoneChat", check_phone_chat),
                                ("gift", check_gift), ("latencyTarget", check_latency_target)):
                check(driver, channel)
        for step, check in (("publisherStop", check_publisher_stop), ("slowPublisher", check_slow_publisher),
                            ("jitteryAudio", check_jittery_audio)):
            if not only or step in only:
                check(driver)
        errors = run.javascript_errors(driver)
        if errors:
            step = "javascript"
            raise CheckFailed(f"JavaScript errors: {errors[:3]}")
        ok = True
    except Exception as failure:  # one JSON line either way
        error = f"{type(failure).__name__}: {failure}"
        try:
            driver.save_screenshot(os.path.join(ARTIFACTS, f"watchpage-failure-{step}.png"))
        except Exception:
            pass
    finally:
        for undo in reversed(cleanup):
            try:
                undo()
            except Exception:
                pass
        driver.quit()
    print(json.dumps({"ok": ok, "failedStep": None if ok else step, "error": error, "checks": checks}, default=str))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
