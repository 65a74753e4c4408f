// views/findings.js - the analyzer's findings (GET /findings) and one
// finding with its evidence, remediation and affected devices.
import { get } from '../api.js';
import { loadChart, trendChart } from '../charts.js';
import { h, setChildren, stateBox } from '../dom.js';
import {
  SEVERITIES, fmtFactor, fmtInt, fmtRate, fmtTime, plural, severityRank,
} from '../format.js';
import {
  deviceLink, errorBox, isAbort, kvTree, lastError, pageHead, pager, remediationBlock, section,
  severityBadge, stackTable, time,
} from './common.js';

const FLEET_RULES = new Set(['fleet-concentration', 'fleet-spike']);

function sortFindings(list) {
  return [...list].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) ||
    b.devices_affected - a.devices_affected || String(a.id).localeCompare(String(b.id)));
}

// ---- list ----

async function renderList(ctx) {
  const { root } = ctx;
  const sev = ctx.query.get('severity');
  document.title = 'Findings · rasfleet';
  const head = pageHead('Findings', 'Loading the analyzer’s findings…');
  const body = h('div', stateBox('loading', 'Loading findings…'));
  setChildren(root, head, body);
  const data = await get('/findings', null, { signal: ctx.signal });
  const all = sortFindings(data.findings || []);
  setChildren(head.querySelector('.page-sub'),
    `${plural(all.length, 'open finding')} · fleet patterns over the last 24 h and device misconfigurations · computed `,
    time(data.generated_at, { seconds: true }));
  if (!all.length) {
    setChildren(body, stateBox('empty', 'No open findings.',
      'The analyzer checks every device’s interfaces, phonebook and IPsec policy, and the fleet’s failures for concentrations and spikes. Nothing needs attention now.'));
    root.dataset.state = 'empty';
    return;
  }
  const list = sev ? all.filter((f) => f.severity === sev) : all;
  const chips = h('div.chips', { role: 'group', 'aria-label': 'Severity' },
    h('a.chip', { href: ctx.href('/findings'), 'aria-pressed': String(!sev) }, `all ${all.length}`),
    SEVERITIES.map((s) => {
      const n = all.filter((f) => f.severity === s).length;
      return n ? h('a.chip', { href: ctx.href('/findings', { severity: s }), 'aria-pressed': String(sev === s) }, severityBadge(s), ` ${n}`) : null;
    }));
  setChildren(body, chips, list.length ? h('ul.findings', list.map((f) => h('li',
    h('a.finding-row', { href: ctx.href(`/findings/${encodeURIComponent(f.id)}`), dataset: { findingId: f.id, rule: f.rule } },
      h('div.finding-top', severityBadge(f.severity), h('span.finding-title', f.title)),
      h('p.finding-summary', f.summary),
      h('div.finding-meta',
        h('span', plural(f.devices_affected, 'device')),
        h('span', 'first ', time(f.first_seen, { ago: false })),
        h('span', 'last ', time(f.last_seen)),
        h('code.rule', f.rule))))))
    : stateBox('empty', `No ${sev} findings.`, 'Pick another severity above.'));
}

// ---- evidence ----

function stat(label, value, sub, key) {
  return h('div.stat', { dataset: { stat: key || label } }, h('div.stat-label', label), h('div.stat-value', value), sub ? h('div.stat-sub', sub) : null);
}

function shareBar(label, share, text) {
  const fill = h('span.bar-fill');
  fill.style.width = `${Math.max(0, Math.min(100, share * 100)).toFixed(1)}%`;
  return h('div.share', h('div.share-label', label, h('span.muted', ` ${text}`)), h('span.bar', fill));
}

function concentrationEvidence(ev) {
  return h('div.evidence',
    h('div.stats',
      stat('Failures', fmtInt(ev.failures), `with ${ev.code} in the last ${ev.window || '24h'}`, 'failures'),
      stat('Failing devices', fmtInt(ev.failing_devices), `of ${fmtInt(ev.reporting_devices)} reporting`, 'failing_devices'),
      stat(`Over-represented ${ev.attribute}`, ev.value == null ? 'unknown' : String(ev.value), null, 'value'),
      stat('Support', fmtRate(ev.support), `${fmtInt(ev.failing_with_value)} of ${fmtInt(ev.failing_devices)} failing devices have it`, 'support'),
      stat('Fleet share', fmtRate(ev.fleet_share), `${fmtInt(ev.fleet_with_value)} of ${fmtInt(ev.reporting_devices)} reporting devices have it`, 'fleet_share'),
      stat('Lift', fmtFactor(ev.lift), 'support ÷ fleet share: how much more often than chance', 'lift')),
    h('div.shares',
      shareBar(`Failing devices with ${ev.attribute} = ${ev.value}`, ev.support, fmtRate(ev.support)),
      shareBar(`Whole reporting fleet with ${ev.attribute} = ${ev.value}`, ev.fleet_share, fmtRate(ev.fleet_share))),
    ev.policy_fields ? h('div', h('h4', 'Policy fields'), kvTree(ev.policy_fields)) : null);
}

