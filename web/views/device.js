// views/device.js - one device (GET /devices/{id}): its open findings,
// interfaces in metric order per family with the inversion highlighted,
// phonebook entries against the recommended values (and the findings that
// concern each entry), VPN policies against the IPsec baseline
// (GET /settings/ipsec-baseline), a timeline of its recent attempts, and
// its agent as the agent's own agent_status report describes it (spool,
// telemetry dropped or refused, last success, last error).
import { get } from '../api.js';
import { h, setChildren, stateBox } from '../dom.js';
import { codeLabel, fmtBytes, fmtDuration, fmtInt, fmtTime, plural, severityRank, stageName } from '../format.js';
import { codeForms, kvTree, lastError, remediationBlock, section, severityBadge, time } from './common.js';

const IPSEC_FIELDS = ['cipher_transform', 'auth_transform', 'encryption_method', 'integrity_check_method', 'dh_group', 'pfs_group'];
const POLICY_RULES = new Set(['ipsec-default', 'ipsec-weak', 'ipsec-mismatch', 'devtunnel-invariants']);
const IFACE_RULES = new Set(['metric-order']);

const num = (v) => (v != null && /^\s*-?\d+\s*$/.test(String(v)) ? parseInt(String(v), 10) : null);
const eqi = (a, b) => String(a ?? '').toLowerCase() === String(b ?? '').toLowerCase();

// ---- findings ----

function findingItem(f, i) {
  const ev = f.evidence || {};
  return h('li.dev-finding', { id: `finding-${i}`, dataset: { rule: f.rule } },
    severityBadge(f.severity),
    h('div.dev-finding-main',
      h('div', h('span.finding-title', f.title), h('span.muted', ' · '), h('strong.conn', f.connection || '—'), ' ', h('code.rule', f.rule)),
      ev.reason ? h('div.reason', ev.reason) : null,
      h('details', h('summary', 'Evidence and remediation'), h('div.dev-finding-more', kvTree(ev), remediationBlock(f.remediation)))));
}

function findingRefs(list) {
  if (!list.length) return null;
  return h('ul.concerns', list.map(({ f, i }) => h('li', severityBadge(f.severity), ' ',
    h('a', { href: `#/devices/${encodeURIComponent(currentId)}`, dataset: { jump: `finding-${i}` } }, f.title),
    f.evidence && f.evidence.reason ? h('span.muted', ` — ${f.evidence.reason}`) : null)));
}

let currentId = '';

// ---- the agent (its agent_status report) ----

function spoolText(a) {
  const used = `${fmtBytes(a.spool_bytes)} in ${plural(a.spool_batches, 'batch', 'batches')}`;
  if (!a.spool_limit_bytes) return `${used} (no bound)`;
  const pct = Math.min(100, Math.round((100 * a.spool_bytes) / a.spool_limit_bytes));
  return `${used} of ${fmtBytes(a.spool_limit_bytes)} (${pct} %)`;
}

function agentStatus(dev) {
  const a = dev.agent;
  if (!a) {
    return stateBox('empty', 'This device’s agent does not report its own status.',
      'Agents older than the agent_status report send none; a current rasfleet-agent reports its spool, drops and last error once per run.');
  }
  const dropped = a.dropped_batches_total || 0;
  const flagged = (dev.open_findings || []).some((f) => f.rule === 'agent-spool-drops');
  const fact = (key, label, ...value) => [h('dt', label), h('dd', { dataset: { fact: key } }, ...value)];
  const warn = dropped && flagged
    ? h('p.warn.agent-drops', { role: 'note' }, h('strong', 'Telemetry lost: '),
      `the agent deleted ${plural(dropped, 'batch', 'batches')}${a.dropped_records_total != null ? ` (${plural(a.dropped_records_total, 'record')})` : ''} unsent because its spool was full`,
      a.last_drop ? [', the last reported ', time(a.last_drop)] : null,
      '. Events of that time never reached the collector; see the finding above for what to change.')
    : null;
  const losses = a.losses || [];
  return [
    warn,
    h('dl.kv.kv-inline.agent-facts',
      fact('spool', 'Spool', spoolText(a)),
      fact('dropped', 'Dropped (full spool)', dropped ? h('strong.bad-text', plural(dropped, 'batch', 'batches')) : 'none',
        a.dropped_records_total ? ` · ${plural(a.dropped_records_total, 'record')}` : ''),
      fact('rejected', 'Refused by the collector', a.rejected_batches_total == null ? h('span.muted', 'not reported')
        : a.rejected_batches_total ? h('strong.bad-text', plural(a.rejected_batches_total, 'batch', 'batches')) : 'none'),
      fact('last_success', 'Last success', time(a.last_success)),
      fact('last_error', 'Last error', a.last_error ? [h('span.agent-error', a.last_error), ' ', time(a.last_error_time)] : h('span.muted', 'none')),
      fact('source_errors', 'Files that failed to parse', a.source_errors == null ? h('span.muted', 'not reported') : fmtInt(a.source_errors)),
      fact('report', 'Report', time(a.time), h('span.muted', ` · ${plural(a.reports, 'report')} received${a.agent_version ? ` · agent ${a.agent_version}` : ''}`))),
    losses.length ? h('details.agent-losses', { open: flagged },
      h('summary', `Reports that added losses (${losses.length}${losses.length === 20 ? ', the latest' : ''})`),
      h('div.table-wrap', h('table.data.compact',
        h('thead', h('tr', h('th', 'Reported'), h('th.num', 'Batches dropped'), h('th.num', 'Records dropped'), h('th.num', 'Batches refused'))),
        h('tbody', losses.map((x) => h('tr',
          h('td', time(x.time)), h('td.num', fmtInt(x.dropped_batches)), h('td.num', fmtInt(x.dropped_records)),
          h('td.num', fmtInt(x.rejected_batches)))))))) : null,
  ];
}

