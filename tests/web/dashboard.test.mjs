// dashboard.test.mjs - the dashboard in Debian's chromium against a real
// collector loaded with a scenario fleet (started by tests/web/run.sh).
//
// Environment (run.sh sets it): RF_URL, RF_READER_TOKEN (the UI signs in
// with it), RF_TOKEN (admin), RF_HOSTILE (manifest of the device whose
// strings are markup), RF_TEST_OUTPUT (screenshots).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launch, newPage, openView, waitRendered } from './lib/browser.mjs';

const BASE = process.env.RF_URL;
const READER = process.env.RF_READER_TOKEN || process.env.RF_TOKEN;
const OUT = process.env.RF_TEST_OUTPUT || 'test-output/web';
const XSS_HOSTNAME = '<img src=x onerror=alert(1)>';
const hostile = process.env.RF_HOSTILE ? JSON.parse(readFileSync(process.env.RF_HOSTILE, 'utf8')) : null;

if (!BASE || !READER) throw new Error('RF_URL and RF_READER_TOKEN must be set (use tests/web/run.sh)');
mkdirSync(OUT, { recursive: true });

let browser;
const pages = [];

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function page(opts = {}) {
  const p = await newPage(browser, { base: BASE, token: READER, ...opts });
  pages.push(p);
  return p;
}

async function done(p) {
  const csp = await p.evaluate(() => window.__csp || []).catch(() => []);
  assert.deepEqual(p.rf.dialogs, [], 'no dialog (alert/confirm/prompt) fired');
  assert.deepEqual(p.rf.errors, [], 'no uncaught page error');
  assert.deepEqual(csp, [], 'no Content-Security-Policy violation');
  await p.context().close();
}

async function api(path, token = READER) {
  const r = await fetch(`${BASE}/api/v1${path}`, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15000) });
  assert.equal(r.status, 200, `GET ${path}: ${r.status}`);
  return r.json();
}

const shot = (p, name) => p.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
const int = (s) => Number(String(s).replace(/[^\d-]/g, ''));
const fmt = (n) => new Intl.NumberFormat('en-US').format(n);

/** Runs fn; on an assertion failure (a window edge passed between the two
 * reads) reloads and tries again, up to three times. */
async function eventually(p, view, fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= 2 || !(e instanceof assert.AssertionError)) throw e;
      await p.reload({ waitUntil: 'domcontentloaded' });
      await waitRendered(p, view);
    }
  }
}

async function readKpis(p) {
  return p.$$eval('.kpi', (els) => Object.fromEntries(els.map((e) => [e.dataset.kpi, e.querySelector('.kpi-value').textContent])));
}

async function assertKpisMatch(p, win) {
  const k = await readKpis(p);
  const ov = await api(`/overview?window=${win}`);
  for (const key of ['devices_known', 'devices_reporting', 'attempts', 'failures']) {
    assert.equal(int(k[key]), ov[key], `${key} shown ${k[key]} for window ${win}, API ${ov[key]}`);
  }
  const shown = parseFloat(k.failure_rate);
  assert.ok(Math.abs(shown - ov.failure_rate * 100) <= 0.051, `failure rate shown ${k.failure_rate}, API ${ov.failure_rate}`);
  assert.equal(await p.$eval('.kpis', (e) => e.dataset.window), win);
  return ov;
}

test('the collector serves the dashboard with the strict CSP', { timeout: 15000 }, async () => {
  const r = await fetch(`${BASE}/`, { signal: AbortSignal.timeout(10000) });
  assert.equal(r.status, 200);
  const csp = r.headers.get('content-security-policy') || '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.match(await r.text(), /<main id="view"/);
  const v = await fetch(`${BASE}/vendor/chart.umd.min.js`, { signal: AbortSignal.timeout(10000) });
  assert.equal(v.status, 200, 'web/vendor/chart.umd.min.js is served (web/fetch-vendor.sh ran)');
});

