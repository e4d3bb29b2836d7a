"""The studio and the admin page in headless Chromium, at 1280x800 and 390x844 (the numbers a host sees, issue #13).

usage: studiopage.py SERVER_URL ADMIN_KEY ARTIFACTS_DIR   (the server runs with --demo: the `demo` channel is on air)

1. Viewers: three WebSocket video viewers (Python `websockets`) and one LL-HLS reader (playlist requests) watch; the
   studio's "Viewers (video)" shows them all with the per-path breakdown (its own preview is one more WebSocket viewer),
   and GET …/health and /metrics say the same.
2. Sync: with no targets of its own and no quiz in the rundown the panel says "Split"; a rundown with a quiz makes it
   lock-step by default and the panel says so; with split targets set, launching a quiz warns that the paths see it apart.
3. Rundown: a launched item says "Launched" and "Launch again", also after a reload.
4. Gifts: a viewer's gift raises an alert at the top of the studio and lands in "Recent gifts".
5. Chat: with a long Q&A queue, a full supporters board and a busy chat, the chat log keeps its height and stays above
   its input.
6. Phone: at 390x844 the preview, On air and Rundown come before the set-up panels (health, offers, sync).
7. Admin: the sign-in form is a form's width; each channel shows its RTMP URL; at 390x844 the rows are cards and the
   page does not scroll sideways.
8. No JavaScript errors.
Screenshots studio-*.png and admin-*.png at both sizes land in ARTIFACTS_DIR.
Prints one JSON line last: {"ok": bool, "failedStep": …, "error": …, "checks": {…}}.
"""
import asyncio
import json
import os
import sys
import threading
import time
import urllib.request

import websockets
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


class CheckFailed(Exception):
    pass


SERVER, ADMIN, ARTIFACTS = sys.argv[1].rstrip('/'), sys.argv[2], sys.argv[3]
CHANNEL = 'demo'
checks = {}
drivers = []


def api(method, path, body=None, token=ADMIN, raw=False):
    request = urllib.request.Request(SERVER + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json', **({'Authorization': f'Bearer {token}'} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
            return response.status, (data.decode() if raw else json.loads(data or b'null'))
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b'null')


def token(role, sub, name):
    status, body = api('POST', f'/api/v1/channels/{CHANNEL}/tokens', {'role': role, 'sub': sub, 'name': name, 'ttlSeconds': 3600})
    if status != 200 and status != 201:
        raise CheckFailed(f'token for {sub}: HTTP {status} {body}')
    return body['token']


def message(payload, as_token=ADMIN):
    status, body = api('POST', f'/api/v1/channels/{CHANNEL}/messages', {'v': 1, 'id': 'x', **payload}, token=as_token)
    if status != 200:
        raise CheckFailed(f"{payload['type']}: HTTP {status} {body}")
    return body


def browser(width, height):
    options = Options()
    for argument in ('--headless=new', '--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage',
                     f'--window-size={width},{height}', '--mute-audio', '--disable-background-timer-throttling',
                     '--disable-renderer-backgrounding'):
        options.add_argument(argument)
    options.binary_location = os.environ.get('CHROMIUM', '/usr/bin/chromium')
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')), options=options)
    driver.set_script_timeout(20)
    mobile = width < 600
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {'width': width, 'height': height,
                                                                  'deviceScaleFactor': 2 if mobile else 1, 'mobile': mobile})
    drivers.append(driver)
    return driver


def wait(driver, what, condition, timeout=20):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        raise CheckFailed(f'timed out after {timeout} s waiting for {what}') from None


def shot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, name))


def text(driver, element_id):
    return driver.execute_script('return document.getElementById(arguments[0])?.textContent ?? ""', element_id)


def js_errors(driver):
    return [entry['message'] for entry in driver.get_log('browser')
            if entry.get('level') == 'SEVERE' and entry.get('source') == 'javascript']


# --- viewers on every path -------------------------------------------------------------------------------------------

