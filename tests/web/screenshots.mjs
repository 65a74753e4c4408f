#!/usr/bin/env node
// screenshots.mjs - the documentation's screenshots of the dashboard at
// 1280×800 (viewport, not full page), from a running collector:
//
//   python3 tests/scenario/fleetgen.py --url URL --token ADMIN --scenario demo
//   node tests/web/screenshots.mjs --url URL --token READER --out docs/img
//
// Writes dashboard-overview.png (overview, 24 h) and dashboard-device.png
// (a device the metric-order rule flags, preferring one with several
// findings).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launch, newPage, openView } from './lib/browser.mjs';

const { values: o } = parseArgs({ options: {
  url: { type: 'string' }, token: { type: 'string' }, out: { type: 'string', default: 'docs/img' },
  width: { type: 'string', default: '1280' }, height: { type: 'string', default: '800' },
} });
if (!o.url || !o.token) {
  console.error('usage: screenshots.mjs --url URL --token TOKEN [--out DIR]');
  process.exit(2);
}
const get = async (path) => (await fetch(`${o.url}/api/v1${path}`, { headers: { Authorization: `Bearer ${o.token}` } })).json();
const flagged = (await get('/devices?finding=metric-order&limit=50')).devices;
const device = [...flagged].sort((a, b) => b.findings.length - a.findings.length)[0];
mkdirSync(o.out, { recursive: true });
const browser = await launch();
const shots = [
  ['#/overview?window=24h', 'overview', 'dashboard-overview.png'],
  [`#/devices/${encodeURIComponent(device.device_id)}?window=24h`, 'device', 'dashboard-device.png'],
];
for (const [hash, view, file] of shots) {
  const p = await newPage(browser, { base: o.url, token: o.token, width: Number(o.width), height: Number(o.height) });
  await openView(p, hash, view);
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(o.out, file) });
  console.log(`screenshots: ${join(o.out, file)} (${view})`);
  await p.context().close();
}
await browser.close();