function spikeEvidence(ev) {
  return h('div.evidence',
    h('div.stats',
      stat('Recent failures', fmtInt(ev.recent_failures), `in the last ${ev.recent_window_minutes} min (${Number(ev.recent_per_hour).toFixed(1)} per hour)`, 'recent_failures'),
      stat('Baseline', `${Number(ev.baseline_per_hour).toFixed(1)} / h`, `${fmtInt(ev.baseline_failures)} failures over the ${ev.baseline_hours} h before`, 'baseline'),
      stat('Factor', fmtFactor(ev.factor), 'recent rate ÷ baseline rate (at least 1 per hour)', 'factor'),
      stat('Onset', fmtTime(ev.onset), `the spike began around then`, 'onset'),
      stat('Devices', fmtInt(ev.devices), 'failing in the recent window', 'devices')));
}

function deviceRuleEvidence(ctx, f) {
  const ev = f.evidence || {};
  const ex = ev.examples || [];
  return h('div.evidence',
    h('div.stats', stat('Devices', fmtInt(ev.devices ?? f.devices_affected), 'flagged by this rule now', 'devices'),
      stat('Examples', fmtInt(ex.length), 'shown below, with what the rule saw', 'examples')),
    ex.length ? h('div.table-wrap', h('table.data.examples',
      h('thead', h('tr', h('th', 'Device'), h('th', 'Connection'), h('th', 'Reason'), h('th', 'Detail'))),
      h('tbody', ex.map((x) => h('tr',
        h('td', deviceLink(ctx, x.device_id, x.hostname)),
        h('td', x.connection || '—'),
        h('td.reason', (x.detail && x.detail.reason) || '—'),
        h('td', h('details', h('summary', 'evidence'), kvTree(x.detail)))))))) : null);
}

function evidenceView(ctx, f) {
  const ev = f.evidence || {};
  if (f.rule === 'fleet-concentration') return concentrationEvidence(ev);
  if (f.rule === 'fleet-spike') return spikeEvidence(ev);
  if (ev.examples) return deviceRuleEvidence(ctx, f);
  return h('div.evidence', kvTree(ev));
}

// ---- affected devices ----

function deviceTable(ctx, rows) {
  return stackTable(h('div.table-wrap', h('table.data.devices-mini',
    h('thead', h('tr', h('th', 'Hostname'), h('th', 'OS build'), h('th', 'Last seen'), h('th', 'Last error'))),
    h('tbody', rows.map((d) => h('tr', { dataset: { deviceId: d.device_id } },
      h('td', deviceLink(ctx, d.device_id, d.hostname), d.hostname ? h('div.sub.mono', d.device_id) : null),
      h('td', d.os_version || '—'),
      h('td', d.last_seen ? time(d.last_seen) : '—'),
      h('td', d.last_error === undefined ? h('span.muted', '—') : lastError(d.last_error))))))));
}

