#!/usr/bin/env python3
"""A recording replayed on the watch page in headless Chromium (Selenium).

    python3 Tests/browser/replay.py SERVER_URL CHANNEL RECORDING_ID ARTIFACTS_DIR

Opens /watch/CHANNEL?recording=ID, reads the recording's timeline (/vod/…/timeline.json) for the poll's launch and
its results, and checks what a viewer would see: no poll card before the launch's media time, the card once the
playhead passes it (and not earlier), the results bars after the reveal, and after seeking back before the launch
no card again, then forward past the reveal the results again. Prints one JSON line (`ok`, what was seen, `error`).
"""

import json
import os
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service


def card(driver):
    return driver.execute_script("""
        const c = document.querySelector('#overlay .card.poll');
        return c ? {phase: c.dataset.phase, bars: c.querySelectorAll('.bar').length, t: document.getElementById('video').currentTime} : null;
    """)


def wait(driver, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return None


def main():
    server, channel, recording, artifacts = sys.argv[1:5]
    timeline = json.load(urllib.request.urlopen(f"{server}/vod/{channel}/{recording}/timeline.json"))
    launch = min(e["t"] for e in timeline["events"] if e["m"]["type"] == "poll" and e["m"].get("phase") == "live")
    reveal = min(e["t"] for e in timeline["events"] if e["m"]["type"] == "results")
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--mute-audio",
                     "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    seen = {"launch": launch, "reveal": reveal}
    try:
        driver.get(f"{server}/watch/{channel}?recording={recording}")
        video_time = lambda: driver.execute_script("return document.getElementById('video').currentTime")
        playing = wait(driver, lambda: driver.execute_script(
            "const v = document.getElementById('video'); return v.readyState >= 2 && v.currentTime > 0 ? v.currentTime : 0"), 20)
        if not playing:
            raise AssertionError("the recording did not start playing")
        # Before the launch: no card. Hold the playhead there, then play through the launch.
        driver.execute_script("const v = document.getElementById('video'); v.pause(); v.currentTime = arguments[0];", max(0, launch - 1.0))
        time.sleep(1.0)
        seen["beforeLaunch"] = card(driver)
        if seen["beforeLaunch"] is not None:
            raise AssertionError(f"a poll card showed before its launch: {seen['beforeLaunch']}")
        driver.execute_script("document.getElementById('video').play()")
        appeared = wait(driver, lambda: card(driver), 15)
        seen["appeared"] = appeared
        if not appeared:
            raise AssertionError("the poll never appeared")
        if appeared["t"] + 0.05 < launch or appeared["t"] > launch + 0.6:
            raise AssertionError(f"the poll appeared at {appeared['t']:.2f} s, its launch is at {launch:.2f} s")
        revealed = wait(driver, lambda: (lambda c: c if c and c["phase"] == "revealed" and c["bars"] == 2 else None)(card(driver)), 20)
        seen["revealed"] = revealed
        if not revealed or revealed["t"] + 0.05 < reveal:
            raise AssertionError(f"results not shown from the reveal at {reveal:.2f} s: {revealed}")
        os.makedirs(artifacts, exist_ok=True)
        driver.save_screenshot(os.path.join(artifacts, "replay-results.png"))
        # Seeking lands on the state of that moment: back before the launch, then past the reveal.
        driver.execute_script("const v = document.getElementById('video'); v.pause(); v.currentTime = arguments[0];", max(0, launch - 1.0))
        seen["afterSeekBack"] = wait(driver, lambda: "gone" if card(driver) is None else None, 5)
        if not seen["afterSeekBack"]:
            raise AssertionError(f"after seeking back before the launch the card is still there: {card(driver)}")
        driver.execute_script("document.getElementById('video').currentTime = arguments[0];", reveal + 0.5)
        again = wait(driver, lambda: (lambda c: c if c and c["phase"] == "revealed" else None)(card(driver)), 10)
        seen["afterSeekForward"] = again
        if not again:
            raise AssertionError(f"after seeking past the reveal: {card(driver)}")
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and "Uncaught" in e["message"]]
        if errors:
            raise AssertionError(f"JavaScript errors: {errors}")
        print(json.dumps({"ok": True, **seen}))
    except Exception as error:  # one JSON line either way
        print(json.dumps({"ok": False, "error": str(error), **seen}))
        sys.exit(1)
    finally:
        driver.quit()


main()