test('an unauthenticated visit shows the login, not data; a 401 brings it back', { timeout: 60000 }, async () => {
  const p = await page({ token: null });
  const apiStatuses = [];
  p.on('response', (r) => {
    if (r.url().includes('/api/v1/')) apiStatuses.push(r.status());
  });
  await openView(p, '#/overview?window=24h', 'login');
  assert.ok(await p.isVisible('input#token'), 'the token field is shown');
  assert.equal(await p.locator('.kpi').count(), 0, 'no fleet number is shown');
  assert.equal(await p.locator('#nav').isVisible(), false, 'navigation is hidden');
  assert.ok(!apiStatuses.includes(200), `no API call succeeded without a token (${apiStatuses})`);
  const raw = await fetch(`${BASE}/api/v1/overview`, { signal: AbortSignal.timeout(10000) });
  assert.equal(raw.status, 401, 'the API itself refuses a request without a token');
  await shot(p, 'login');

  await p.fill('input#token', 'not-a-valid-token-0000');
  await p.click('form.login-form button[type=submit]');
  await p.waitForFunction(() => /401/.test(document.querySelector('.login-status')?.textContent || ''));
  assert.equal(await p.$eval('main#view', (m) => m.dataset.view), 'login');

  await p.fill('input#token', READER);
  await p.click('form.login-form button[type=submit]');
  await waitRendered(p, 'overview', { state: 'ready' });
  assert.equal(await p.evaluate(() => sessionStorage.getItem('rasfleet.token')), READER, 'token kept in sessionStorage');
  assert.ok(await p.locator('.kpi').count() >= 5);
  assert.equal(await p.evaluate(() => localStorage.length), 0, 'nothing in localStorage');

  // A token the collector refuses (revoked, wrong) -> 401 -> the login again.
  await p.evaluate(() => sessionStorage.setItem('rasfleet.token', 'revoked-token-000000000'));
  await p.evaluate(() => { location.hash = '#/devices?window=24h'; });
  await waitRendered(p, 'login');
  assert.match(await p.textContent('.login-status'), /refused|401/);
  assert.equal(await p.evaluate(() => sessionStorage.getItem('rasfleet.token')), null, 'the refused token is forgotten');

  // Sign out forgets the token.
  await p.fill('input#token', READER);
  await p.click('form.login-form button[type=submit]');
  await waitRendered(p, 'devices', { state: 'ready' });
  await p.click('#signout');
  await waitRendered(p, 'login');
  assert.equal(await p.evaluate(() => sessionStorage.getItem('rasfleet.token')), null);
  await done(p);
});

test('the overview numbers equal the API for the window they state', { timeout: 60000 }, async () => {
  const p = await page();
  await openView(p, '#/overview?window=24h', 'overview');
  assert.equal(await p.$eval('main#view', (m) => m.dataset.state), 'ready');
  const ov = await eventually(p, 'overview', () => assertKpisMatch(p, '24h'));
  assert.ok(ov.attempts > 0, 'the scenario fleet has attempts in the last 24 h');
  const sub = await p.textContent('.page-sub');
  assert.match(sub, /last 24 hours/, 'the window is stated');
  for (const card of await p.$$eval('.kpi-sub', (els) => els.map((e) => e.textContent))) assert.ok(card.length > 5, 'each number says what it covers');
  await shot(p, 'overview');
  await done(p);
});

test('the window selector changes the URL and the numbers', { timeout: 60000 }, async () => {
  const p = await page();
  await openView(p, '#/overview?window=24h', 'overview');
  const day = await eventually(p, 'overview', () => assertKpisMatch(p, '24h'));
  await p.click('#window-select button[data-window="1h"]');
  await p.waitForFunction(() => location.hash.includes('window=1h'));
  await p.waitForSelector('main#view[data-view="overview"][data-state="ready"] .kpis[data-window="1h"]');
  const hour = await eventually(p, 'overview', () => assertKpisMatch(p, '1h'));
  assert.ok(hour.attempts < day.attempts, `1h attempts (${hour.attempts}) below 24h attempts (${day.attempts})`);
  assert.equal(await p.getAttribute('#window-select button[data-window="1h"]', 'aria-pressed'), 'true');
  assert.match(await p.textContent('.page-sub'), /last hour/);
  await shot(p, 'overview-1h');
  // The navigation links keep the window, and a shared URL opens on it.
  assert.match(await p.getAttribute('#nav a[data-nav="devices"]', 'href'), /window=1h/);
  const q = await page();
  await openView(q, '#/overview?window=7d', 'overview');
  assert.equal(await q.getAttribute('#window-select button[data-window="7d"]', 'aria-pressed'), 'true');
  await eventually(q, 'overview', () => assertKpisMatch(q, '7d'));
  await done(q);
  await done(p);
});

