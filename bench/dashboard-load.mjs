#!/usr/bin/env node
// dashboard-load.mjs - stores N devices in a collector quickly, for the
// dashboard bench: one minimal gzip batch per device (POST /api/v1/ingest)
// with two iface_metric rows (Ethernet and the VPN, ~5 % of them inverted)
// and one outcome event (20225, or 20227 with one of a few codes) at a
// time spread over the last 24 hours; several connections in parallel,
// retrying on 429/503.
//
//   node bench/dashboard-load.mjs --url http://127.0.0.1:PORT --token ADMIN --devices 100000
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import http from 'node:http';

const { values: o } = parseArgs({ options: {
  url: { type: 'string' }, token: { type: 'string' }, devices: { type: 'string', default: '100000' },
  concurrency: { type: 'string', default: '8' }, seed: { type: 'string', default: '1' },
} });
if (!o.url || !o.token) {
  console.error('usage: dashboard-load.mjs --url URL --token ADMIN_TOKEN [--devices N] [--concurrency C]');
  process.exit(2);
}
const N = Number(o.devices);
const C = Number(o.concurrency);
const u = new URL(o.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: C });
const now = Date.now();
const CODES = [809, 809, 809, 13868, 13801, 691, 812, -2146762495];
const builds = ['10.0.19045', '10.0.22631', '10.0.26100'];

function batch(i) {
  // deterministic per index: cheap LCG
  let s = (i * 2654435761 + Number(o.seed)) >>> 0;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const id = `bench-${String(i).padStart(6, '0')}-${(s >>> 0).toString(16)}`;
  const t = new Date(now - Math.floor(r() * 86_000_000) - 60_000).toISOString();
  const snap = new Date(now - 120_000).toISOString();
  const inverted = r() < 0.05;
  const fail = r() < 0.15;
  const ev = { kind: 'ras_event', time: t, event_id: fail ? 20227 : 20225, record_id: 1, level: fail ? 'error' : 'information',
    user: `CORP\\u${i}`, connection: 'Always On VPN', coid: `B-${i}` };
  if (fail) ev.error_code = CODES[Math.floor(r() * CODES.length)];
  return {
    schema: 1, batch_id: `bench-${i}`,
    agent: { device_id: id, hostname: `BENCH-${String(i).padStart(6, '0')}`, os_version: builds[i % 3], agent_version: '0.2.0' },
    records: [
      { kind: 'iface_metric', time: snap, alias: 'Ethernet', index: 12, family: 'ipv4', metric: 25, automatic: true, connected: true, if_type: 'ethernet' },
      { kind: 'iface_metric', time: snap, alias: 'Always On VPN', index: 41, family: 'ipv4', metric: inverted ? 25 : 3, automatic: inverted, connected: true, if_type: 'vpn' },
      ev,
    ],
  };
}

function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: '/api/v1/ingest', method: 'POST', agent,
      headers: { Authorization: `Bearer ${o.token}`, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': body.length },
      timeout: 30000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, retry: Number(res.headers['retry-after']) || 1, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

let next = 0, done = 0, retries = 0;
const t0 = Date.now();
async function worker() {
  while (next < N) {
    const i = next++;
    const body = gzipSync(Buffer.from(JSON.stringify(batch(i))), { level: 1 });
    for (let k = 0; ; k++) {
      const r = await post(body);
      if (r.status === 200) break;
      if ((r.status === 429 || r.status === 503) && k < 200) {
        retries++;
        await new Promise((ok) => setTimeout(ok, Math.min(1000, 100 * r.retry)));
        continue;
      }
      throw new Error(`device ${i}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    }
    done++;
    if (done % 20000 === 0) console.error(`dashboard-load: ${done} devices, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
await Promise.all(Array.from({ length: C }, worker));
agent.destroy();
const s = (Date.now() - t0) / 1000;
console.log(`dashboard-load: ${done} devices (${done * 3} records) in ${s.toFixed(1)} s (${Math.round(done / s)} batches/s, ${retries} retries)`);