class Audience:
    """Three WebSocket video viewers and one LL-HLS reader, on threads of their own until `stop()`."""

    def __init__(self, sockets=3):
        self.running = True
        self.inits = 0
        self.loop = asyncio.new_event_loop()
        self.threads = [threading.Thread(target=self.loop.run_until_complete, args=(self.hold(sockets),), daemon=True),
                        threading.Thread(target=self.read_playlists, daemon=True)]
        for thread in self.threads:
            thread.start()

    async def viewer(self):
        url = SERVER.replace('http', 'ws', 1) + f'/live/{CHANNEL}/ws'
        async with websockets.connect(url, max_size=2**24) as ws:
            while self.running:
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    if isinstance(frame, str):
                        self.inits += 1
                except asyncio.TimeoutError:
                    pass

    async def hold(self, count):
        await asyncio.gather(*(self.viewer() for _ in range(count)), return_exceptions=True)

    def read_playlists(self):
        while self.running:
            try:
                urllib.request.urlopen(f'{SERVER}/live/{CHANNEL}/media.m3u8', timeout=5).read()
            except Exception:
                pass
            time.sleep(1)

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=5)


def metric(name, labels):
    status, exposition = api('GET', '/metrics', raw=True, token=None)
    key = name + '{' + ','.join(f'{k}="{v}"' for k, v in labels) + '}'
    for line in exposition.splitlines():
        if line.startswith(key + ' '):
            return float(line.rsplit(' ', 1)[1])
    return None


def viewer_counts(studio):
    audience = Audience(3)
    try:
        # The studio's own preview is a fourth WebSocket viewer; the playlist reader the one LL-HLS viewer.
        def shows(d):
            paths = d.execute_script("const e = document.getElementById('h-viewer-paths'); return e ? {...e.dataset} : null")
            return paths if paths and paths.get('websocket') == '4' and paths.get('llhls') == '1' else None
        paths = wait(studio, 'the studio counting 4 WebSocket viewers and 1 LL-HLS viewer', shows, timeout=30)
        total = text(studio, 'h-viewers')
        breakdown = text(studio, 'h-viewer-paths')
        if total != '5':
            raise CheckFailed(f'"Viewers (video)" shows {total!r}, not 5')
        for part in ('LL-HLS 1', 'WebSocket 4', 'WebRTC 0'):
            if part not in breakdown:
                raise CheckFailed(f'the breakdown {breakdown!r} lacks {part!r}')
        status, health = api('GET', f'/api/v1/channels/{CHANNEL}/health')
        by_path = health.get('viewersByPath', {})
        if (health.get('videoViewers'), by_path.get('websocket'), by_path.get('llhls')) != (5, 4, 1):
            raise CheckFailed(f'GET …/health disagrees: {health}')
        total_metric = metric('liveloop_viewers', [('channel', CHANNEL)])
        socket_metric = metric('liveloop_path_viewers', [('channel', CHANNEL), ('path', 'websocket')])
        if (total_metric, socket_metric) != (5.0, 4.0):
            raise CheckFailed(f'/metrics disagrees: liveloop_viewers {total_metric}, websocket path {socket_metric}')
        studio.execute_script("document.getElementById('studio-health').scrollIntoView({block: 'center'})")
        shot(studio, 'studio-viewers-1280x800.png')
        checks['viewers'] = {'studio': total, 'breakdown': breakdown, 'health': health.get('videoViewers'),
                             'metrics': total_metric, 'socketInits': audience.inits}
    finally:
        audience.stop()


# --- the studio ------------------------------------------------------------------------------------------------------

# Named afresh each run: a second run on the same server (a retry) meets a room that already holds the first run's.
RUN = f'{int(time.time()) % 100000}'
POLL = {'id': f'r-poll-{RUN}', 'kind': 'poll', 'question': f'Tea or coffee? ({RUN})', 'options': ['Tea', 'Coffee'], 'windowSeconds': 0}
QUIZ = {'id': f'r-quiz-{RUN}', 'kind': 'quiz', 'title': f'Capitals ({RUN})', 'questions': [
    {'prompt': 'Capital of France?', 'options': ['Paris', 'Lyon'], 'correct': [0], 'windowSeconds': 15}]}


def open_studio(driver, host_token):
    driver.get(f'{SERVER}/studio/{CHANNEL}?token={host_token}')
    wait(driver, 'the studio', lambda d: not d.find_element(By.ID, 'studio').get_attribute('hidden')
         and d.execute_script("return document.body.dataset.role === 'host'"))
    wait(driver, 'the rundown', lambda d: d.find_elements(By.CSS_SELECTOR, '#rundown li[data-item-id]'))


def rundown_button(driver, item_id):
    return driver.find_element(By.CSS_SELECTOR, f'#rundown li[data-item-id="{item_id}"] .row-actions button')