test('a long window (365d) comes from the daily rollups: numbers equal the API, whole-day buckets', { timeout: 60000 }, async () => {
  const p = await page();
  await openView(p, '#/overview?window=30d', 'overview');
  const month = await eventually(p, 'overview', () => assertKpisMatch(p, '30d'));
  await p.click('#window-select button[data-window="365d"]');
  await p.waitForFunction(() => location.hash.includes('window=365d'));
  await p.waitForSelector('main#view[data-view="overview"][data-state="ready"] .kpis[data-window="365d"]');
  const year = await eventually(p, 'overview', () => assertKpisMatch(p, '365d'));
  assert.equal(year.resolution, '1d', 'the API answers 365d per UTC day');
  assert.ok(year.attempts > month.attempts, `365d attempts (${year.attempts}) above 30d (${month.attempts}): the fleet has history`);
  assert.equal(await p.getAttribute('#window-select button[data-window="365d"]', 'aria-pressed'), 'true');
  const sub = await p.textContent('.page-sub');
  assert.match(sub, /last 365 days/);
  assert.match(sub, /whole UTC days/, 'the page says the window is cut in whole days');
  // The trend asks for whole-day buckets (the API refuses shorter ones here)
  // and draws one bar per bucket of the answer.
  await p.waitForFunction(() => window.Chart && window.Chart.getChart(document.getElementById('trend-chart')));
  assert.ok(p.rf.requests.some((u) => /\/api\/v1\/trend\?window=365d&bucket=7d/.test(u)), 'trend in 7-day buckets');
  const trend = await api('/trend?window=365d&bucket=7d');
  const bars = await p.evaluate(() => window.Chart.getChart(document.getElementById('trend-chart')).data.labels.length);
  assert.equal(bars, trend.points.length);
  assert.equal(trend.points.reduce((a, x) => a + x.failures, 0), year.failures);
  await shot(p, 'overview-365d');
  // A top error leads to its devices in the same long window.
  const first = year.top_errors[0];
  const link = p.locator('table.top-errors tbody tr').first().locator('a[data-devices-for]');
  assert.match(await link.getAttribute('href'), /window=365d/);
  await link.click();
  await waitRendered(p, 'devices', { state: 'ready' });
  const list = await api(`/devices?code=${first.code}&window=365d&limit=1`);
  assert.equal(int(await p.getAttribute('.pager-text', 'data-total')), list.total, 'the list is filtered in the long window');
  assert.equal(list.total, first.devices, 'the devices of the top error, no more');
  await done(p);
});

test('the failure trend is a Chart.js chart with data points and exact numbers on hover', { timeout: 60000 }, async () => {
  const p = await page();
  await openView(p, '#/overview?window=24h', 'overview');
  await p.waitForSelector('#trend-chart');
  await p.waitForFunction(() => window.Chart && window.Chart.getChart(document.getElementById('trend-chart')));
  const info = await p.evaluate(() => {
    const c = document.getElementById('trend-chart');
    const ch = window.Chart.getChart(c);
    const bars = ch.data.datasets.filter((d) => d.type === 'bar');
    const line = ch.data.datasets.find((d) => d.type === 'line');
    const perBucket = ch.data.labels.map((_, i) => bars.reduce((a, d) => a + (d.data[i] || 0), 0));
    const img = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < img.length; i += 4) if (img[i] > 0) painted++;
    return { labels: ch.data.labels.length, bars: bars.length, perBucket, line: line && line.label, painted, area: c.width * c.height };
  });
  const trend = await api('/trend?window=24h&bucket=1h');
  assert.equal(info.labels, trend.points.length, 'one bar per bucket');
  assert.ok(info.bars >= 1, 'failures are stacked by code');
  assert.equal(info.line, 'failure rate');
  assert.ok(info.painted > info.area * 0.02, `the canvas is painted (${info.painted} of ${info.area} pixels)`);
  const total = info.perBucket.reduce((a, b) => a + b, 0);
  assert.ok(total > 0, 'the chart has failures');
  assert.ok(Math.abs(total - trend.points.reduce((a, x) => a + x.failures, 0)) <= 5, 'stacks add up to the API failures');

  // Hover the tallest bar: the tooltip gives exact numbers for that bucket.
  const idx = info.perBucket.indexOf(Math.max(...info.perBucket));
  const pos = await p.evaluate((i) => {
    const ch = window.Chart.getChart(document.getElementById('trend-chart'));
    const el = ch.getDatasetMeta(0).data[i];
    return { x: el.x, y: (ch.chartArea.top + ch.chartArea.bottom) / 2 };
  }, idx);
  const box = await p.locator('#trend-chart').boundingBox();
  await p.mouse.move(box.x + pos.x, box.y + pos.y);
  await p.waitForFunction(() => window.Chart.getChart(document.getElementById('trend-chart')).tooltip.getActiveElements().length > 0);
  const tip = await p.evaluate(() => {
    const t = window.Chart.getChart(document.getElementById('trend-chart')).tooltip;
    return { footer: (t.footer || []).join(' '), body: t.body.map((b) => b.lines.join(' ')).join(' | ') };
  });
  assert.match(tip.footer, new RegExp(`${fmt(info.perBucket[idx])} failures of [\\d,]+ attempts`), `tooltip footer: ${tip.footer}`);
  assert.match(tip.body, /failure rate/);
  await shot(p, 'overview-trend-hover');

  // The toggle swaps the line for attempts.
  await p.click('.seg button[data-along="attempts"]');
  assert.equal(await p.evaluate(() => window.Chart.getChart(document.getElementById('trend-chart')).data.datasets.at(-1).label), 'attempts');
  await done(p);
});