// ---- interfaces ----

function interfaces(dev) {
  const rows = dev.interfaces || [];
  if (!rows.length) return stateBox('empty', 'No interface snapshot yet.', 'The agent sends Get-NetIPInterface with its next run.');
  const orderFinding = (dev.open_findings || []).filter((f) => IFACE_RULES.has(f.rule));
  // The API marks the offending rows ("inverted"); the metric-order
  // findings name them too (the VPN interface and every physical one at or
  // below it, per family). A row is highlighted when either says so.
  const named = new Set();
  for (const f of orderFinding) {
    const ev = f.evidence || {};
    for (const x of [ev.vpn, ...(ev.physical || [])]) if (x) named.add(`${ev.family}|${x.index}|${x.alias}`);
  }
  const fams = ['ipv4', 'ipv6'].filter((fam) => rows.some((r) => r.family === fam));
  return h('div.ifaces', fams.map((fam) => {
    const list = rows.filter((r) => r.family === fam).sort((a, b) => a.metric - b.metric || a.index - b.index)
      .map((r) => {
        const byFinding = named.has(`${r.family}|${r.index}|${r.alias}`);
        return { ...r, inverted: r.inverted || byFinding, source: r.inverted ? (byFinding ? 'api,finding' : 'api') : byFinding ? 'finding' : '' };
      });
    const inv = list.some((r) => r.inverted);
    const why = orderFinding.filter((f) => f.evidence && f.evidence.family === fam);
    return h('div.iface-family', { dataset: { family: fam } },
      h('h3', fam === 'ipv4' ? 'IPv4' : 'IPv6', h('span.muted', ` · ${plural(list.length, 'interface')}, lowest metric first (Windows prefers it)`)),
      inv ? h('p.warn', { role: 'note' }, h('strong', 'Metric inverted: '),
        why.length ? why.map((f) => f.evidence.reason).join('; ') : 'the VPN interface is not below a connected physical interface',
        `. DNS queries leave over the physical interface; pin the VPN metric to ${(why[0] && why[0].evidence.recommended_metric) || 3} in the phonebook.`) : null,
      h('div.table-wrap', h('table.data.iface-table',
        h('thead', h('tr', h('th.num', 'Metric'), h('th', 'Interface'), h('th', 'Type'), h('th', 'State'),
          h('th', 'Metric source'), h('th.num.col-wide', 'MTU'), h('th.num.col-wide', 'Index'))),
        h('tbody', list.map((r) => h(`tr${r.inverted ? '.inverted' : ''}${r.connected ? '' : '.disconnected'}`,
          { dataset: { alias: r.alias, index: r.index, inverted: r.inverted ? 'true' : 'false', invertedBy: r.source || null } },
          h('td.num.metric', String(r.metric)),
          h('td', r.alias, r.inverted ? h('span.badge.bad', { title: 'The VPN metric is not strictly below this connected physical interface' }, 'inverted') : null),
          h('td', r.if_type),
          h('td', r.connected ? 'connected' : 'disconnected'),
          h('td', r.automatic ? 'automatic' : 'pinned'),
          h('td.num.col-wide', r.mtu != null ? String(r.mtu) : '—'),
          h('td.num.col-wide', String(r.index))))))));
  }), h('p.muted.small', `Snapshot ${fmtTime(rows[0].time)}.`));
}

