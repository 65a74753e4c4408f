#!/usr/bin/env node
// load-fleet.mjs - posts the dashboard test fleet (lib/fleet.mjs) to a
// running collector through POST /api/v1/ingest and sets the IPsec
// baseline (PUT /api/v1/settings/ipsec-baseline, admin token).
//   node load-fleet.mjs --url http://127.0.0.1:PORT --token ADMIN [--devices 60] [--seed 7] [--manifest FILE]
//                       [--hostile-only] [--no-baseline] [--history-days N]
// --history-days N: attempts also spread over the last N days, past the
// collector's hot horizon (for the long windows, read from its rollups).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildFleet, postBatches, request } from './lib/fleet.mjs';

const { values: o } = parseArgs({ options: {
  url: { type: 'string' }, token: { type: 'string' }, devices: { type: 'string', default: '60' },
  seed: { type: 'string', default: '7' }, manifest: { type: 'string' }, 'no-baseline': { type: 'boolean', default: false },
  'hostile-only': { type: 'boolean', default: false }, 'history-days': { type: 'string', default: '0' },
} });
if (!o.url || !o.token) {
  console.error('usage: load-fleet.mjs --url URL --token ADMIN_TOKEN [--devices N] [--seed S] [--manifest FILE]');
  process.exit(2);
}
const t0 = Date.now();
// --hostile-only: just the device with markup in every client string (on
// top of another generator's fleet, e.g. tests/scenario/fleetgen.py).
const { batches, manifest } = buildFleet({ devices: o['hostile-only'] ? 1 : Number(o.devices), seed: Number(o.seed),
  historyDays: Number(o['history-days']) });
if (!o['no-baseline']) {
  // The collector may also have it from its config (ipsec_baseline = ...);
  // a refused PUT is reported, not fatal.
  try {
    await request(o.url, o.token, 'PUT', '/api/v1/settings/ipsec-baseline', manifest.baseline);
  } catch (e) {
    console.error(`load-fleet: warning: could not set the IPsec baseline: ${e.message}`);
  }
}
const accepted = await postBatches(o.url, o.token, batches);
if (o.manifest) writeFileSync(o.manifest, JSON.stringify(manifest, null, 2));
console.log(`load-fleet: ${batches.length} devices, ${accepted} records accepted in ${Date.now() - t0} ms`);
