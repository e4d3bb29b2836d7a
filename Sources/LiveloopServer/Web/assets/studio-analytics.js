// The studio's Analytics panel (#studio-analytics): the channel's broadcasts (GET …/broadcasts) in a picker, newest
// first, and the chosen one's report (GET …/broadcasts/ID/report, docs/analytics.md) as plain SVG charts — viewers
// over time (a step line, one dot per sample), chat and reaction rates (bars per minute), participation per poll and
// quiz question (one bar each), the quiz answer-time histogram — with a summary and a table. The report of the
// broadcast on air is refreshed every few seconds; CSV downloads the same report as a file.

import { h, flash, number } from './dom.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 320;
const HEIGHT = 120;
const PAD = 14;
/** How often the panel refreshes while the chosen broadcast is live (and the list, to catch a new one). */
export const REFRESH_MS = 4000;

function svg(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

const percent = (ratio) => (ratio === null || ratio === undefined ? '—' : `${(ratio * 100).toFixed(0)} %`);
const duration = (seconds) => (seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h`
  : seconds >= 60 ? `${Math.round(seconds / 60)} min` : `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`);

function axisLabel(chart, text) {
  chart.append(svg('text', { x: 2, y: 10 }, text));
}

/** Viewers over time: a step line through the samples, one `circle.point` per sample. */
function drawViewers(chart, report) {
  const series = report.viewers.series;
  const span = Math.max(report.durationSeconds, ...series.map((p) => p.offsetSeconds)) || 1;
  const top = Math.max(report.viewers.peak, 1);
  const x = (offset) => PAD + (offset / span) * (WIDTH - 2 * PAD);
  const y = (count) => HEIGHT - PAD - (count / top) * (HEIGHT - 2 * PAD);
  chart.replaceChildren(svg('line', { class: 'axis', x1: PAD, y1: HEIGHT - PAD, x2: WIDTH - PAD, y2: HEIGHT - PAD }));
  const points = [];
  series.forEach((point, index) => {
    if (index > 0) points.push(`${x(point.offsetSeconds)},${y(series[index - 1].count)}`);
    points.push(`${x(point.offsetSeconds)},${y(point.count)}`);
  });
  if (series.length) points.push(`${x(span)},${y(series[series.length - 1].count)}`);
  chart.append(svg('polyline', { class: 'line', points: points.join(' ') }));
  for (const point of series) {
    const dot = svg('circle', { class: 'point', cx: x(point.offsetSeconds), cy: y(point.count), r: 2 });
    dot.append(svg('title', {}, `${number.format(point.count)} at ${new Date(point.t).toLocaleTimeString()}`));
    chart.append(dot);
  }
  axisLabel(chart, `peak ${number.format(report.viewers.peak)}`);
}

/** Bars side by side: `groups` is a list of {values, className}; every group has the same number of buckets. */
function drawBars(chart, groups, { labels = [], max } = {}) {
  chart.replaceChildren(svg('line', { class: 'axis', x1: PAD, y1: HEIGHT - PAD, x2: WIDTH - PAD, y2: HEIGHT - PAD }));
  const buckets = Math.max(...groups.map((g) => g.values.length), 0);
  if (!buckets) return;
  const top = max ?? Math.max(1, ...groups.flatMap((g) => g.values));
  const slot = (WIDTH - 2 * PAD) / buckets;
  const width = Math.max((slot * 0.8) / groups.length, 0.5);
  groups.forEach((group, g) => {
    group.values.forEach((value, index) => {
      const height = (Math.min(value, top) / top) * (HEIGHT - 2 * PAD);
      const bar = svg('rect', {
        class: `bar ${group.className}`, x: PAD + index * slot + slot * 0.1 + g * width, y: HEIGHT - PAD - height,
        width, height: Math.max(height, 0),
      });
      bar.append(svg('title', {}, `${labels[index] ?? index}: ${group.format ? group.format(value) : number.format(value)}`));
      chart.append(bar);
    });
  });
  axisLabel(chart, max === 1 ? '100 %' : number.format(top));
}

function summary(report) {
  const entries = [
    ['Status', report.live ? 'Live' : 'Ended'],
    ['Duration', duration(report.durationSeconds)],
    ['Peak viewers', number.format(report.viewers.peak)],
    ['Average viewers', report.viewers.average.toFixed(1)],
    ['Chat / min', report.chat.perMinute.toFixed(1)],
    ['Reactions / min', report.reactions.perMinute.toFixed(1)],
    ['Questions asked / answered', `${number.format(report.questions.asked)} / ${number.format(report.questions.answered)}`],
    ['Gifts (value)', `${number.format(report.gifts.events)} (${number.format(report.gifts.value)})`],
  ];
  $('analytics-summary').replaceChildren(...entries.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))));
}

function table(report) {
  const rows = [];
  for (const poll of report.polls) {
    rows.push(['Poll: ' + poll.question, poll.viewersAtLaunch, `${number.format(poll.voters)} voters`, percent(poll.participation)]);
  }
  for (const quiz of report.quizzes) {
    for (const question of quiz.questions) {
      rows.push([`${quiz.title} #${question.index + 1}: ${question.prompt}`, question.viewersAtShow,
        `${number.format(question.answers)} answers, median ${question.answerTime.p50Ms ?? '—'} ms`, percent(question.participation)]);
    }
  }
  for (const offer of report.offers) {
    rows.push(['Offer: ' + offer.title, offer.impressions, `${number.format(offer.uniqueClicks)} clicked`, percent(offer.clickThrough)]);
  }
  for (const sponsored of report.sponsors ?? []) {
    rows.push([`Sponsor: ${sponsored.sponsor} (${sponsored.kind}: ${sponsored.title})`, sponsored.impressions,
      `${number.format(sponsored.uniqueClicks)} clicked (${number.format(sponsored.clicks)} clicks)`, percent(sponsored.clickThrough)]);
  }
  const element = $('analytics-interactions');
  element.hidden = rows.length === 0;
  element.tBodies[0].replaceChildren(...rows.map((cells) => h('tr', {}, ...cells.map((cell) => h('td', {}, String(cell))))));
}

