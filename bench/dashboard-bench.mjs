#!/usr/bin/env node
// dashboard-bench.mjs - page load time of the dashboard's views in headless
// chromium (Debian's, through tests/web's playwright-core): from navigation
// start (performance.timeOrigin) to the view's "data rendered" marker, the
// performance mark rf-rendered-<view> that web/app.js records once the
// view's data is on screen. Each run is a fresh browser context (empty
// cache, new sessionStorage) doing a full page load.
//
//   node bench/dashboard-bench.mjs --url http://127.0.0.1:PORT --token READER [--runs 9] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { launch, newPage } from '../tests/web/lib/browser.mjs';

const { values: o } = parseArgs({ options: {
  url: { type: 'string' }, token: { type: 'string' }, runs: { type: 'string', default: '9' }, json: { type: 'string' },
  target: { type: 'string', default: '1000' },
} });
if (!o.url || !o.token) {
  console.error('usage: dashboard-bench.mjs --url URL --token TOKEN [--runs N] [--json FILE]');
  process.exit(2);
}
const RUNS = Number(o.runs);

async function api(path) {
  const r = await fetch(`${o.url}/api/v1${path}`, { headers: { Authorization: `Bearer ${o.token}` } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

const fleet = await api('/devices?limit=1');
const flagged = await api('/devices?finding=metric-order&limit=1');
const device = (flagged.devices[0] || fleet.devices[0]).device_id;
const views = [
  ['overview', '#/overview?window=24h'],
  ['findings', '#/findings?window=24h'],
  ['devices', '#/devices?window=24h'],
  ['device', `#/devices/${encodeURIComponent(device)}?window=24h`],
];

const browser = await launch();
const results = {};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
for (const [view, hash] of views) {
  const times = [];
  let cold = null;
  for (let i = 0; i <= RUNS; i++) {
    const page = await newPage(browser, { base: o.url, token: o.token });
    await page.goto(`${o.url}/${hash}`, { waitUntil: 'domcontentloaded', timeout: 30000 });
    await page.waitForFunction((v) => performance.getEntriesByName(`rf-rendered-${v}`).length > 0, view, { timeout: 30000 });
    const t = await page.evaluate((v) => ({
      rendered: performance.getEntriesByName(`rf-rendered-${v}`)[0].startTime,
      state: document.getElementById('view').dataset.state,
    }), view);
    if (t.state !== 'ready') throw new Error(`${view}: rendered in state ${t.state}`);
    await page.context().close();
    if (i === 0) cold = t.rendered; // first load after start: warms the analyzer and the page cache
    else times.push(t.rendered);
  }
  results[view] = { runs: times.length, cold_ms: Math.round(cold), p50_ms: Math.round(pct(times, 50)), p95_ms: Math.round(pct(times, 95)),
    min_ms: Math.round(Math.min(...times)), max_ms: Math.round(Math.max(...times)) };
}
await browser.close();

const target = Number(o.target);
console.log(`dashboard page load, navigation start -> data rendered (${RUNS} runs per view after one cold run), ${fleet.total} devices stored`);
console.log('view        cold    p50    p95    max   (ms)');
let ok = true;
for (const [view, r] of Object.entries(results)) {
  console.log(`${view.padEnd(10)} ${String(r.cold_ms).padStart(5)}  ${String(r.p50_ms).padStart(5)}  ${String(r.p95_ms).padStart(5)}  ${String(r.max_ms).padStart(5)}`);
  if (r.p95_ms >= target) ok = false;
}
console.log(ok ? `all p95 below ${target} ms` : `some p95 at or above ${target} ms`);
if (o.json) writeFileSync(o.json, JSON.stringify({ devices: fleet.total, runs: RUNS, target_ms: target, views: results }, null, 2));
process.exit(ok ? 0 : 1);