async function affectedDevices(ctx, f, sec) {
  const limit = 25;
  if (!FLEET_RULES.has(f.rule)) {
    // Device rules: the server pages the flagged devices.
    const load = async (offset) => {
      try {
        const d = await get('/devices', { finding: f.rule, limit, offset, window: ctx.win }, { signal: ctx.signal });
        setChildren(sec.body,
          h('p.muted', `${plural(d.total, 'device')} flagged by ${f.rule} now.`),
          d.devices.length ? deviceTable(ctx, d.devices) : stateBox('empty', 'No device is flagged any more.', 'The finding cleared since the list was computed.'),
          pager(ctx, { total: d.total, offset, limit, onPage: (o) => load(o) }),
          h('a.btn.btn-small', { href: ctx.href('/devices', { finding: f.rule }) }, 'Open in the device list ›'));
      } catch (e) {
        if (isAbort(e, ctx)) return;
        setChildren(sec.body, errorBox(e, () => load(offset)));
      }
    };
    await load(0);
    sec.done();
    return;
  }
  // Fleet findings list up to 200 device ids; hostnames come from the
  // devices that failed with the code in the pattern window.
  const ids = f.devices || [];
  if (!ids.length) {
    setChildren(sec.body, stateBox('empty', 'The finding lists no devices.', ''));
    sec.done();
    return;
  }
  const byId = new Map();
  const code = f.evidence && f.evidence.code;
  if (code != null) {
    try {
      const d = await get('/devices', { code, window: '24h', limit: 1000 }, { signal: ctx.signal });
      for (const x of d.devices) byId.set(x.device_id, x);
    } catch (e) {
      if (isAbort(e, ctx)) return;
    }
  }
  const rows = ids.map((id) => byId.get(id) || { device_id: id });
  const show = (offset) => setChildren(sec.body,
    h('p.muted', ids.length < f.devices_affected
      ? `The first ${fmtInt(ids.length)} of ${plural(f.devices_affected, 'affected device')}.`
      : `${plural(ids.length, 'affected device')}.`),
    deviceTable(ctx, rows.slice(offset, offset + limit)),
    pager(ctx, { total: rows.length, offset, limit, onPage: show }),
    code != null ? h('a.btn.btn-small', { href: ctx.href('/devices', { code }) }, `All devices failing with ${code} ›`) : null);
  show(0);
  sec.done();
}

async function codeTrend(ctx, f, sec) {
  const code = f.evidence.code;
  try {
    const [trend, Chart] = await Promise.all([
      get('/trend', { window: '24h', bucket: '15m', code }, { signal: ctx.signal }), loadChart()]);
    if (ctx.signal.aborted) return;
    const canvas = h('canvas#finding-chart', { role: 'img', 'aria-label': `Failures with ${code} per 15 minutes, last 24 hours` });
    setChildren(sec.body, h('div.chart-box.chart-small', canvas));
    trendChart(Chart, canvas, trend, 'attempts');
  } catch (e) {
    if (isAbort(e, ctx)) return;
    setChildren(sec.body, errorBox(e));
  }
  sec.done();
}

async function renderDetail(ctx) {
  const { root } = ctx;
  document.title = 'Finding · rasfleet';
  const back = h('a.back', { href: ctx.href('/findings') }, '‹ All findings');
  setChildren(root, back, stateBox('loading', 'Loading the finding…'));
  const data = await get('/findings', null, { signal: ctx.signal });
  const f = (data.findings || []).find((x) => x.id === ctx.param);
  if (!f) {
    setChildren(root, back, stateBox('empty', 'This finding is not open any more.',
      `No current finding has the id “${ctx.param}”. It may have cleared since the link was made (findings are recomputed every few seconds when data changes).`));
    root.dataset.state = 'empty';
    return;
  }
  document.title = `${f.title} · rasfleet`;
  const evid = section('Evidence', { id: 'evidence' });
  setChildren(evid.body, evidenceView(ctx, f));
  evid.done();
  const rem = section('Remediation', { id: 'remediation' });
  setChildren(rem.body, remediationBlock(f.remediation));
  rem.done();
  const devs = section('Affected devices', { id: 'affected-devices', loadingText: 'Loading the affected devices…' });
  const parts = [back,
    h('div.page-head.finding-head', { dataset: { findingId: f.id } },
      h('div.finding-top', severityBadge(f.severity), h('code.rule', f.rule)),
      h('h1', f.title),
      h('p.page-sub', plural(f.devices_affected, 'device'), ' affected · first seen ', time(f.first_seen, { ago: false }),
        ' · last seen ', time(f.last_seen))),
    h('p.finding-summary.lead', f.summary),
    h('div.grid-detail', evid.el, rem.el)];
  let trendSec = null;
  if (FLEET_RULES.has(f.rule) && f.evidence && f.evidence.code != null) {
    trendSec = section(`Failures with ${f.evidence.code}, last 24 hours`, { id: 'finding-trend' });
    parts.push(trendSec.el);
  }
  parts.push(devs.el);
  setChildren(root, ...parts);
  await Promise.all([affectedDevices(ctx, f, devs), trendSec ? codeTrend(ctx, f, trendSec) : null]);
}

export async function render(ctx) {
  if (ctx.name === 'finding') return renderDetail(ctx);
  return renderList(ctx);
}