test('top errors show every form of the code, devices affected, a sparkline and a link to the devices', { timeout: 60000 }, async () => {
  const p = await page();
  await openView(p, '#/overview?window=24h', 'overview');
  const ov = await api('/overview?window=24h');
  const rows = p.locator('table.top-errors tbody tr');
  assert.equal(await rows.count(), ov.top_errors.length);
  await p.waitForFunction((n) => document.querySelectorAll('.spark[data-loaded="true"]').length === n, ov.top_errors.length);
  const first = ov.top_errors[0];
  const text = await rows.first().textContent();
  for (const part of [String(first.code), first.hex, first.symbol || '']) assert.ok(text.includes(part), `row shows ${part}`);
  assert.ok(text.includes(first.meaning || ''), 'row shows the meaning');
  const link = rows.first().locator('a[data-devices-for]');
  assert.match(await link.getAttribute('href'), new RegExp(`code=${encodeURIComponent(first.code)}`));
  await link.click();
  await waitRendered(p, 'devices', { state: 'ready' });
  const list = await api(`/devices?code=${first.code}&window=24h&limit=1`);
  assert.equal(int(await p.getAttribute('.pager-text', 'data-total')), list.total, 'the device list is filtered by the code');
  await p.waitForSelector('#code-card h2');
  assert.match(await p.textContent('#code-card'), new RegExp(first.hex));
  await shot(p, 'devices-by-code');
  await done(p);
});

test('clicking a finding shows its evidence, remediation and affected devices', { timeout: 90000 }, async () => {
  const all = (await api('/findings')).findings;
  assert.ok(all.length > 0, 'the scenario produces findings');
  const p = await page();
  await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await openView(p, '#/findings?window=24h', 'findings');
  assert.equal(await p.locator('a.finding-row').count(), all.length);
  await shot(p, 'findings');

  const fleet = all.find((f) => f.rule === 'fleet-concentration') || all.find((f) => f.rule === 'fleet-spike');
  assert.ok(fleet, 'a fleet finding exists');
  await p.click(`a.finding-row[data-finding-id="${fleet.id}"]`);
  await waitRendered(p, 'finding', { state: 'ready' });
  assert.ok((await p.evaluate(() => decodeURIComponent(location.hash))).includes(fleet.id));
  const ev = await p.textContent('#evidence');
  if (fleet.rule === 'fleet-concentration') {
    assert.match(await p.textContent('.stat[data-stat="lift"] .stat-value'), new RegExp(`×${fleet.evidence.lift.toFixed(2)}`));
    assert.match(await p.textContent('.stat[data-stat="support"]'), new RegExp(`${fleet.evidence.failing_with_value} of ${fleet.evidence.failing_devices}`));
    assert.ok(ev.includes(String(fleet.evidence.value)), 'the over-represented value is named');
  } else {
    assert.match(ev, /Onset/);
  }
  await p.waitForSelector('#affected-devices[aria-busy] , #affected-devices a.device-link', { timeout: 15000 });
  await p.waitForSelector('#affected-devices a.device-link');
  assert.equal(await p.locator('#affected-devices a.device-link').count(), Math.min(25, fleet.devices.length));
  if (fleet.remediation.powershell) {
    await p.click('#remediation button[data-copy]');
    await p.waitForFunction(() => document.querySelector('#remediation button[data-copy]').textContent === 'Copied');
    const clip = await p.evaluate(() => navigator.clipboard.readText().catch(() => null));
    if (clip != null) assert.equal(clip, fleet.remediation.powershell, 'Copy puts the PowerShell on the clipboard');
  }
  assert.ok(await p.locator('#remediation .refs a').count() >= 1, 'references are listed');
  await shot(p, `finding-${fleet.rule}`);
  const target = p.locator('#affected-devices a.device-link').first();
  const id = await target.getAttribute('data-device-id');
  await target.click();
  await waitRendered(p, 'device', { state: 'ready' });
  assert.equal(await p.getAttribute('.device-head', 'data-device-id'), id, 'the device link opens that device');

  const rule = all.find((f) => f.evidence && f.evidence.examples && f.evidence.examples.length);
  if (rule) {
    await openView(p, `#/findings/${encodeURIComponent(rule.id)}`, 'finding');
    assert.equal(await p.locator('#evidence table.examples tbody tr').count(), rule.evidence.examples.length);
    await p.waitForSelector('#affected-devices .pager-text');
    const flagged = await api(`/devices?finding=${encodeURIComponent(rule.rule)}&limit=1`);
    assert.equal(int(await p.getAttribute('#affected-devices .pager-text', 'data-total')), flagged.total);
    await shot(p, `finding-${rule.rule}`);
  }
  await done(p);
});

