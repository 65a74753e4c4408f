// fleet.mjs - a small, deterministic demo fleet for the dashboard's browser
// tests, posted through the real ingest API (POST /api/v1/ingest, one JSON
// batch per device, as shared/spec/api-v1.md describes).
//
// What it contains (so every view has something to show):
//  - devices on two VPN servers and three OS builds, each with interface
//    metrics, a user-tunnel pbk entry, a VPN policy and 7 days of attempts
//    (20221 dial, then 20225 success or 20227 failure with an error code);
//  - ~15 % of devices with the VPN interface metric tied with Ethernet
//    (metric-order) and a pbk IpInterfaceMetric of 0 (pbk-metric);
//  - one in three vpn2 devices with a GCM IPsec policy that differs from the
//    baseline the loader PUTs (ipsec-mismatch) and failing with 13868, so
//    13868 is concentrated on that server (fleet-concentration);
//  - a burst of 13801 in the last 45 minutes on a dozen devices, none
//    before (fleet-spike);
//  - device 0 with a hostile hostname `<img src=x onerror=alert(1)>`, and
//    markup in its messages, user, pbk values and DNS suffix.
// Event times avoid +-10 minutes around the 1h/24h/7d/30d window edges, so
// the counts of a window do not change while a test compares them. With
// historyDays, each device also has attempts older than the collector's hot
// horizon (31 days) for the long windows, which the collector reads from its
// daily rollups (their edges are UTC midnights, which move once a day).
import { gzipSync } from 'node:zlib';

export const XSS_HOSTNAME = '<img src=x onerror=alert(1)>';
export const USER_CONN = 'Always On VPN';
export const DEVICE_CONN = 'AOVPN Device Tunnel';

export const BASELINE = {
  server_custom: true,
  policy: {
    cipher_transform: 'AES128', auth_transform: 'SHA256128', encryption_method: 'AES128',
    integrity_check_method: 'SHA256', dh_group: 'Group14', pfs_group: 'PFS2048',
  },
};
const GCM = {
  cipher_transform: 'GCMAES128', auth_transform: 'GCMAES128', encryption_method: 'GCMAES128',
  integrity_check_method: 'SHA256', dh_group: 'Group14', pfs_group: 'ECP256',
};
const WEAK = { ...BASELINE.policy, dh_group: 'Group2' };

