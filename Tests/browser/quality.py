#!/usr/bin/env python3
"""The watch page's quality menu on a channel with renditions (docs/video.md): it lists Auto and every variant, and
choosing one plays it — the player follows that rendition and the picture has its height.

    python3 Tests/browser/quality.py SERVER_URL ADMIN_KEY

The server must have a live channel (LIVELOOP_TEST_CHANNEL names it) with a 1280x720 source and a 360p rendition.
Prints one JSON summary line last; exits non-zero when a check fails.
"""

import json
import sys
import time

import run  # the team's helpers: http, browser, wait, js, mint_token, javascript_errors, CheckFailed

OPTIONS = """
const s = document.getElementById('quality');
return s && !s.hidden && s.options.length >= 3 ? Array.from(s.options, (o) => o.value) : null;
"""
CHOOSE = """
const s = document.getElementById('quality');
s.value = arguments[0];
s.dispatchEvent(new Event('change'));
"""
PLAYING = """
const p = window.liveloopPlayer, v = document.getElementById('video');
return p && p.variant === arguments[0] && v.videoHeight === arguments[1] && p.readyState >= 3
  ? {variant: p.variant, height: v.videoHeight, time: v.currentTime} : null;
"""


def main():
    server, admin_key = sys.argv[1].rstrip("/"), sys.argv[2]
    summary = {"ok": False}
    driver = None
    try:
        channel = run.wait_for_live_channel(server)
        token, _ = run.mint_token(server, admin_key, channel, "viewer", "quality", "Quality")
        driver = run.browser()
        driver.get(f"{server}/watch/{channel}?token={token}&mode=hls")
        options = run.wait(driver, "the quality menu", lambda d: run.js(d, OPTIONS), timeout=40)
        summary["options"] = options
        if options[0] != "auto" or "source" not in options or "360p" not in options:
            raise run.CheckFailed(f"the menu lists {options}, not Auto, the source and 360p")
        for name, height in [("360p", 360), ("source", 720)]:
            run.js(driver, CHOOSE, name)
            state = run.wait(driver, f"the {name} variant playing at {height}p", lambda d: run.js(d, PLAYING, name, height), timeout=25)
            start = state["time"]
            # It must play on by a second of media; on a loaded machine that may take longer than a second of wall time.
            deadline = time.monotonic() + 5
            now = start
            while time.monotonic() < deadline:
                time.sleep(0.25)
                now = run.js(driver, "return document.getElementById('video').currentTime")
                if now >= start + 1:
                    break
            if now < start + 1:
                raise run.CheckFailed(f"{name} does not play on: {start} → {now}")
            summary[name] = {"height": state["height"], "played": round(now - start, 2)}
        errors = run.javascript_errors(driver)
        if errors:
            raise run.CheckFailed(f"JavaScript errors: {errors}")
        summary["switches"] = run.js(driver, "return window.liveloopPlayer.counters.switches")
        summary["ok"] = True
    except run.CheckFailed as error:
        summary["error"] = str(error)
    finally:
        if driver:
            driver.quit()
    print(json.dumps(summary))
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