test('a device page shows the inverted interface metric highlighted, pbk against recommended values, policy and attempts', { timeout: 60000 }, async () => {
  const flagged = await api('/devices?finding=metric-order&limit=5');
  assert.ok(flagged.total > 0, 'the scenario has a device with an inverted metric');
  const id = (flagged.devices.find((d) => d.hostname !== XSS_HOSTNAME) || flagged.devices[0]).device_id;
  const dev = await api(`/devices/${encodeURIComponent(id)}`);
  const p = await page();
  await openView(p, `#/devices/${encodeURIComponent(id)}`, 'device');
  assert.equal(await p.$eval('main#view', (m) => m.dataset.state), 'ready');
  assert.equal(await p.textContent('h1.hostname'), dev.hostname);
  const shown = await p.$$eval('.iface-family', (fams) => fams.flatMap((f) =>
    [...f.querySelectorAll('tbody tr.inverted')].map((tr) => `${f.dataset.family}/${tr.dataset.alias}`))).then((x) => x.sort());
  // Expected: the rows the API flags "inverted", and the rows the
  // metric-order findings name (the VPN interface and the physical ones at
  // or below it): the API's flag misses a user tunnel inverted while a
  // device tunnel with a lower metric is up.
  const named = new Set();
  for (const f of dev.open_findings.filter((x) => x.rule === 'metric-order')) {
    for (const x of [f.evidence.vpn, ...f.evidence.physical]) named.add(`${f.evidence.family}/${x.index}/${x.alias}`);
  }
  const expected = [...new Set(dev.interfaces.filter((i) => i.inverted || named.has(`${i.family}/${i.index}/${i.alias}`))
    .map((i) => `${i.family}/${i.alias}`))].sort();
  assert.ok(expected.length > 0);
  assert.deepEqual(shown, expected, 'exactly the offending rows are highlighted');
  assert.ok(dev.interfaces.filter((i) => i.inverted).every((i) => shown.includes(`${i.family}/${i.alias}`)), 'every row the API flags is highlighted');
  const bg = await p.$eval('.iface-table tr.inverted td', (td) => getComputedStyle(td).backgroundColor);
  const plain = await p.$eval('.iface-table tr:not(.inverted) td', (td) => getComputedStyle(td).backgroundColor);
  assert.notEqual(bg, plain, 'the inversion is visibly highlighted');
  // metric order per family: ascending
  const orders = await p.$$eval('.iface-family', (fams) => fams.map((f) => [...f.querySelectorAll('td.metric')].map((td) => Number(td.textContent))));
  for (const o of orders) assert.deepEqual(o, [...o].sort((a, b) => a - b));
  if (dev.findings.includes('pbk-metric')) {
    assert.ok(await p.locator('.pbk-table tr.flagged[data-key="IpInterfaceMetric"]').count() >= 1, 'the pbk key the finding concerns is flagged');
    assert.ok(await p.locator('.pbk-concerns ul.concerns li').count() >= 1, 'the finding is shown next to its entry');
  }
  assert.equal(await p.locator('.pbk-entry').count(), dev.pbk_entries.length);
  assert.equal(await p.locator('.policy').count(), dev.policies.length);
  if (dev.policies.length) assert.equal(await p.locator('.policy table.policy-table tbody tr').count(), 6 * dev.policies.length);
  assert.equal(await p.locator('ol.timeline li').count(), dev.attempts.length);
  await shot(p, 'device');
  await done(p);
});