def sync_and_rundown(studio, host_token):
    # No targets of its own, no quiz: split, and the panel says so.
    summary = wait(studio, 'the sync summary', lambda d: text(d, 'sync-summary') or None)
    if not summary.startswith('Split: WebSocket viewers see each cue 1.0 s before LL-HLS viewers'):
        raise CheckFailed(f'sync summary without a quiz: {summary!r}')
    checks['sync'] = {'split': summary, 'state': text(studio, 'sync-state')}

    # A launched poll says so, and still does after a reload.
    button = rundown_button(studio, POLL['id'])
    if button.text != 'Launch':
        raise CheckFailed(f'an unused poll says {button.text!r}')
    button.click()
    wait(studio, 'the poll to say "Launch again"', lambda d: rundown_button(d, POLL['id']).text == 'Launch again')
    badge = studio.find_element(By.CSS_SELECTOR, f'#rundown li[data-item-id="{POLL["id"]}"] .used-badge').text
    if not badge.startswith('Launched'):
        raise CheckFailed(f'the used poll is badged {badge!r}')
    studio.execute_script("document.getElementById('studio-rundown').scrollIntoView({block: 'center'})")
    shot(studio, 'studio-rundown-1280x800.png')
    studio.refresh()
    open_studio(studio, host_token)
    wait(studio, 'the poll to say "Launch again" after a reload', lambda d: rundown_button(d, POLL['id']).text == 'Launch again')
    checks['rundown'] = {'badge': badge, 'afterReload': rundown_button(studio, POLL['id']).text}

    # A quiz in the rundown: lock-step by default.
    status, _ = api('PUT', f'/api/v1/channels/{CHANNEL}/rundown', {'version': 1, 'items': [POLL, QUIZ]})
    if status != 204:
        raise CheckFailed(f'PUT rundown: HTTP {status}')
    studio.refresh()
    open_studio(studio, host_token)
    summary = wait(studio, 'the lock-step summary', lambda d: text(d, 'sync-summary').startswith('Lock-step') and text(d, 'sync-summary'))
    state = text(studio, 'sync-state')
    if 'quiz' not in state:
        raise CheckFailed(f'the sync state does not say the lock-step is the quiz default: {state!r}')
    studio.execute_script("document.getElementById('studio-sync').scrollIntoView({block: 'center'})")
    shot(studio, 'studio-sync-1280x800.png')
    checks['sync'].update({'lockstep': summary, 'lockstepState': state})

    # Split targets set on purpose: launching the quiz warns.
    status, _ = api('PUT', f'/api/v1/channels/{CHANNEL}/settings', {'rateLimits': None, 'syncTargets': {'ws': 0.5, 'hls': 1.5}})
    if status != 200:
        raise CheckFailed(f'PUT settings: HTTP {status}')
    studio.refresh()
    open_studio(studio, host_token)
    wait(studio, 'the split summary', lambda d: text(d, 'sync-summary').startswith('Split'))
    wait(studio, 'the room', lambda d: d.execute_script('return window.liveloopRoom?.state') == 'open')
    rundown_button(studio, QUIZ['id']).click()
    warning = wait(studio, 'the split warning on launching the quiz', lambda d: 'Sync is split' in text(d, 'onair-status') and text(d, 'onair-status'))
    checks['sync']['quizWarning'] = warning


def sponsored_poll(studio):
    """The host gives a poll a sponsor in the rundown editor: a name without a link is refused there; with both, the
    saved item says who sponsors it and the launched poll carries the sponsor to the room."""
    studio.find_element(By.ID, 'add-poll').click()
    editor = wait(studio, 'the poll editor', lambda d: (e := d.find_element(By.ID, 'editor')) and not e.get_attribute('hidden') and e)
    def by_label(label):
        return editor.find_element(By.XPATH, f'.//label[normalize-space()="{label}"]/following-sibling::*[1]')
    by_label('Question').send_keys('Which flavour next?')
    options = by_label('Options')
    options.clear()
    options.send_keys('Mint\nMango')
    by_label('Sponsor name').send_keys('Acme Ice')
    editor.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    refusal = wait(studio, 'the missing sponsor link to be refused', lambda d: (t := d.execute_script(
        "const f = document.querySelector('#editor .flash'); return f && !f.hidden ? f.textContent : null")) and t)
    if 'name and a link' not in refusal:
        raise CheckFailed(f'a sponsor without a link: {refusal!r}')
    by_label('Sponsor link').send_keys('https://acme.example/ice')
    editor.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    item = wait(studio, 'the sponsored poll in the rundown', lambda d: next((li for li in d.find_elements(By.CSS_SELECTOR, '#rundown li[data-item-id]')
                                                                          if 'sponsored by Acme Ice' in li.text), None))
    studio.find_element(By.ID, 'save-rundown').click()
    wait(studio, 'the rundown to save', lambda d: any((i.get('sponsor') or {}).get('name') == 'Acme Ice'
                                                       for i in (api('GET', f'/api/v1/channels/{CHANNEL}/rundown')[1] or {}).get('items', [])))
    item = next(li for li in studio.find_elements(By.CSS_SELECTOR, '#rundown li[data-item-id]') if 'sponsored by Acme Ice' in li.text)
    item.find_element(By.CSS_SELECTOR, '.row-actions button').click()
    def launched(_):
        status, room = api('GET', f'/api/v1/channels/{CHANNEL}/room')
        return status == 200 and next((p for p in room.get('polls', []) if p.get('question') == 'Which flavour next?' and p.get('sponsor')), None)
    poll = wait(studio, 'the launched poll to carry its sponsor', launched)
    checks['sponsor'] = {'refused': refusal, 'sponsor': poll['sponsor']}
    if poll['sponsor'] != {'name': 'Acme Ice', 'link': 'https://acme.example/ice'}:
        raise CheckFailed(f"the launched poll's sponsor: {poll['sponsor']}")


