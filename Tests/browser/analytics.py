#!/usr/bin/env python3
"""The studio's Analytics panel in headless Chromium (Selenium).

    python3 Tests/browser/analytics.py SERVER_URL HOST_TOKEN CHANNEL POINTS BARS ARTIFACTS_DIR

Opens /studio/CHANNEL signed in with HOST_TOKEN and waits until the panel has drawn the newest broadcast's report:
the viewers chart has POINTS sample dots (`circle.point`), the participation chart BARS bars (`rect.bar`), and the
summary shows a peak. Saves `studio-analytics.png` and prints one JSON line (`ok`, the counts seen, `error`).
Exits non-zero on failure or when the page threw a JavaScript exception.
"""

import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def read_panel(driver):
    return {
        "points": len(driver.find_elements(By.CSS_SELECTOR, "#analytics-viewers circle.point")),
        "participationBars": len(driver.find_elements(By.CSS_SELECTOR, "#analytics-participation rect.bar")),
        "rateBars": len(driver.find_elements(By.CSS_SELECTOR, "#analytics-rates rect.bar")),
        "summary": [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#analytics-summary dd")],
        "options": len(driver.find_elements(By.CSS_SELECTOR, "#analytics-broadcast option")),
    }


def main():
    server, token, channel, points, bars, artifacts = sys.argv[1:7]
    points, bars = int(points), int(bars)
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600", "--mute-audio"):
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    seen = {}
    try:
        driver.get(f"{server}/studio/{channel}?token={token}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                seen = read_panel(driver)
            except StaleElementReferenceException:
                continue  # the panel re-rendered while being read
            if seen["points"] == points and seen["participationBars"] == bars and seen["summary"]:
                break
            time.sleep(0.2)
        driver.execute_script("document.getElementById('studio-analytics').scrollIntoView()")
        os.makedirs(artifacts, exist_ok=True)
        driver.save_screenshot(os.path.join(artifacts, "studio-analytics.png"))
        # JavaScript exceptions only: the preview player's failed requests once the stream is over are not errors here.
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
                  and "Uncaught" in entry["message"]]
        ok = seen.get("points") == points and seen.get("participationBars") == bars and not errors
        print(json.dumps({"ok": ok, "seen": seen, "expected": {"points": points, "bars": bars}, "errors": errors}))
        return 0 if ok else 1
    except Exception as error:  # noqa: BLE001 - the summary line carries whatever went wrong
        print(json.dumps({"ok": False, "seen": seen, "error": repr(error)}))
        return 1
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