test('a hostile hostname and other client strings render as text, no dialog fires', { timeout: 60000 }, async () => {
  const found = await api(`/devices?q=${encodeURIComponent('onerror')}&limit=5`);
  const id = (hostile && hostile.xss_device) || (found.devices[0] && found.devices[0].device_id);
  assert.ok(id, 'the hostile device was loaded');
  const p = await page();
  await p.context().addInitScript(() => {
    for (const k of ['alert', 'confirm', 'prompt']) {
      const orig = window[k];
      window[k] = (...a) => { window.__xss = (window.__xss || 0) + 1; return orig.apply(window, a); };
    }
  });
  await openView(p, `#/devices?q=${encodeURIComponent('onerror')}`, 'devices');
  const link = p.locator(`a.device-link[data-device-id="${id}"]`);
  assert.equal(await link.textContent(), XSS_HOSTNAME, 'the device list shows the characters');
  await shot(p, 'devices-hostile');
  await link.click();
  await waitRendered(p, 'device', { state: 'ready' });
  assert.equal(await p.textContent('h1.hostname'), XSS_HOSTNAME);
  await p.click('details.events summary');
  await p.click('details.pbk-other summary').catch(() => {});
  const body = await p.evaluate(() => document.body.textContent);
  for (const s of ['<script>alert(2)</script>', '"><svg onload=alert(3)>', '<b>corp</b>.example', 'CORP\\<i>mallory</i>']) {
    assert.ok(body.includes(s), `shown as text: ${s}`);
  }
  assert.equal(await p.evaluate(() => document.title), `${XSS_HOSTNAME} · rasfleet`);
  await shot(p, 'device-hostile');
  await openView(p, '#/findings/metric-order', 'finding');
  await openView(p, '#/overview?window=24h', 'overview');
  await p.waitForTimeout(500);
  const injected = await p.evaluate(() => document.querySelectorAll('img[src="x"], svg[onload], b, i, script:not([src])').length);
  assert.equal(injected, 0, 'no element was created from a client string');
  assert.equal(await p.evaluate(() => window.__xss || 0), 0);
  assert.deepEqual(p.rf.dialogs, []);
  await done(p);
});

test('the device list is searched and paged by the server', { timeout: 60000 }, async () => {
  const p = await page();
  await openView(p, '#/devices?window=24h', 'devices');
  const all = await api('/devices?limit=50&offset=0');
  assert.equal(int(await p.getAttribute('.pager-text', 'data-total')), all.total);
  assert.equal(await p.locator('table.devices tbody tr').count(), Math.min(50, all.total));
  assert.ok(p.rf.requests.some((u) => /\/api\/v1\/devices\?limit=50&offset=0/.test(u)), 'one page is asked of the server');
  assert.ok(!p.rf.requests.some((u) => /limit=(\d{4,})/.test(u) && /\/devices\?/.test(u)), 'never the whole fleet');
  await shot(p, 'devices');

  if (all.total > 50) {
    await p.click('.pager a[data-page="next"] >> nth=0');
    await p.waitForFunction(() => location.hash.includes('offset=50'));
    await p.waitForSelector('main#view[data-state="ready"] .pager-text:has-text("Rows 51")');
    const second = await api('/devices?limit=50&offset=50');
    assert.equal(await p.getAttribute('table.devices tbody tr >> nth=0', 'data-device-id'), second.devices[0].device_id);
  }

  await p.click('#window-select button[data-window="7d"]');
  await p.waitForFunction(() => location.hash.includes('window=7d') && !location.hash.includes('offset='));
  await p.waitForSelector('main#view[data-view="devices"][data-state="ready"]');
  const q = all.devices.find((d) => d.hostname !== XSS_HOSTNAME).hostname.slice(0, 4);
  await p.fill('#device-search', q);
  await p.waitForFunction((s) => location.hash.includes(`q=${encodeURIComponent(s)}`), q);
  assert.match(await p.evaluate(() => location.hash), /window=7d/, 'a search keeps the window');
  await p.waitForSelector('main#view[data-state="ready"] .filter');
  const want = await api(`/devices?limit=50&q=${encodeURIComponent(q)}`);
  await p.waitForFunction((n) => Number(document.querySelector('.pager-text')?.dataset.total) === n, want.total);
  assert.ok(!(await p.evaluate(() => location.hash)).includes('offset='), 'a new search starts at the first page');
  for (const [host, id] of await p.$$eval('table.devices tbody a.device-link', (as) => as.map((a) => [a.textContent, a.dataset.deviceId]))) {
    assert.ok(`${host} ${id}`.toLowerCase().includes(q.toLowerCase()), `${host} matches ${q}`);
  }
  assert.equal(await p.evaluate(() => document.activeElement && document.activeElement.id), 'device-search', 'typing keeps the focus');
  await shot(p, 'devices-search');

  await p.fill('#device-search', 'zz-no-such-device-zz');
  await p.waitForSelector('main#view[data-view="devices"][data-state="empty"]');
  assert.match(await p.textContent('main#view'), /No device matches/);
  await done(p);
});