// ---- phonebook ----

/** The recommended value of a checked pbk key ({rec, ok}); docs/rules.md. */
function recommend(key, s) {
  const dt = num(s.DeviceTunnel) === 1;
  const v = s[key];
  switch (key) {
    case 'IpInterfaceMetric':
    case 'Ipv6InterfaceMetric': {
      const want = dt ? 4 : 3;
      return { rec: `${want} (${dt ? 'device' : 'user'} tunnel)`, ok: num(v) === want };
    }
    case 'VpnStrategy': {
      if (dt) return { rec: '7 (IKEv2 only)', ok: num(v) === 7 };
      const n = num(v);
      return { rec: '14 (IKEv2, then SSTP), or 7 / 5 to pin one', ok: n != null && ((n >= 0 && n <= 9) || (n >= 12 && n <= 15)) };
    }
    case 'IpPrioritizeRemote':
      return dt ? { rec: '0 (device tunnel is split)', ok: num(v) === 0 } : { rec: 'fleet choice (0 split, 1 force)', ok: null };
    case 'DisableClassBasedDefaultRoute': {
      const pr = num(s.IpPrioritizeRemote);
      if (pr === 0) return { rec: '1 with split tunnelling', ok: num(v) === 1 };
      if (pr === 1) return { rec: '0 with force tunnelling', ok: num(v) === 0 };
      return { rec: 'depends on IpPrioritizeRemote', ok: null };
    }
    case 'DisableMobility':
    case 'NetworkOutageTime':
      return { rec: 'NetworkOutageTime=0 or DisableMobility=1', ok: num(s.DisableMobility) === 1 || num(s.NetworkOutageTime) === 0 || s.NetworkOutageTime == null };
    case 'Disable_IKEv2_Fragmentation':
      return { rec: '0 (fragmentation on)', ok: num(v) === 0 };
    case 'AlwaysOnCapable':
    case 'AutoTiggerCapable': {
      const ao = dt || num(s.AlwaysOnCapable) === 1 || num(s.AutoTiggerCapable) === 1;
      return ao ? { rec: '1 (Always On entry)', ok: num(v) === 1 } : { rec: '1 if meant to be Always On', ok: null };
    }
    case 'IpDnsFlags':
      return dt ? { rec: '1 (register from the device tunnel)', ok: null } : { rec: '0 when the device tunnel registers', ok: null };
    case 'DeviceTunnel':
      return { rec: '1 only on the device tunnel', ok: null };
    default:
      return null;
  }
}
const CHECKED = ['IpInterfaceMetric', 'Ipv6InterfaceMetric', 'VpnStrategy', 'IpPrioritizeRemote', 'DisableClassBasedDefaultRoute',
  'DisableMobility', 'NetworkOutageTime', 'Disable_IKEv2_Fragmentation', 'AlwaysOnCapable', 'AutoTiggerCapable', 'IpDnsFlags', 'DeviceTunnel'];

function flaggedKeys(f) {
  const ev = f.evidence || {};
  const keys = new Set();
  if (ev.settings && typeof ev.settings === 'object') for (const k of Object.keys(ev.settings)) keys.add(k);
  for (const p of ev.problems || []) if (p.key) keys.add(p.key);
  for (const v of ev.violations || []) if (v.source === 'pbk' && v.field) keys.add(v.field);
  if (f.rule === 'metric-order') ['IpInterfaceMetric', 'Ipv6InterfaceMetric'].forEach((k) => keys.add(k));
  return keys;
}

