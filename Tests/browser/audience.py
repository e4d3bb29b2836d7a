"""Joining, embedding and members-only playback in headless Chromium (docs/embedding.md).

usage: audience.py SERVER_URL ADMIN_KEY ARTIFACTS_DIR   (the server runs with --demo: the `demo` channel is on air)

1. Join flow (1280x800 and 390x844): the watch page asks a name, joins at once; a staff-like name is refused; the
   identity survives a reload and a second tab (one sub), and a poll voted in both tabs counts one ballot.
2. Embed on a page served from another origin (a second local HTTP server): the SDK's <liveloop-player> plays,
   postMessage events arrive (ready, identity, poll, results), methods work (join, vote), branding is applied inside the
   iframe; an offer card (price, stock, countdown) in the embed, clicked, reaches the host page as `offer.click`
   without navigating (offerlinks="host"), is counted on the server (GET …/offers) with the playhead's media time (the
   live report's click log), and shows "Sold out" at stock 0; a sponsored poll's sponsor link, clicked, opens a new tab
   (rel="noopener sponsored"), reaches the host page as `sponsor.click` and is counted (GET …/sponsors); a page from an
   origin the channel does not allow gets no frame and no events.
3. Members-only: without a playback token the watch page says so and nothing plays; with `#pt=` it plays.
Prints one JSON line last: {"ok": bool, "failedStep": …, "error": …, "checks": {…}}.
"""
import base64
import http.server
import json
import os
import sys
import threading
import time
import urllib.request

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


def api(method, path, body=None, token=ADMIN):
    request = urllib.request.Request(SERVER + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json', **({'Authorization': f'Bearer {token}'} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b'null')
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b'null')


def message(payload):
    status, body = api('POST', f'/api/v1/channels/{CHANNEL}/messages', {'v': 1, 'id': 'x', **payload})
    if status != 200:
        raise CheckFailed(f"{payload['type']}: HTTP {status} {body}")
    return body