test('loading, error and not-found states say what is happening', { timeout: 60000 }, async () => {
  const p = await page();
  await p.route('**/api/v1/trend?*', (r) => r.fulfill({ status: 500, contentType: 'application/json',
    body: JSON.stringify({ error: 'internal', message: 'the query failed' }) }));
  let release;
  const gate = new Promise((ok) => { release = ok; });
  await p.route('**/api/v1/overview?*', async (r) => {
    await gate;
    await r.continue();
  });
  await p.goto(`${BASE}/#/overview?window=24h`, { waitUntil: 'domcontentloaded' });
  await p.waitForSelector('.kpis-holder .state-loading');
  assert.match(await p.textContent('.kpis-holder'), /Loading fleet totals for the last 24 hours/);
  release();
  await waitRendered(p, 'overview');
  await p.waitForSelector('#trend .state-error');
  const err = await p.textContent('#trend .state-error');
  assert.match(err, /500/);
  assert.match(err, /the query failed/);
  assert.ok(await p.isVisible('#trend .state-error button'), 'a retry button');
  await shot(p, 'state-error');
  await p.unroute('**/api/v1/trend?*');
  await p.unroute('**/api/v1/overview?*');

  // Without the chart library (web/fetch-vendor.sh not run) the numbers
  // are still there, as a table, and the card says what to do.
  const q = await page();
  await q.route('**/vendor/chart.umd.min.js', (r) => r.fulfill({ status: 404, contentType: 'application/json',
    body: '{"error":"not_found","message":"no such page"}' }));
  await openView(q, '#/overview?window=24h', 'overview');
  await q.waitForSelector('#trend .state-error');
  assert.match(await q.textContent('#trend .state-error'), /fetch-vendor\.sh/);
  assert.ok(await q.locator('#trend details.numbers[open] table tbody tr').count() > 0, 'the trend as a table');
  assert.ok(await q.locator('.kpi').count() >= 5);
  q.rf.console.length = 0;
  await done(q);

  await openView(p, '#/devices/no-such-device-id', 'device');
  assert.equal(await p.$eval('main#view', (m) => m.dataset.state), 'empty');
  assert.match(await p.textContent('main#view'), /No device with this id has reported/);
  await openView(p, '#/findings/no-such-finding', 'finding');
  assert.match(await p.textContent('main#view'), /not open any more/);
  await done(p);
});

async function ingest(batch) {
  const r = await fetch(`${BASE}/api/v1/ingest`, {
    method: 'POST', body: JSON.stringify(batch), signal: AbortSignal.timeout(15000),
    headers: { Authorization: `Bearer ${process.env.RF_TOKEN}`, 'Content-Type': 'application/json' },
  });
  assert.equal(r.status, 200, `POST /ingest: ${r.status} ${await r.text()}`);
}

