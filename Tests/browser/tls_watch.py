#!/usr/bin/env python3
"""The watch page over HTTPS in headless Chromium (Selenium): the page loads from https://, its video and interaction
sockets go over wss://, and the video plays.

    python3 Tests/browser/tls_watch.py HTTPS_WATCH_URL SPKI_SHA256_BASE64 SCREENSHOT_PATH

Chromium trusts the server's certificate by the hash of its public key (`--ignore-certificate-errors-spki-list`): that
key and no other is accepted, so a page served with any other certificate fails to load. Prints one JSON summary line
last and exits non-zero on failure.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

STATE = """
const p = window.liveloopPlayer, v = document.querySelector('video');
return {protocol: location.protocol, mode: p && p.mode, state: p && p.state,
        readyState: v ? v.readyState : 0, currentTime: v ? v.currentTime : 0, paused: v ? v.paused : true,
        insecureContent: !window.isSecureContext};
"""


def main(url, spki, screenshot):
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                     "--disable-dev-shm-usage", "--window-size=1280,800", "--mute-audio",
                     f"--ignore-certificate-errors-spki-list={spki}"):
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    summary = {"ok": False}
    try:
        driver.set_page_load_timeout(20)
        driver.get(url)
        summary["title"] = driver.title
        first = WebDriverWait(driver, 20, poll_frequency=0.1).until(
            lambda d: (s := d.execute_script(STATE)) and s["readyState"] >= 3 and not s["paused"] and s)
        later = WebDriverWait(driver, 15, poll_frequency=0.1).until(
            lambda d: (s := d.execute_script(STATE)) and s["currentTime"] - first["currentTime"] >= 1.5 and s)
        summary.update({"protocol": later["protocol"], "mode": later["mode"], "secureContext": not later["insecureContent"],
                        "advanced": round(later["currentTime"] - first["currentTime"], 2)})
        # The WebSockets the page opened, from Chromium's network log: every one must be wss://.
        sockets = set()
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"]).get("message", {})
            if message.get("method") == "Network.webSocketCreated":
                sockets.add(message["params"]["url"].split("?")[0])
        summary["sockets"] = sorted(sockets)
        errors = [e.get("message") for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        summary["errors"] = errors
        driver.save_screenshot(screenshot)
        summary["ok"] = (later["protocol"] == "https:" and bool(sockets)
                         and all(s.startswith("wss://") for s in sockets) and not errors)
    except (TimeoutException, WebDriverException) as error:
        summary["failure"] = f"{type(error).__name__}: {str(error)[:300]}"
        try:
            summary["state"] = driver.execute_script(STATE)
        except WebDriverException:
            pass
    finally:
        driver.quit()
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