function pbkEntry(entry, concerns) {
  const s = entry.settings || {};
  const lower = new Map(Object.keys(s).map((k) => [k.toLowerCase(), k]));
  const norm = {};
  for (const k of CHECKED) if (lower.has(k.toLowerCase())) norm[k] = s[lower.get(k.toLowerCase())];
  const flagged = new Set();
  for (const { f } of concerns) for (const k of flaggedKeys(f)) flagged.add(k.toLowerCase());
  const checked = CHECKED.filter((k) => k in norm || ['IpInterfaceMetric', 'Ipv6InterfaceMetric'].includes(k));
  const others = Object.keys(s).filter((k) => !CHECKED.some((c) => c.toLowerCase() === k.toLowerCase()));
  const dt = num(norm.DeviceTunnel) === 1;
  return h('div.pbk-entry', { dataset: { connection: entry.connection, scope: entry.scope } },
    h('div.pbk-head', h('h3', entry.connection),
      h('span.badge', entry.scope === 'user' ? 'user phonebook (AppData)' : 'all-users phonebook (ProgramData)'),
      dt ? h('span.badge', 'device tunnel') : h('span.badge', 'user tunnel')),
    h('div.pbk-body',
      h('div.table-wrap', h('table.data.pbk-table',
        h('thead', h('tr', h('th', 'Key'), h('th', 'Value'), h('th', 'Recommended'), h('th', ''))),
        h('tbody', checked.map((k) => {
          const r = recommend(k, norm) || { rec: '', ok: null };
          const present = k in norm;
          const bad = flagged.has(k.toLowerCase()) || r.ok === false;
          return h(`tr${bad ? '.flagged' : r.ok ? '.ok' : ''}`, { dataset: { key: k } },
            h('td.mono', k),
            h('td.mono', present ? (norm[k] === '' ? '(empty)' : norm[k]) : h('span.muted', 'missing')),
            h('td', r.rec),
            h('td.status', bad ? h('span.badge.bad', flagged.has(k.toLowerCase()) ? 'finding' : 'differs') : r.ok ? h('span.badge.good', 'ok') : ''));
        })))),
      h('aside.pbk-concerns', concerns.length
        ? [h('h4', `Findings on this entry (${concerns.length})`), findingRefs(concerns)]
        : h('p.muted', 'No finding concerns this entry.'))),
    others.length ? h('details.pbk-other', h('summary', `${others.length} other keys as stored`),
      h('div.table-wrap', h('table.data.compact', h('tbody', others.map((k) => h('tr', h('td.mono', k), h('td.mono', s[k]))))))) : null);
}

function phonebook(dev) {
  const entries = dev.pbk_entries || [];
  if (!entries.length) return stateBox('empty', 'No phonebook (rasphone.pbk) entries reported.', 'The agent reads both the user and the all-users phonebook on its next run.');
  const all = (dev.open_findings || []).map((f, i) => ({ f, i }));
  return h('div.pbk', entries.map((e) => pbkEntry(e, all.filter(({ f }) => f.connection === e.connection &&
    !IFACE_RULES.has(f.rule) && !(POLICY_RULES.has(f.rule) && f.rule !== 'devtunnel-invariants') &&
    (!f.evidence || !f.evidence.scope || f.evidence.scope === e.scope)).concat(
    all.filter(({ f }) => IFACE_RULES.has(f.rule) && f.connection === e.connection)))),
  h('p.muted.small', `Snapshot ${fmtTime(entries[0].time)}. Recommended values follow docs/rules.md (Richard Hicks’ profiles and Microsoft’s device tunnel guidance).`));
}

// ---- policies ----

function policyCard(p, baseline, concerns) {
  const ikev2 = eqi(p.tunnel_type, 'Ikev2') || eqi(p.tunnel_type, 'Automatic');
  const weak = new Set();
  for (const { f } of concerns) for (const w of (f.evidence && f.evidence.weak) || []) weak.add(w.field);
  const base = baseline && baseline.configured ? (baseline.server_custom ? baseline.policy : null) : undefined;
  const rows = IPSEC_FIELDS.map((k) => {
    const dv = p.ipsec ? p.ipsec[k] : null;
    const bv = base === undefined ? undefined : base ? base[k] : null;
    let cls = '';
    let status = '';
    if (base !== undefined && ikev2) {
      const match = (dv == null && bv == null) || (dv != null && bv != null && eqi(dv, bv));
      cls = match ? '.ok' : '.mismatch';
      status = match ? h('span.badge.good', 'match') : h('span.badge.bad', 'differs');
    }
    if (weak.has(k)) {
      cls = '.mismatch';
      status = h('span.badge.bad', 'weak');
    }
    return h(`tr${cls}`, { dataset: { field: k } }, h('td.mono', k),
      h('td.mono', dv ?? h('span.muted', p.ipsec ? 'missing' : 'Windows default')),
      h('td.mono', bv === undefined ? h('span.muted', 'not configured') : bv ?? h('span.muted', 'Windows default')),
      h('td.status', status));
  });
  const flag = (b) => (b ? 'yes' : 'no');
  return h('div.policy', { dataset: { connection: p.connection } },
    h('div.pbk-head', h('h3', p.connection), p.device_tunnel ? h('span.badge', 'device tunnel') : h('span.badge', 'user tunnel')),
    h('div.pbk-body',
      h('div',
        h('dl.kv.kv-inline',
          h('dt', 'Server'), h('dd', p.server), h('dt', 'Tunnel type'), h('dd', p.tunnel_type),
          h('dt', 'Authentication'), h('dd', p.auth_method), h('dt', 'Split tunnelling'), h('dd', flag(p.split_tunneling)),
          h('dt', 'DNS suffix'), h('dd', p.dns_suffix || '—')),
        h('div.table-wrap', h('table.data.policy-table',
          h('thead', h('tr', h('th', 'IPsec field'), h('th', 'This device'), h('th', 'Server baseline'), h('th', ''))),
          h('tbody', rows))),
        !ikev2 ? h('p.muted.small', `${p.tunnel_type} does not negotiate the IKEv2 policy: not compared with the baseline.`) : null),
      h('aside.pbk-concerns', concerns.length
        ? [h('h4', `Findings on this policy (${concerns.length})`), findingRefs(concerns)]
        : h('p.muted', 'No finding concerns this policy.'))));
}