test('a device page shows its agent: spool in KiB/MiB, drops, last success and error in local time; the overview shows the lost telemetry', { timeout: 90000 }, async () => {
  assert.ok(process.env.RF_TOKEN, 'RF_TOKEN (admin) posts the agent report');
  // before any agent reported drops, the overview says nothing about lost telemetry
  const ov0 = await api('/overview?window=24h');
  assert.equal(ov0.dropped_batches, 0, 'the scenario fleet sends no agent_status');
  let p = await page();
  await openView(p, '#/overview?window=24h', 'overview');
  assert.equal(await p.locator('.telemetry-lost').count(), 0, 'nothing shown while nothing was lost');
  await p.context().close();

  const dev = (await api('/devices?limit=20')).devices.find((d) => d.hostname !== XSS_HOSTNAME);
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const hostileError = '<img src=x onerror=alert(1)> cannot reach https://collector.example.net:8443';
  const status = {
    kind: 'agent_status', time: iso(now), agent_version: '0.1.0', spool_bytes: 1572864, spool_batches: 3,
    spool_limit_bytes: 67108864, dropped_batches_total: 4, dropped_records_total: 1800, rejected_batches_total: 1,
    last_success: iso(now - 2 * 3600 * 1000), last_error: hostileError, last_error_time: iso(now - 30 * 60 * 1000), source_errors: 2,
  };
  await ingest({ schema: 1, batch_id: `web-status-${now}`, agent: { device_id: dev.device_id, hostname: dev.hostname }, records: [status] });
  const detail = await api(`/devices/${encodeURIComponent(dev.device_id)}`);
  assert.equal(detail.agent.dropped_batches_total, 4);

  p = await page();
  await openView(p, `#/devices/${encodeURIComponent(dev.device_id)}`, 'device');
  const fact = (k) => p.textContent(`#agent [data-fact="${k}"]`);
  assert.equal(await fact('spool'), '1.5 MiB in 3 batches of 64.0 MiB (2 %)');
  assert.equal(await fact('dropped'), '4 batches · 1,800 records');
  assert.equal(await fact('rejected'), '1 batch');
  assert.equal(await fact('source_errors'), '2');
  // times: the browser's local time with the relative age, the exact UTC instant in the title
  const success = await p.$eval('#agent [data-fact="last_success"] time', (t) => ({ dt: t.getAttribute('datetime'), title: t.title, text: t.textContent,
    local: new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(t.getAttribute('datetime'))) }));
  assert.equal(success.dt, detail.agent.last_success);
  assert.equal(success.text, `${success.local} · 2.0 h ago`);
  assert.match(success.title, /\(UTC\)$/);
  assert.match(await fact('last_error'), / · 30 min ago$/);
  // the agent's error text is text, never markup
  assert.equal(await p.textContent('#agent .agent-error'), hostileError);
  assert.equal(await p.locator('#agent img').count(), 0);
  assert.match(await p.textContent('#agent .agent-drops'), /deleted 4 batches \(1,800 records\) unsent/);
  assert.equal(await p.locator('#agent .agent-losses tbody tr').count(), 1);
  assert.ok(await p.locator('.dev-finding[data-rule="agent-spool-drops"]').count() === 1, 'the finding is open on the device');
  await shot(p, 'device-agent');
  await done(p);

  // the overview now shows what was lost, and leads to the devices whose agent dropped
  const ov = await api('/overview?window=24h');
  assert.ok(ov.dropped_batches >= 4 && ov.agents_dropping >= 1);
  p = await page();
  await openView(p, '#/overview?window=24h', 'overview');
  const lost = await p.$eval('.telemetry-lost', (e) => ({ ...e.dataset, text: e.textContent }));
  assert.equal(Number(lost.droppedBatches), ov.dropped_batches);
  assert.equal(Number(lost.agentsDropping), ov.agents_dropping);
  assert.match(lost.text, new RegExp(`dropped ${fmt(ov.dropped_batches)} batches \\(${fmt(ov.dropped_records)} records\\)`));
  assert.match(lost.text, /refused 1 batch for good/);
  await shot(p, 'overview-telemetry-lost');
  await p.click('.telemetry-lost a[data-dropped]');
  await p.waitForSelector('main#view[data-view="devices"][data-state="ready"]');
  assert.match(p.url(), /dropped=1/);
  const listed = await p.$$eval('table.devices tbody tr', (trs) => trs.map((tr) => tr.dataset.deviceId));
  assert.ok(listed.includes(dev.device_id), 'the device whose agent dropped is listed');
  assert.equal(listed.length, (await api('/devices?dropped=1&window=24h')).total);
  assert.match(await p.textContent('.filters'), /agent dropped telemetry/);
  await done(p);
});

test('narrow screen (390×844): no sideways scrolling, screenshots of each view', { timeout: 90000 }, async () => {
  const p = await page({ width: 390, height: 844 });
  const dev = (await api('/devices?finding=metric-order&limit=1')).devices[0];
  const finding = (await api('/findings')).findings[0];
  const views = [
    ['#/overview?window=24h', 'overview', 'overview-narrow'],
    ['#/findings?window=24h', 'findings', 'findings-narrow'],
    [`#/findings/${encodeURIComponent(finding.id)}`, 'finding', 'finding-narrow'],
    ['#/devices?window=24h', 'devices', 'devices-narrow'],
    [`#/devices/${encodeURIComponent(dev.device_id)}`, 'device', 'device-narrow'],
  ];
  for (const [hash, view, name] of views) {
    await openView(p, hash, view);
    const w = await p.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    assert.ok(w.scroll <= w.inner + 1, `${view}: page is ${w.scroll}px wide in a ${w.inner}px viewport`);
    await shot(p, name);
  }
  await done(p);
});