export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(r, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

export function uuid(r) {
  return `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
}

const EDGES = [60, 1440, 10080, 43200];
/** An age in minutes that keeps 10 minutes away from every window edge. */
function safeAge(r, lo, hi) {
  for (;;) {
    const age = lo + r() * (hi - lo);
    if (EDGES.every((e) => Math.abs(age - e) > 10)) return age;
  }
}

const iso = (ms) => new Date(ms).toISOString();

function message(user, conn, code) {
  return code == null
    ? `The user ${user} has successfully established a connection to ${conn} using the device ${'WAN Miniport (IKEv2)'}.`
    : `The user ${user} dialed a connection named ${conn} which has failed. The error code returned on failure is ${code}.`;
}

/**
 * Builds the batches (one per device). opts: devices, seed, now (ms),
 * historyDays (0 = none). Returns { batches, manifest }.
 */
export function buildFleet({ devices = 60, seed = 7, now = Date.now(), historyDays = 0 } = {}) {
  const r = rng(seed);
  const batches = [];
  const manifest = { seed, devices: [], xss_device: null, inverted_devices: [], spike_code: 13801,
    concentration_code: 13868, baseline: BASELINE };
  const builds = ['10.0.22631', '10.0.26100', '10.0.19045'];
  const spikeSet = new Set();
  const nSpike = Math.min(devices - 1, 12, Math.max(6, Math.floor(devices / 5)));
  while (spikeSet.size < nSpike) spikeSet.add(1 + Math.floor(r() * (devices - 1)));
  for (let i = 0; i < devices; i++) {
    const xss = i === 0;
    const id = uuid(r);
    const hostname = xss ? XSS_HOSTNAME : `${i % 4 === 3 ? 'DESKTOP' : 'LT'}-${String(1000 + i * 7).padStart(4, '0')}`;
    const os = builds[Math.floor(i / 3) % 3];
    const server = i % 3 === 0 ? 'vpn2.corp.example' : 'vpn1.corp.example';
    const inverted = xss || (i % 7 === 2);
    const mismatch = server === 'vpn2.corp.example' && i % 2 === 0;
    const weak = !mismatch && i % 11 === 5;
    const hasDeviceTunnel = i % 5 === 1;
    const wifi = i % 4 === 1;
    const user = xss ? 'CORP\\<i>mallory</i>' : `CORP\\user${i}`;
    const snap = now - Math.round(safeAge(r, 5, 50)) * 60000;
    const records = [];
    const phys = wifi ? { alias: 'Wi-Fi', type: 'wifi', metric: 35, index: 14 } : { alias: 'Ethernet', type: 'ethernet', metric: 25, index: 12 };
    for (const family of ['ipv4', 'ipv6']) {
      records.push({ kind: 'iface_metric', time: iso(snap), alias: phys.alias, index: phys.index, family,
        metric: phys.metric, automatic: true, connected: true, if_type: phys.type, mtu: 1500 });
      records.push({ kind: 'iface_metric', time: iso(snap), alias: wifi ? 'Ethernet' : 'Wi-Fi', index: wifi ? 12 : 14,
        family, metric: wifi ? 25 : 35, automatic: true, connected: false, if_type: wifi ? 'ethernet' : 'wifi' });
      records.push({ kind: 'iface_metric', time: iso(snap), alias: USER_CONN, index: 41, family,
        metric: inverted ? phys.metric : 3, automatic: inverted, connected: true, if_type: 'vpn', mtu: 1400 });
      if (hasDeviceTunnel)
        records.push({ kind: 'iface_metric', time: iso(snap), alias: DEVICE_CONN, index: 43, family,
          metric: 4, automatic: false, connected: true, if_type: 'vpn', mtu: 1400 });
      records.push({ kind: 'iface_metric', time: iso(snap), alias: 'Loopback Pseudo-Interface 1', index: 1, family,
        metric: 75, automatic: true, connected: true, if_type: 'loopback' });
    }
    const userPbk = {
      Encoding: '1', PBVersion: '8', Type: '2', AutoLogon: '0', DialParamsUID: String(100000 + i),
      VpnStrategy: i % 9 === 4 ? '10' : '14', IpPrioritizeRemote: '0',
      DisableClassBasedDefaultRoute: i % 6 === 5 ? '0' : '1',
      IpInterfaceMetric: inverted ? '0' : '3', Ipv6InterfaceMetric: inverted ? '0' : '3',
      IpDnsFlags: hasDeviceTunnel && i % 2 ? '1' : '0', DisableMobility: '0', NetworkOutageTime: i % 8 === 3 ? '1800' : '0',
      Disable_IKEv2_Fragmentation: i % 10 === 7 ? '1' : '0', AlwaysOnCapable: '1', AutoTiggerCapable: '1',
      DeviceTunnel: '0', PhoneNumber: server, Device: 'WAN Miniport (IKEv2)',
      CustomIPSecPolicies: mismatch ? 'GCM' : 'AES',
    };
    if (xss) {
      userPbk.PhoneNumber = '"><svg onload=alert(3)>';
      userPbk.DnsSuffix = '<script>alert(4)</script>';
    }
    records.push({ kind: 'pbk_entry', time: iso(snap), scope: 'user', connection: USER_CONN, settings: userPbk });
    if (hasDeviceTunnel)
      records.push({ kind: 'pbk_entry', time: iso(snap), scope: 'all_users', connection: DEVICE_CONN, settings: {
        Encoding: '1', PBVersion: '8', Type: '2', VpnStrategy: i % 3 === 1 ? '14' : '7', IpPrioritizeRemote: '0',
        IpInterfaceMetric: '4', Ipv6InterfaceMetric: '4', IpDnsFlags: '1', DeviceTunnel: '1',
        AlwaysOnCapable: '1', AutoTiggerCapable: '1', DisableMobility: '0', NetworkOutageTime: '0',
        Disable_IKEv2_Fragmentation: '0', PhoneNumber: server } });
    records.push({ kind: 'vpn_policy', time: iso(snap), connection: USER_CONN, server, tunnel_type: 'Ikev2',
      auth_method: 'Eap', split_tunneling: true, device_tunnel: false,
      dns_suffix: xss ? '<b>corp</b>.example' : 'corp.example',
      ipsec: mismatch ? GCM : weak ? WEAK : BASELINE.policy });
    if (hasDeviceTunnel)
      records.push({ kind: 'vpn_policy', time: iso(snap), connection: DEVICE_CONN, server, tunnel_type: 'Ikev2',
        auth_method: 'MachineCertificate', split_tunneling: true, device_tunnel: true, ipsec: BASELINE.policy });

    // Attempts: 7 days, heavier in the last day.
    let rec = 1;
    const attempt = (ageMin, code) => {
      const t = now - Math.round(ageMin * 60000);
      const coid = uuid(r).toUpperCase();
      records.push({ kind: 'ras_event', time: iso(t - 4000), event_id: 20221, record_id: rec++, level: 'information',
        user, connection: USER_CONN, coid, message: `CoId=${coid}: The user ${user} has started dialing a VPN connection using a all-user connection profile named ${USER_CONN}.` });
      // progress events: how far the dial got before its outcome
      const reached = code == null ? 20224 : code === 691 || code === 812 ? 20224 : code === 13801 ? 20223 : 20222;
      for (let ev = 20222; ev <= reached; ev++) {
        records.push({ kind: 'ras_event', time: iso(t - 4000 + (ev - 20221) * 700), event_id: ev, record_id: rec++,
          level: 'information', user, connection: USER_CONN, coid,
          message: `CoId=${coid}: progress ${ev} of the connection named ${USER_CONN}.` });
      }
      if (code == null) {
        records.push({ kind: 'ras_event', time: iso(t), event_id: 20225, record_id: rec++, level: 'information',
          user, connection: USER_CONN, coid, message: message(user, USER_CONN, null) });
      } else {
        records.push({ kind: 'ras_event', time: iso(t), event_id: 20227, record_id: rec++, level: 'error',
          user, connection: USER_CONN, coid, error_code: code,
          message: xss ? `<script>alert(2)</script> ${message(user, USER_CONN, code)}` : message(user, USER_CONN, code) });
      }
    };
    const nDay = 4 + Math.floor(r() * 8), nWeek = 4 + Math.floor(r() * 6), nMonth = 1 + Math.floor(r() * 3);
    const pick = () => {
      const x = r();
      if (mismatch && x < 0.7) return 13868;
      if (x < 0.12) return 809;
      if (os === '10.0.19045' && x < 0.2) return -2146885613;
      if (x < 0.24) return 691;
      if (x < 0.26) return 812;
      return null;
    };
    for (let k = 0; k < nDay; k++) attempt(safeAge(r, 50, 1430), pick());
    for (let k = 0; k < nWeek; k++) attempt(safeAge(r, 1450, 10070), pick());
    for (let k = 0; k < nMonth; k++) attempt(safeAge(r, 10090, 40000), pick());
    if (spikeSet.has(i)) for (let k = 0; k < 3; k++) attempt(safeAge(r, 2, 45), 13801);
    if (historyDays > 32) {
      const nOld = 6 + Math.floor(r() * 6);
      for (let k = 0; k < nOld; k++) attempt(safeAge(r, 32 * 1440, historyDays * 1440), pick());
    }
    records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));

    batches.push({ schema: 1, batch_id: `web-${seed}-${i}-${hex(r, 8)}`,
      agent: { device_id: id, hostname, os_version: os, agent_version: i % 4 === 0 ? '0.1.0' : '0.2.0' }, records });
    manifest.devices.push({ device_id: id, hostname, server, os_version: os, inverted, mismatch, weak,
      spike: spikeSet.has(i) });
    if (xss) manifest.xss_device = id;
    if (inverted) manifest.inverted_devices.push(id);
  }
  return { batches, manifest };
}

/** POSTs JSON to the collector; returns the parsed answer or throws. */
export async function request(url, token, method, path, body, { gzip = false, timeoutMs = 30000 } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  let data;
  if (body !== undefined) {
    data = Buffer.from(JSON.stringify(body));
    headers['Content-Type'] = 'application/json';
    if (gzip) {
      data = gzipSync(data, { level: 1 });
      headers['Content-Encoding'] = 'gzip';
    }
  }
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url + path, { method, headers, body: data, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (res.status === 503 && attempt < 50) {
      await new Promise((ok) => setTimeout(ok, 200 * (Number(res.headers.get('retry-after')) || 1)));
      continue;
    }
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
}

/** Posts batches with a bounded number in flight. */
export async function postBatches(url, token, batches, { concurrency = 4, gzip = false } = {}) {
  let next = 0, accepted = 0;
  const worker = async () => {
    while (next < batches.length) {
      const b = batches[next++];
      const ans = await request(url, token, 'POST', '/api/v1/ingest', b, { gzip });
      accepted += ans.accepted || 0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return accepted;
}
