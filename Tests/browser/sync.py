#!/usr/bin/env python3
"""Three headless Chromium viewers on one live channel show each cue at the same moment (docs/sync.md).

    python3 Tests/browser/sync.py SERVER_URL ADMIN_KEY [CUES]

The server must be running with a live channel (`liveloop serve --demo` publishes `demo`). The test puts the channel
in lock-step (both sync targets 1.5 s), opens two viewers on the WebSocket path (the second a few seconds after the
first) and one on LL-HLS (`?mode=hls`), waits until each holds the target, then launches CUES polls through the REST
API. Each page records in `window.liveloopCues` the moment (server clock, by its own clock sync) it applied each
cue-bearing message and its playhead's program date at that moment. The test reports, per cue, the spread of those
moments across the three viewers, and for every viewer the gap between applying the cue and its playhead reaching
the cue (`playheadDate − cue.at`). Exits non-zero when the spread exceeds 100 ms at p95 or a gap exceeds 50 ms;
prints one JSON summary line last.

With LIVELOOP_SYNC_PATHS=webrtc the second viewer plays over WebRTC (`?mode=webrtc`) instead: one viewer per path,
and the WebRTC page must hold the shared target too (its jitter buffer stretched to it). Publish without B-frames
for that (docs/webrtc.md).
"""

import json
import os
import sys
import time

import run  # the team's helpers: http, browser, wait, js, mint_token, send_message, javascript_errors, CheckFailed

TARGET = 1.5
COLLECT = """
return (window.liveloopCues || []).map((c) => ({seq: c.seq, type: c.type, cueAt: c.cueAt, appliedAt: c.appliedAt,
                                                 playheadDate: c.playheadDate, latency: c.latency}));
"""
STATE = """
const p = window.liveloopPlayer;
return p ? {mode: p.mode, state: p.state, latency: p.latency, target: p.targetLatency, readyState: p.readyState} : null;
"""


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def converge(driver, name, timeout=40):
    """Waits until the page holds the target within 100 ms for two seconds running."""
    deadline = time.monotonic() + timeout
    steady_since = None
    last = None
    while time.monotonic() < deadline:
        last = run.js(driver, STATE)
        ok = last and last["latency"] is not None and last["readyState"] >= 3 and abs(last["latency"] - TARGET) < 0.1
        if ok:
            steady_since = steady_since or time.monotonic()
            if time.monotonic() - steady_since >= 2:
                return last
        else:
            steady_since = None
        time.sleep(0.2)
    raise run.CheckFailed(f"{name} did not settle at {TARGET} s: {last}")


def main():
    server, admin_key = sys.argv[1].rstrip("/"), sys.argv[2]
    cues = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    summary = {"ok": False}
    drivers = {}
    try:
        channel = run.wait_for_live_channel(server)
        status, body = run.http("PUT", f"{server}/api/v1/channels/{channel}/settings",
                                {"syncTargets": {"ws": TARGET, "hls": TARGET}}, bearer=admin_key)
        if status != 200:
            raise run.CheckFailed(f"could not set the sync targets: HTTP {status} {body}")
        # LIVELOOP_SYNC_PATHS=webrtc: the second WebSocket viewer is replaced by a WebRTC one (the three paths).
        if os.environ.get("LIVELOOP_SYNC_PATHS") == "webrtc":
            pages = [("ws-first", "&mode=ws"), ("webrtc", "&mode=webrtc"), ("hls", "&mode=hls")]
        else:
            pages = [("ws-first", "&mode=ws"), ("ws-second", "&mode=ws"), ("hls", "&mode=hls")]
        for index, (name, query) in enumerate(pages):
            token, _ = run.mint_token(server, admin_key, channel, "viewer", f"sync-{name}", name)
            driver = run.browser()
            drivers[name] = driver
            driver.get(f"{server}/watch/{channel}?token={token}{query}")
            if index == 0:
                time.sleep(3)  # the second WebSocket viewer starts a few seconds after the first
        states = {name: converge(driver, name) for name, driver in drivers.items()}
        summary["players"] = {name: {"mode": s["mode"], "latency": round(s["latency"], 3)} for name, s in states.items()}
        if any(states[name]["mode"] != name.split("-")[0] for name in states):
            raise run.CheckFailed(f"unexpected player modes: {summary['players']}")

        launched = []
        for index in range(cues):
            ack = run.send_message(server, admin_key, channel, {"type": "poll.create", "id": f"s{index}",
                                                                "question": f"Cue {index + 1}?", "options": ["yes", "no"]})
            poll_id = ack["ref"]
            run.send_message(server, admin_key, channel, {"type": "poll.launch", "id": f"l{index}", "pollID": poll_id})
            launched.append(poll_id)
            time.sleep(2.5)
        time.sleep(TARGET + 1)

        records = {name: [c for c in run.js(driver, COLLECT) if c["type"] == "poll"] for name, driver in drivers.items()}
        by_cue = {}
        for name, entries in records.items():
            for entry in entries:
                by_cue.setdefault(entry["cueAt"], {})[name] = entry
        complete = {cue: seen for cue, seen in by_cue.items() if len(seen) == len(drivers)}
        if len(complete) < cues:
            raise run.CheckFailed(f"only {len(complete)} of {cues} cues were applied by all three viewers: "
                                  f"{ {n: len(e) for n, e in records.items()} }")
        spreads = [max(e["appliedAt"] for e in seen.values()) - min(e["appliedAt"] for e in seen.values())
                   for seen in complete.values()]
        gaps = {name: [e["playheadDate"] - e["cueAt"] for e in entries if e["cueAt"] in complete]
                for name, entries in records.items()}
        all_gaps = [g for values in gaps.values() for g in values]
        summary["cues"] = len(complete)
        summary["spreadMs"] = {"p50": round(percentile(spreads, 50), 1), "p95": round(percentile(spreads, 95), 1),
                               "max": round(max(spreads), 1)}
        summary["playheadGapMs"] = {name: {"min": round(min(v), 1), "max": round(max(v), 1)} for name, v in gaps.items()}
        errors = {name: run.javascript_errors(driver) for name, driver in drivers.items()}
        if any(errors.values()):
            raise run.CheckFailed(f"JavaScript errors: {errors}")
        if percentile(spreads, 95) > 100:
            raise run.CheckFailed(f"cue display spread p95 {percentile(spreads, 95):.0f} ms > 100 ms")
        if min(all_gaps) < -1 or max(all_gaps) > 50:
            raise run.CheckFailed(f"a cue was applied {min(all_gaps):.0f}…{max(all_gaps):.0f} ms from its playhead moment "
                                  "(allowed: 0…50 ms)")
        summary["ok"] = True
    except run.CheckFailed as failure:
        summary["error"] = str(failure)
    finally:
        for driver in drivers.values():
            try:
                driver.quit()
            except Exception:
                pass
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