def browser(width=1280, height=800):
    options = Options()
    for argument in ('--headless=new', '--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage',
                     f'--window-size={width},{height}', '--mute-audio', '--disable-background-timer-throttling',
                     '--disable-renderer-backgrounding'):
        options.add_argument(argument)
    options.binary_location = os.environ.get('CHROMIUM', '/usr/bin/chromium')
    driver = webdriver.Chrome(service=Service(os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')), options=options)
    driver.set_script_timeout(20)
    viewport(driver, width, height)
    return driver


def viewport(driver, width, height):
    mobile = width < 600
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {'width': width, 'height': height,
                                                                  'deviceScaleFactor': 2 if mobile else 1, 'mobile': mobile})


def wait(driver, what, condition, timeout=15):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        raise CheckFailed(f'timed out after {timeout} s waiting for {what}') from None


def shot(driver, name):
    driver.save_screenshot(os.path.join(ARTIFACTS, name))


EMBED_LAYOUT = """
const problems = [];
const box = (e) => e.getBoundingClientRect();
const stage = box(document.querySelector('.embed-stage'));
const bar = box(document.querySelector('.embed-bar'));
const shown = (e) => { const r = box(e); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
for (const card of document.querySelectorAll('#overlay .card, #offers .offer')) {
  if (!shown(card)) continue;
  const r = box(card), name = card.getAttribute('aria-label') || card.className;
  if (r.top < stage.top - 1 || r.right > stage.right + 1 || r.left < stage.left - 1) problems.push(`${name} leaves the player`);
  if (r.bottom > bar.top + 1 && card.closest('#offers')) problems.push(`${name} runs under the control bar`);
  const scroller = card.closest('#offers') ?? card;
  if (scroller.scrollHeight > scroller.clientHeight + 1) problems.push(`${name} is clipped (scrolls inside)`);
  for (const inner of card.querySelectorAll('a.button, .chart, .sponsor')) {
    const b = box(inner);
    if (b.bottom > r.bottom + 1 || b.right > r.right + 1) problems.push(`${inner.className} sticks out of ${name}`);
  }
  const sponsor = card.querySelector('.sponsor'), chart = card.querySelector('.chart');
  if (sponsor && chart && box(sponsor).bottom > box(chart).top + 1) problems.push('the sponsor line overlaps the results');
  if (chart && chart.children.length) {
    const c = box(chart), content = Math.max(...[...chart.children].map((e) => box(e).bottom)) - c.top;
    if (content > c.height + 1) problems.push('the results chart overflows');
    if (c.height > content + 8) problems.push(`the results chart has ${Math.round(c.height - content)} px of empty space`);
  }
}
const controls = [...document.querySelectorAll('.embed-bar > *:not(.embed-reactions), .embed-reactions > *')].filter(shown);
const bar_row = controls.filter((e) => box(e).top < bar.bottom && box(e).bottom > bar.top);
for (const e of controls) {
  const r = box(e);
  if (e.closest('.embed-reactions') && (r.bottom > bar.bottom + 1 || r.top < bar.top - 1)) continue;  // wrapped away
  if (r.right > stage.right + 1) problems.push(`${e.id || e.className} leaves the bar`);
}
for (let i = 0; i < bar_row.length; i++) for (let j = i + 1; j < bar_row.length; j++) {
  const a = box(bar_row[i]), b = box(bar_row[j]);
  const inRow = (r) => r.top >= bar.top - 1 && r.bottom <= bar.bottom + 1;
  if (!inRow(a) || !inRow(b)) continue;
  const overlap = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  if (overlap > 1) problems.push(`${bar_row[i].id || bar_row[i].className} overlaps ${bar_row[j].id || bar_row[j].className}`);
}
for (const r of document.querySelectorAll('.embed-reactions > *')) {
  const a = box(r), c = box(document.querySelector('.embed-reactions'));
  if (shown(r) && a.top < c.bottom && a.bottom > c.top && (a.left < c.left - 1 || a.right > c.right + 1)) problems.push('a reaction is cut off');
}
return problems;
"""


def embed_layout(driver, frame, where):
    """What a person would see broken in the embed (run from the host page): cards leaving the player or clipped, the
    results chart overlapping or padded, controls overlapping or cut off."""
    driver.switch_to.frame(frame)
    try:
        problems = driver.execute_script(EMBED_LAYOUT)
    finally:
        driver.switch_to.default_content()
    if problems:
        raise CheckFailed(f'embed layout ({where}): {"; ".join(problems)}')


def claims(token):
    part = token.split('.')[1]
    return json.loads(base64.urlsafe_b64decode(part + '=' * (-len(part) % 4)))


def stored_token(driver):
    return driver.execute_script(f"return localStorage.getItem('liveloop.token.{CHANNEL}') || ''")


def video_plays(driver, frame=None):
    return driver.execute_script("const v = document.querySelector('video'); return !!v && v.currentTime > 0.5 && !v.paused")


def open_poll(question, sponsor=None):
    created = message({'type': 'poll.create', 'question': question, 'options': ['Red', 'Blue'], **({'sponsor': sponsor} if sponsor else {})})
    poll_id = created['ref']
    message({'type': 'poll.launch', 'pollID': poll_id})
    return poll_id


def ballots(poll_id):
    message({'type': 'poll.close', 'pollID': poll_id})
    status, snapshot = api('GET', f'/api/v1/channels/{CHANNEL}/room')
    poll = next(p for p in snapshot['polls'] if p['pollID'] == poll_id)
    return (poll.get('results') or poll.get('tally') or {}).get('ballots')


# --- 1. joining ------------------------------------------------------------------------------------------------------

def join_flow():
    api('PUT', f'/api/v1/channels/{CHANNEL}/audience', {'join': 'open', 'private': False, 'allowedOrigins': [], 'staffNames': ['Hal']})
    for width, height in ((1280, 800), (390, 844)):
        driver = browser(width, height)
        try:
            driver.get(f'{SERVER}/watch/{CHANNEL}')
            form = wait(driver, 'the join form', lambda d: d.find_element(By.ID, 'join-form').is_displayed() and d.find_element(By.ID, 'join-form'))
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", form)
            shot(driver, f'join-form-{width}x{height}.png')
            name = driver.find_element(By.ID, 'join-name')
            name.send_keys('H0st')
            form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
            wait(driver, 'the impersonation refusal', lambda d: 'staff' in d.find_element(By.CSS_SELECTOR, '.join-status').text)
            name.clear()
            name.send_keys(f'Ada {width}')
            form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
            wait(driver, 'joined as Ada', lambda d: f'Chatting as Ada {width}' in d.find_element(By.ID, 'identity').text)
            wait(driver, 'the chat box', lambda d: d.find_element(By.ID, 'chat-input').is_displayed())
            shot(driver, f'joined-{width}x{height}.png')
            sub = claims(stored_token(driver))['sub']
            if width != 1280:
                continue
            # Reload and a second tab: the same viewer.
            driver.refresh()
            wait(driver, 'the same identity after a reload', lambda d: 'Chatting as Ada 1280' in d.find_element(By.ID, 'identity').text)
            first = driver.current_window_handle
            driver.switch_to.new_window('tab')
            driver.get(f'{SERVER}/watch/{CHANNEL}')
            wait(driver, 'the same identity in a second tab', lambda d: 'Chatting as Ada 1280' in d.find_element(By.ID, 'identity').text)
            if claims(stored_token(driver))['sub'] != sub:
                raise CheckFailed('the second tab has another sub')
            # One ballot between the two tabs.
            poll_id = open_poll('Which colour?')
            tabs = [first, driver.current_window_handle]
            for handle in tabs:
                driver.switch_to.window(handle)
                button = wait(driver, 'the poll card', lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, '#overlay button') if 'Red' in b.text and b.is_enabled()), None), timeout=20)
                button.click()
                time.sleep(1.0)
            counted = ballots(poll_id)
            if counted != 1:
                raise CheckFailed(f'two tabs of one viewer cast {counted} ballots')
            checks['join'] = {'sub': sub, 'ballotsFromTwoTabs': counted, 'refusedName': 'H0st'}
        finally:
            driver.quit()