function policies(dev, baseline, baselineErr) {
  const list = dev.policies || [];
  const note = baselineErr
    ? h('p.warn', `The IPsec baseline could not be read: ${baselineErr.message}`)
    : !baseline.configured
      ? h('p.warn', 'No server IPsec baseline is configured, so client policies cannot be compared with the server (error 13868). An admin sets it with PUT /api/v1/settings/ipsec-baseline or ipsec_baseline in the collector config.')
      : h('p.muted.small', baseline.server_custom
        ? `Server baseline: ${IPSEC_FIELDS.map((k) => baseline.policy[k]).join(' / ')}.`
        : 'Server baseline: the server uses the Windows defaults (no custom policy).');
  if (!list.length) return [note, stateBox('empty', 'No VPN policy (Get-VpnConnection) reported.', 'The agent sends it with its next run.')];
  const all = (dev.open_findings || []).map((f, i) => ({ f, i }));
  return [note, h('div.policies', list.map((p) => policyCard(p, baselineErr ? undefined : baseline,
    all.filter(({ f }) => POLICY_RULES.has(f.rule) && f.connection === p.connection))))];
}

// ---- attempts ----

function attempts(dev) {
  const list = dev.attempts || [];
  if (!list.length) return stateBox('empty', 'No connection attempt recorded.', 'Attempts appear when RasClient events 20221…20227 of this device arrive.');
  const ok = list.filter((a) => a.outcome === 'success').length;
  const bad = list.filter((a) => a.outcome === 'failure').length;
  const strip = h('div.attempt-strip', { 'aria-hidden': 'true' },
    [...list].reverse().map((a) => h(`span.tick.tick-${a.outcome}`, { title: `${fmtTime(a.time)} · ${a.outcome}${a.error ? ` · ${codeLabel(a.error)}` : ''}` })));
  return [
    h('p.attempt-summary', `${plural(list.length, 'most recent attempt')}: `, h('strong.good-text', `${ok} succeeded`), ', ',
      h('strong.bad-text', `${bad} failed`), list.length - ok - bad ? `, ${list.length - ok - bad} in progress` : '', ' (oldest left, newest right):'),
    strip,
    h('ol.timeline', list.map((a) => h(`li.tl-${a.outcome}`, { dataset: { outcome: a.outcome } },
      h('span.tl-dot', { 'aria-hidden': 'true' }),
      h('div.tl-main',
        h('div.tl-top', time(a.time, { seconds: true }), h(`span.badge.out-${a.outcome}`, a.outcome === 'in_progress' ? 'in progress' : a.outcome),
          h('span.tl-conn', a.connection)),
        h('div.tl-detail',
          a.duration_ms != null ? h('span', `dial → outcome ${fmtDuration(a.duration_ms)}`) : null,
          a.last_stage != null ? h('span', `last stage: ${stageName(a.last_stage)}`) : null,
          h('span.mono.muted', `CoId ${a.coid}`)),
        a.error ? h('div.tl-error', codeForms(a.error), a.error.meaning ? h('span.tl-meaning', a.error.meaning) : null) : null)))),
  ];
}