def gifts_and_chat(studio):
    viewers = [(f'fan{i}', token('viewer', f'fan{i}', f'Fan {i}')) for i in range(12)]
    # A gift: the host's alert and the recent list.
    message({'type': 'gift.send', 'giftID': 'rocket', 'count': 1}, as_token=viewers[0][1])
    alert = wait(studio, 'the gift alert', lambda d: d.find_elements(By.CSS_SELECTOR, '#host-alerts .host-alert') and
                 d.find_element(By.CSS_SELECTOR, '#host-alerts .host-alert').text)
    if 'Fan 0' not in alert or 'Rocket' not in alert:
        raise CheckFailed(f'the gift alert says {alert!r}')
    on_screen = studio.execute_script("const r = document.querySelector('#host-alerts .host-alert').getBoundingClientRect();"
                                      "return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth")
    if not on_screen:
        raise CheckFailed('the gift alert is not inside the window')
    shot(studio, 'studio-gift-alert-1280x800.png')
    recent = wait(studio, 'the recent gifts list', lambda d: 'Fan 0' in text(d, 'recent-gifts') and text(d, 'recent-gifts'))
    checks['gift'] = {'alert': alert, 'recent': recent.strip()}

    # A long Q&A queue, a full board and a busy chat: the chat keeps its room.
    for index, (sub, viewer) in enumerate(viewers):
        message({'type': 'qa.ask', 'text': f'Question number {index}: how long is a piece of string, really?'}, as_token=viewer)
        message({'type': 'gift.send', 'giftID': 'rose', 'count': 1 + index}, as_token=viewer)
        message({'type': 'chat.send', 'text': f'Hello from {sub}, message one'}, as_token=viewer)
        message({'type': 'chat.send', 'text': f'Hello again from {sub}'}, as_token=viewer)
    wait(studio, 'the Q&A queue', lambda d: len(d.find_elements(By.CSS_SELECTOR, '#studio-qa .qa-list > li.question')) >= 12)
    wait(studio, 'the chat', lambda d: len(d.find_elements(By.CSS_SELECTOR, '#studio-chat .chat-log > li')) >= 20)
    time.sleep(1)
    box = studio.execute_script("""
        const rect = (s) => document.querySelector(s).getBoundingClientRect();
        const log = rect('#studio-chat .chat-log'), form = rect('#studio-chat .chat-form'), chat = rect('#studio-chat');
        return {logTop: log.top, logBottom: log.bottom, logHeight: log.height, formTop: form.top, formBottom: form.bottom, chatBottom: chat.bottom};""")
    if box['logBottom'] > box['formTop'] + 0.5 or box['logHeight'] < 180 or box['formBottom'] > box['chatBottom'] + 0.5:
        raise CheckFailed(f'the chat log runs into its input or shrank: {box}')
    studio.execute_script("document.getElementById('studio-chat').scrollIntoView({block: 'start'})")
    shot(studio, 'studio-1280x800.png')
    checks['chat'] = box


PHONE_ORDER = ['studio-preview', 'studio-onair', 'studio-rundown', 'studio-chat', 'studio-offers', 'studio-health', 'studio-sync']