function render(report) {
  summary(report);
  drawViewers($('analytics-viewers'), report);
  const minuteLabels = report.chat.series.map((_, index) => `${(index * report.chat.bucketSeconds) / 60} min`);
  drawBars($('analytics-rates'), [
    { values: report.chat.series, className: 'chat' },
    { values: report.reactions.series, className: 'reactions' },
  ], { labels: minuteLabels });
  const interactions = [
    ...report.polls.map((poll) => ({ label: poll.question, value: poll.participation ?? 0 })),
    ...report.quizzes.flatMap((quiz) => quiz.questions.map((q) => ({ label: `${quiz.title} #${q.index + 1}`, value: q.participation ?? 0 }))),
  ];
  drawBars($('analytics-participation'), [{ values: interactions.map((i) => i.value), className: 'participation', format: percent }],
    { labels: interactions.map((i) => i.label), max: 1 });
  const histograms = report.quizzes.map((quiz) => quiz.answerTime).filter((d) => d.count > 0);
  const bucketMs = Math.max(1000, ...histograms.map((d) => d.bucketMs));
  const merged = [];
  for (const distribution of histograms) {
    distribution.histogram.forEach((count, index) => {
      const at = Math.floor((index * distribution.bucketMs) / bucketMs);
      merged[at] = (merged[at] ?? 0) + count;
    });
  }
  drawBars($('analytics-answers'), [{ values: Array.from(merged, (v) => v ?? 0), className: 'answers' }],
    { labels: merged.map((_, index) => `${(index * bucketMs) / 1000}–${((index + 1) * bucketMs) / 1000} s`) });
  table(report);
  $('analytics-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

/** Mounts the panel. `rest(method, path)` answers JSON; `authorization()` is the header the studio signs in with. */
export function mountAnalytics({ rest, channel, authorization }) {
  const picker = $('analytics-broadcast');
  const status = $('analytics-status');
  let broadcasts = [];
  let chosen = null; // null: follow the newest broadcast
  let timer = null;

  const selected = () => chosen ?? broadcasts[0]?.id ?? null;

  function fillPicker() {
    const current = selected();
    picker.replaceChildren(...broadcasts.map((b) => h('option', { value: b.id, selected: b.id === current },
      `${new Date(b.startedAt).toLocaleString()}${b.endedAt ? '' : ' · live'} · peak ${number.format(b.peakViewers)}`)));
    $('analytics-empty').hidden = broadcasts.length > 0;
  }

  async function refresh() {
    try {
      broadcasts = await rest('GET', 'broadcasts');
      fillPicker();
      const id = selected();
      if (id) render(await rest('GET', `broadcasts/${encodeURIComponent(id)}/report`));
      status.hidden = true;
    } catch (error) {
      flash(status, `Analytics unavailable: ${error.message}`, 'error', REFRESH_MS);
      if (error.status === 401 || error.status === 403) clearInterval(timer);
    }
  }

  picker.addEventListener('change', () => {
    chosen = picker.value === broadcasts[0]?.id ? null : picker.value;
    refresh();
  });
  $('analytics-csv').addEventListener('click', async () => {
    const id = selected();
    if (!id) return;
    try {
      const response = await fetch(`/api/v1/channels/${encodeURIComponent(channel)}/broadcasts/${encodeURIComponent(id)}/report.csv`,
        { cache: 'no-store', headers: { Authorization: authorization() } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: `${channel}-${id}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      flash(status, `CSV unavailable: ${error.message}`);
    }
  });
  timer = setInterval(() => {
    // Past broadcasts do not change: only the list (for a new broadcast) and a live report need refreshing.
    const current = broadcasts.find((b) => b.id === selected());
    if (!current || !current.endedAt || chosen === null) refresh();
  }, REFRESH_MS);
  refresh();
}