function events(dev) {
  const list = dev.recent_events || [];
  if (!list.length) return h('p.muted', 'No events.');
  return h('details.events', h('summary', `The ${list.length} most recent RasClient events`),
    h('div.table-wrap', h('table.data.compact.events-table',
      h('thead', h('tr', h('th', 'Time'), h('th', 'Event'), h('th', 'Level'), h('th', 'Connection'), h('th', 'User'), h('th', 'Code'), h('th', 'Message'))),
      h('tbody', list.map((e) => h('tr', { dataset: { level: e.level } },
        h('td', time(e.time, { ago: false, seconds: true })), h('td', stageName(e.event_id)), h('td', e.level),
        h('td', e.connection), h('td', e.user),
        h('td', e.error ? codeLabel(e.error) : e.reason_code != null ? `reason ${e.reason_code}${e.reason ? ` ${e.reason}` : ''}` : '—'),
        h('td.message', e.message || '')))))));
}

export async function render(ctx) {
  const { root } = ctx;
  const id = ctx.param;
  currentId = id;
  document.title = 'Device · rasfleet';
  const back = h('a.back', { href: ctx.href('/devices') }, '‹ All devices');
  setChildren(root, back, stateBox('loading', 'Loading the device…', `Device ${id}`));
  const [devR, baseR] = await Promise.allSettled([
    get(`/devices/${encodeURIComponent(id)}`, null, { signal: ctx.signal }),
    get('/settings/ipsec-baseline', null, { signal: ctx.signal }),
  ]);
  if (devR.status === 'rejected') {
    const e = devR.reason;
    if (e.status === 404) {
      setChildren(root, back, stateBox('empty', 'No device with this id has reported to this collector.',
        `Device id “${id}”. Search the device list by hostname instead.`, h('a.btn', { href: ctx.href('/devices', { q: id }) }, 'Search for it')));
      root.dataset.state = 'empty';
      return;
    }
    throw e;
  }
  const dev = devR.value;
  document.title = `${dev.hostname} · rasfleet`;
  const fl = [...(dev.open_findings || [])].map((f, i) => ({ f, i })).sort((a, b) => severityRank(a.f.severity) - severityRank(b.f.severity));
  const sFind = section(`Open findings (${fl.length})`, { id: 'device-findings' });
  setChildren(sFind.body, fl.length ? h('ul.dev-findings', fl.map(({ f, i }) => findingItem(f, i)))
    : stateBox('empty', 'No open finding on this device.', 'Its interfaces, phonebook and policies pass every device rule.'));
  const sIf = section('Interfaces', { id: 'interfaces' });
  setChildren(sIf.body, interfaces(dev));
  const sPbk = section('Phonebook entries', { id: 'pbk' });
  setChildren(sPbk.body, phonebook(dev));
  const sPol = section('VPN policy against the IPsec baseline', { id: 'policies' });
  setChildren(sPol.body, policies(dev, baseR.status === 'fulfilled' ? baseR.value : null, baseR.status === 'rejected' ? baseR.reason : null));
  const sAtt = section('Recent attempts', { id: 'attempts' });
  setChildren(sAtt.body, attempts(dev), events(dev));
  const sAgent = section('Agent', { id: 'agent' });
  setChildren(sAgent.body, agentStatus(dev));
  for (const s of [sFind, sIf, sPbk, sPol, sAtt, sAgent]) s.done();
  const head = h('div.page-head.device-head', { dataset: { deviceId: dev.device_id } },
    h('h1.hostname', dev.hostname),
    h('p.page-sub.mono', dev.device_id),
    h('div.device-facts',
      [['OS build', dev.os_version], ['Agent', dev.agent_version], ['First seen', time(dev.first_seen)],
        ['Last seen', time(dev.last_seen)], ['Last error', lastError(dev.last_error)],
        ['Attempts shown', fmtInt((dev.attempts || []).length)]]
        .map(([k, v]) => h('div.fact', h('span.fact-label', k), h('span.fact-value', v)))));
  const page = h('div.device-page', back, head, sFind.el, sAgent.el, h('div.grid-detail', sIf.el, sAtt.el), sPbk.el, sPol.el);
  setChildren(root, page);
  page.addEventListener('click', (ev) => {
    const a = ev.target.closest('a[data-jump]');
    if (!a) return;
    ev.preventDefault();
    const target = document.getElementById(a.dataset.jump);
    if (target) {
      const d = target.querySelector('details');
      if (d) d.open = true;
      target.scrollIntoView({ behavior: 'smooth', block: 'center' });
      target.classList.add('flash');
      setTimeout(() => target.classList.remove('flash'), 1600);
    }
  });
}