def phone(host_token):
    driver = browser(390, 844)
    open_studio(driver, host_token)
    tops = driver.execute_script("return arguments[0].map((id) => document.getElementById(id).getBoundingClientRect().top + scrollY)", PHONE_ORDER)
    if tops != sorted(tops):
        raise CheckFailed(f'phone order: {dict(zip(PHONE_ORDER, tops))}')
    wide = driver.execute_script('return document.documentElement.scrollWidth')
    if wide > 391:
        raise CheckFailed(f'the studio scrolls sideways on a phone: {wide} px wide')
    shot(driver, 'studio-390x844.png')
    driver.execute_script("document.getElementById('studio-onair').scrollIntoView({block: 'start'})")
    shot(driver, 'studio-onair-390x844.png')
    checks['phone'] = {'order': PHONE_ORDER, 'tops': tops}
    errors = js_errors(driver)
    if errors:
        raise CheckFailed(f'JavaScript errors on the phone studio: {errors}')


def admin():
    results = {}
    for width, height in ((1280, 800), (390, 844)):
        driver = browser(width, height)
        driver.get(f'{SERVER}/admin')
        form = wait(driver, 'the sign-in form', lambda d: d.find_element(By.ID, 'key-form'))
        form_width = form.rect['width']
        if width == 1280 and form_width > 560:
            raise CheckFailed(f'the sign-in form is {form_width} px wide')
        shot(driver, f'admin-signin-{width}x{height}.png')
        driver.find_element(By.ID, 'admin-key').send_keys(ADMIN)
        form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
        row = wait(driver, 'the demo channel row', lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-channel="{CHANNEL}"] td.ingest')
                   and d.find_element(By.CSS_SELECTOR, f'tr[data-channel="{CHANNEL}"] td.ingest'))
        ingest = row.text
        if 'rtmp://' not in ingest:
            raise CheckFailed(f"the channel's ingest cell shows no RTMP URL: {ingest!r}")
        if f'{SERVER}/live/whip' not in ingest:
            raise CheckFailed(f"the channel's ingest cell shows no WHIP URL on this origin: {ingest!r}")
        wide = driver.execute_script('return document.documentElement.scrollWidth')
        if wide > width + 1:
            raise CheckFailed(f'the admin page scrolls sideways at {width} px: {wide} px wide')
        if width < 600:
            display = driver.execute_script(f"return getComputedStyle(document.querySelector('tr[data-channel=\"{CHANNEL}\"]')).display")
            if display != 'block':
                raise CheckFailed(f'on a phone the channel rows are not cards (display {display})')
        shot(driver, f'admin-{width}x{height}.png')
        results[f'{width}x{height}'] = {'signInWidth': form_width, 'ingest': ingest}
        errors = js_errors(driver)
        if errors:
            raise CheckFailed(f'JavaScript errors on the admin page: {errors}')
        driver.quit()
        drivers.remove(driver)
    checks['admin'] = results


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    step = 'setup'
    try:
        # A clean channel state: split defaults, no rate limits in the way of the bursts below, a rundown with a poll.
        api('PUT', f'/api/v1/channels/{CHANNEL}/settings', {'rateLimits': None})
        api('PUT', f'/api/v1/channels/{CHANNEL}/rundown', {'version': 1, 'items': [POLL]})
        host_token = token('host', 'host-1', 'Hana Host')
        studio = browser(1280, 800)
        open_studio(studio, host_token)
        step = 'viewers'
        viewer_counts(studio)
        step = 'sync and rundown'
        sync_and_rundown(studio, host_token)
        step = 'sponsored poll'
        sponsored_poll(studio)
        step = 'gifts and chat'
        gifts_and_chat(studio)
        errors = js_errors(studio)
        if errors:
            raise CheckFailed(f'JavaScript errors in the studio: {errors}')
        step = 'phone'
        phone(host_token)
        step = 'admin'
        admin()
        print(json.dumps({'ok': True, 'checks': checks}))
        return 0
    except Exception as error:  # noqa: BLE001 — every failure is reported in the summary line
        for index, driver in enumerate(drivers):
            try:
                shot(driver, f'failure-studio-{step.replace(" ", "-")}-{index}.png')
            except Exception:
                pass
        print(json.dumps({'ok': False, 'failedStep': step, 'error': f'{type(error).__name__}: {error}', 'checks': checks}))
        return 1
    finally:
        for driver in drivers:
            try:
                driver.quit()
            except Exception:
                pass


if __name__ == '__main__':
    sys.exit(main())