# --- 2. the embed on another origin ------------------------------------------------------------------------------------

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title><style>body{font-family:sans-serif;margin:0;padding:16px;background:#f3efe6}h1{margin:0 0 12px}
.player{width:100%;max-width:900px}</style>
<script type="module" src="SERVER/sdk/liveloop.js"></script></head><body><h1>The shop</h1>
<liveloop-player id="live" class="player" channel="CHANNEL" muted autoplay offerlinks="host" show="poll,quiz,offers,reactions,chat"></liveloop-player>
<script type="module">
window.events = [];
const player = document.getElementById('live');
player.addEventListener('liveloop', (event) => window.events.push(event.detail));
window.player = player;
</script></body></html>"""


def serve_host_page():
    page = HOST_PAGE.replace('SERVER', SERVER).replace('CHANNEL', CHANNEL).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def names(driver):
    return [e['name'] for e in driver.execute_script('return window.events')]


OFFER = {'offerID': 'embed-tee', 'title': 'Tour T-shirt', 'price': '24.90', 'currency': 'EUR',
         'link': 'https://shop.example/tee', 'stock': 5}


def offer_card(driver):
    """Inside the embed frame: the offer card's stock, countdown and button texts (None while it is not there)."""
    return driver.execute_script("""const card = document.querySelector('#offers .offer[data-offer-id="embed-tee"]');
      if (!card || card.offsetParent === null) return null;
      const text = (s) => card.querySelector(s)?.textContent ?? null;
      return {stock: text('.stock'), countdown: text('.countdown'), button: text('a.button'), price: text('.price')};""")


def live_report():
    """The report of the broadcast on air (the demo channel's)."""
    _, broadcasts = api('GET', f'/api/v1/channels/{CHANNEL}/broadcasts')
    live = next((b for b in broadcasts or [] if b.get('endedAt') is None), None)
    if not live:
        raise CheckFailed(f'no live broadcast in {broadcasts}')
    status, report = api('GET', f"/api/v1/channels/{CHANNEL}/broadcasts/{live['id']}/report")
    if status != 200:
        raise CheckFailed(f'report: HTTP {status}')
    return report


def sponsor_in_embed(driver, frame, poll_id):
    """Inside the embed: the viewer clicks the poll's sponsor. The link opens in a new tab, the host page gets
    `sponsor.click`, and the server counts it (GET …/sponsors)."""
    first = driver.current_window_handle
    tabs = set(driver.window_handles)
    driver.switch_to.frame(frame)
    link = driver.find_element(By.CSS_SELECTOR, '.poll .sponsor a')
    rel, target = link.get_attribute('rel'), link.get_attribute('target')
    link.click()
    driver.switch_to.default_content()
    events = lambda d: [e['data'] for e in d.execute_script('return window.events') if e['name'] == 'sponsor.click']
    wait(driver, 'sponsor.click on the host page', lambda d: events(d))
    event = events(driver)[0]
    if event.get('pollID') != poll_id or event.get('sponsor') != 'Acme Coffee' or event.get('link') != 'https://acme.example/':
        raise CheckFailed(f'sponsor.click data: {event}')
    wait(driver, "the sponsor's page in a new tab", lambda d: len(d.window_handles) > len(tabs))
    for handle in set(driver.window_handles) - tabs:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(first)
    counted = {}
    def server_counts(_):
        status, body = api('GET', f'/api/v1/channels/{CHANNEL}/sponsors')
        counted.update(next((c for c in (body or {}).get('sponsors', []) if c.get('pollID') == poll_id), {}))
        return status == 200 and counted.get('clicks', 0) >= 1
    wait(driver, 'the sponsor click counted on the server', server_counts)
    return {'rel': rel, 'target': target, 'hostEvent': event, 'server': counted}


def offer_in_embed(driver, width, height):
    """The card in the embed: checked, screenshotted, and (at 1280) clicked: `offer.click` on the host page, no tab."""
    frame = driver.execute_script("return document.getElementById('live').shadowRoot.querySelector('iframe')")
    driver.switch_to.frame(frame)
    wait(driver, 'the offer card in the embed', lambda d: ((offer_card(d) or {}).get('countdown') or '').startswith('Ends in'), timeout=20)
    card = offer_card(driver)
    if card['stock'] != '5 left' or '24' not in card['price']:
        raise CheckFailed(f'offer card: {card}')
    driver.switch_to.default_content()
    embed_layout(driver, frame, f'offer card at {width}x{height}')
    shot(driver, f'embed-offer-{width}x{height}.png')
    if width != 1280:
        return None
    driver.switch_to.frame(frame)
    tabs = len(driver.window_handles)
    playhead = driver.execute_script("return document.querySelector('video').currentTime")
    driver.find_element(By.CSS_SELECTOR, '#offers .offer[data-offer-id="embed-tee"] a.button').click()
    driver.switch_to.default_content()
    wait(driver, 'offer.click on the host page', lambda d: any(e['name'] == 'offer.click' for e in d.execute_script('return window.events')))
    click = next(e['data'] for e in driver.execute_script('return window.events') if e['name'] == 'offer.click')
    if click.get('offerID') != 'embed-tee' or click.get('price') != '24.90' or click.get('link') != OFFER['link'] \
            or not isinstance(click.get('mediaTime'), (int, float)):
        raise CheckFailed(f'offer.click data: {click}')
    if len(driver.window_handles) != tabs:
        raise CheckFailed('offerlinks="host": the click still opened a tab')
    counted = {}
    def server_counts(_):
        status, body = api('GET', f'/api/v1/channels/{CHANNEL}/offers')
        counted.update(next((o for o in (body or {}).get('offers', []) if o['offerID'] == 'embed-tee'), {}))
        return status == 200 and counted.get('clicks', 0) >= 1
    wait(driver, 'the click counted on the server', server_counts)
    # The counted click is attributed to where the viewer's playhead was (the report's click log), not null.
    offer = next((o for o in live_report()['offers'] if o['offerID'] == OFFER['offerID']), {})
    counted_at = (offer.get('clickLog') or [{}])[-1].get('mediaTime')
    if not isinstance(counted_at, (int, float)) or abs(counted_at - playhead) > 3:
        raise CheckFailed(f'the counted click has mediaTime {counted_at}, the playhead was at {playhead}')
    message({'type': 'offer.show', 'offer': {**OFFER, 'stock': 0, 'endsAt': int(time.time() * 1000) + 600_000}})
    driver.switch_to.frame(frame)
    wait(driver, 'the card sold out', lambda d: (offer_card(d) or {}).get('stock') == 'Sold out')
    driver.switch_to.default_content()
    shot(driver, f'embed-offer-soldout-{width}x{height}.png')
    message({'type': 'offer.show', 'offer': {**OFFER, 'endsAt': int(time.time() * 1000) + 600_000}})
    return {'hostEvent': click, 'server': counted, 'tabsOpened': len(driver.window_handles) - tabs,
            'playhead': playhead, 'countedMediaTime': counted_at}


def embed():
    host = serve_host_page()
    port = host.server_address[1]
    origin = f'http://127.0.0.1:{port}'
    status, _ = api('PUT', f'/api/v1/channels/{CHANNEL}/audience',
                    {'join': 'open', 'allowedOrigins': [origin], 'branding': {'accent': '#ff3366'}})
    if status != 200:
        raise CheckFailed(f'audience PUT: {status}')
    message({'type': 'offer.show', 'offer': {**OFFER, 'endsAt': int(time.time() * 1000) + 600_000}})
    try:
        for width, height in ((1280, 800), (390, 844)):
            driver = browser(width, height)
            try:
                driver.get(f'{origin}/')
                wait(driver, 'the ready event from the embed', lambda d: 'ready' in names(d), timeout=20)
                frame = driver.execute_script("return document.getElementById('live').shadowRoot.querySelector('iframe')")
                driver.switch_to.frame(frame)
                wait(driver, 'video playing inside the embed', video_plays, timeout=25)
                accent = driver.execute_script("return getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
                if accent != '#ff3366':
                    raise CheckFailed(f'branding not applied in the embed: --accent is {accent!r}')
                driver.switch_to.default_content()
                shot(driver, f'embed-{width}x{height}.png')
                if width != 1280:
                    offer_in_embed(driver, width, height)
                    continue
                joined = driver.execute_async_script("const done = arguments[0]; window.player.join('Bea').then(done, (e) => done({error: e}))")
                if not joined or 'error' in joined:
                    raise CheckFailed(f'join over postMessage: {joined}')
                wait(driver, 'the identity event', lambda d: any(e['name'] == 'identity' and (e['data'] or {}).get('name') == 'Bea' for e in d.execute_script('return window.events')))
                poll_id = open_poll('Embed poll?', sponsor={'name': 'Acme Coffee', 'link': 'https://acme.example/'})
                wait(driver, 'the poll event on the host page', lambda d: any(e['name'] == 'poll' and e['data'].get('pollID') == poll_id for e in d.execute_script('return window.events')), timeout=20)
                driver.switch_to.frame(frame)
                sponsor_text = lambda d: d.execute_script("return document.querySelector('.poll .sponsor')?.textContent ?? ''")
                wait(driver, 'the sponsor on the poll card', lambda d: 'Sponsored by Acme Coffee' in sponsor_text(d))
                sponsor_link = driver.execute_script("return document.querySelector('.poll .sponsor a').href")
                driver.switch_to.default_content()
                shot(driver, f'embed-sponsored-poll-{width}x{height}.png')
                checks['sponsoredPoll'] = {'link': sponsor_link, **sponsor_in_embed(driver, frame, poll_id)}
                voted = driver.execute_async_script(f"const done = arguments[0]; window.player.vote('{poll_id}', 1).then(done, (e) => done({{error: e}}))")
                if not voted or 'error' in voted:
                    raise CheckFailed(f'vote over postMessage: {voted}')
                message({'type': 'poll.close', 'pollID': poll_id})
                message({'type': 'poll.reveal', 'pollID': poll_id})
                wait(driver, 'the results event on the host page', lambda d: 'results' in names(d), timeout=20)
                checks['embed'] = {'origin': origin, 'events': sorted(set(names(driver))), 'accent': accent}
                driver.switch_to.frame(frame)
                wait(driver, 'the results card', lambda d: d.execute_script("return !!document.querySelector('.poll[data-phase=revealed] .chart .bars, .poll[data-phase=revealed] .chart *')"))
                driver.switch_to.default_content()
                embed_layout(driver, frame, f'poll results at {width}x{height}')
                shot(driver, f'embed-results-{width}x{height}.png')
                checks['embedOffer'] = offer_in_embed(driver, width, height)
            finally:
                driver.quit()
        # A page on an origin the channel does not list: not framed, so no events.
        driver = browser()
        try:
            driver.get(f'http://localhost:{port}/')
            time.sleep(6)
            if names(driver):
                raise CheckFailed(f'a page from an origin not allowed got events: {names(driver)}')
            checks['embedRefusedOrigin'] = f'http://localhost:{port}'
        finally:
            driver.quit()
    finally:
        host.shutdown()
        message({'type': 'offer.hide', 'offerID': OFFER['offerID']})


# --- 3. members-only ---------------------------------------------------------------------------------------------------

def members_only():
    api('PUT', f'/api/v1/channels/{CHANNEL}/audience', {'private': True, 'allowedOrigins': []})
    driver = browser()
    try:
        driver.get(f'{SERVER}/watch/{CHANNEL}')
        wait(driver, 'the members-only notice', lambda d: 'for members' in d.find_element(By.ID, 'player-status').text, timeout=20)
        if video_plays(driver):
            raise CheckFailed('a private channel played without a token')
        shot(driver, 'private-locked-1280x800.png')
        status, minted = api('POST', f'/api/v1/channels/{CHANNEL}/playback-tokens', {'ttlSeconds': 600})
        if status != 200:
            raise CheckFailed(f'playback token: {status}')
        driver.get(f"{SERVER}/watch/{CHANNEL}#pt={minted['token']}")
        wait(driver, 'the private channel playing with a token', video_plays, timeout=25)
        if 'pt=' in driver.current_url:
            raise CheckFailed('the playback token stayed in the address bar')
        shot(driver, 'private-playing-1280x800.png')
        checks['membersOnly'] = {'lockedWithout': True, 'playsWith': True}
    finally:
        driver.quit()
        api('PUT', f'/api/v1/channels/{CHANNEL}/audience', {'private': False})


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    step = 'start'
    try:
        for step, run in (('join', join_flow), ('embed', embed), ('membersOnly', members_only)):
            run()
        print(json.dumps({'ok': True, 'checks': checks}))
    except Exception as error:  # noqa: BLE001 - one summary line whatever failed
        print(json.dumps({'ok': False, 'failedStep': step, 'error': f'{type(error).__name__}: {error}', 'checks': checks}))
        sys.exit(1)


if __name__ == '__main__':
    main()
