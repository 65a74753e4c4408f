// views/overview.js - fleet totals for the window, the failure trend and
// the top error codes (GET /overview, /trend, /trend?code=N, /findings).
import { get } from '../api.js';
import { loadChart, PALETTE, sparkline, trendChart, trendSeries } from '../charts.js';
import { h, setChildren, stateBox } from '../dom.js';
import {
  BUCKET, SEVERITIES, fmtBucket, fmtInt, fmtRate, fmtTime, plural, severityRank, windowText,
} from '../format.js';
import {
  codeForms, componentBadge, errorBox, isAbort, pageHead, section, severityBadge, stackTable, time, windowRange,
} from './common.js';

function kpi(key, label, value, display, sub) {
  return h('div.kpi', { dataset: { kpi: key } },
    h('div.kpi-label', label),
    h('div.kpi-value', { dataset: { value } }, display),
    h('div.kpi-sub', sub));
}

function kpis(ov) {
  const w = windowText(ov.window);
  const share = ov.devices_known ? ` (${fmtRate(ov.devices_reporting / ov.devices_known)} of known)` : '';
  return h('div.kpis', { dataset: { window: ov.window } },
    kpi('devices_known', 'Devices known', ov.devices_known, fmtInt(ov.devices_known), 'every device that has ever reported'),
    kpi('devices_reporting', 'Devices reporting', ov.devices_reporting, fmtInt(ov.devices_reporting), `sent data in the ${w}${share}`),
    kpi('attempts', 'Connection attempts', ov.attempts, fmtInt(ov.attempts), `${w} · one per dial outcome (20225 / 20227)`),
    kpi('failures', 'Failures', ov.failures, fmtInt(ov.failures), `${w} · 20227 events`),
    kpi('failure_rate', 'Failure rate', ov.failure_rate, fmtRate(ov.failure_rate), `failures ÷ attempts, ${w}`));
}

/** Telemetry the agents lost in the window (their agent_status reports); nothing when none. */
function telemetryLost(ctx, ov) {
  const dropped = ov.dropped_batches || 0;
  const refused = ov.rejected_batches || 0;
  if (!dropped && !refused) return null;
  const w = windowText(ov.window);
  return h('p.warn.telemetry-lost', { role: 'note', dataset: { droppedBatches: dropped, droppedRecords: ov.dropped_records || 0,
    agentsDropping: ov.agents_dropping || 0, rejectedBatches: refused } },
    h('strong', 'Telemetry lost: '),
    dropped ? `${plural(ov.agents_dropping, 'agent')} dropped ${plural(dropped, 'batch', 'batches')} (${plural(ov.dropped_records, 'record')}) from full spools in the ${w}` : '',
    dropped && refused ? '; ' : '',
    refused ? `the collector refused ${plural(refused, 'batch', 'batches')} for good in the ${w}` : '',
    '. The counts above miss what those batches held. ',
    dropped ? h('a', { href: ctx.href('/devices', { dropped: 1 }), dataset: { dropped: '' } }, 'Show the devices ›') : null);
}

function numbersTable(trend) {
  const stacks = trendSeries(trend);
  return h('div.table-wrap', h('table.data.compact',
    h('thead', h('tr', h('th', 'bucket start'), h('th.num', 'attempts'), h('th.num', 'failures'), h('th.num', 'rate'),
      stacks.map((s) => h('th.num', s.label)))),
    h('tbody', trend.points.map((p, i) => h('tr',
      h('td', fmtTime(p.t)), h('td.num', fmtInt(p.attempts)), h('td.num', fmtInt(p.failures)),
      h('td.num', p.attempts ? fmtRate(p.failures / p.attempts) : '—'),
      stacks.map((s) => h('td.num', fmtInt(s.data[i]))))))));
}

async function renderTrend(ctx, sec, win) {
  const bucket = BUCKET[win];
  loadChart().catch(() => {}); // fetch the library while the trend is computed
  let trend;
  try {
    trend = await get('/trend', { window: win, bucket }, { signal: ctx.signal });
  } catch (e) {
    if (isAbort(e, ctx)) return;
    setChildren(sec.body, errorBox(e, () => renderTrend(ctx, sec, win)));
    sec.done();
    return;
  }
  const totalFail = trend.points.reduce((a, p) => a + p.failures, 0);
  const totalAtt = trend.points.reduce((a, p) => a + p.attempts, 0);
  const caption = h('p.chart-caption',
    `${plural(totalFail, 'failure')} of ${plural(totalAtt, 'attempt')} in ${trend.points.length} buckets of ${bucket}, ` +
    `stacked by the top ${Math.min(5, (trend.series || []).filter((s) => s.code != null).length)} error codes. Hover a bar for exact numbers.`);
  if (!totalAtt && !totalFail) {
    setChildren(sec.body, stateBox('empty', `No connection attempts in the ${windowText(win)}.`,
      `Nothing was reported between ${fmtTime(trend.from)} and ${fmtTime(trend.to)}. Choose a longer window above, or check that agents are shipping (rasfleet-agent --once).`));
    sec.done();
    return;
  }
  const canvas = h('canvas#trend-chart', { role: 'img', 'aria-label': `Failures per ${bucket} bucket in the ${windowText(win)}, stacked by error code` });
  const holder = h('div.chart-box', canvas);
  const toggle = h('div.seg', { role: 'group', 'aria-label': 'Line on the right axis' },
    h('button', { type: 'button', dataset: { along: 'rate' }, 'aria-pressed': 'true' }, 'failure rate'),
    h('button', { type: 'button', dataset: { along: 'attempts' }, 'aria-pressed': 'false' }, 'attempts'));
  const table = h('details.numbers', h('summary', 'Show the numbers'));
  table.addEventListener('toggle', () => {
    if (table.open && table.children.length === 1) table.appendChild(numbersTable(trend));
  }, { once: false });
  setChildren(sec.body, h('div.chart-tools', caption, toggle), holder, table);
  let Chart;
  try {
    Chart = await loadChart();
  } catch (e) {
    holder.replaceWith(stateBox('error', 'The chart cannot be drawn.', e.message));
    table.open = true;
    sec.done();
    return;
  }
  if (ctx.signal.aborted) return;
  performance.mark('rf-overview-trend-start');
  let chart = trendChart(Chart, canvas, trend, 'rate');
  performance.mark('rf-overview-trend-drawn');
  canvas.dataset.points = String(trend.points.length);
  toggle.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-along]');
    if (!b) return;
    for (const x of toggle.querySelectorAll('button')) x.setAttribute('aria-pressed', String(x === b));
    chart.destroy();
    chart = trendChart(Chart, canvas, trend, b.dataset.along);
  });
  sec.done();
}

/** The failures of one code per bucket: from the fleet trend's series when
 * the code is one of its top five (same window and buckets, no extra
 * request), else from /trend?code=N. */
async function codeTrend(ctx, code, win) {
  const all = await get('/trend', { window: win, bucket: BUCKET[win] }, { signal: ctx.signal });
  const s = (all.series || []).find((x) => x.code === code);
  if (s) {
    return { bucket_seconds: all.bucket_seconds,
      points: all.points.map((p, i) => ({ t: p.t, attempts: p.attempts, failures: s.failures[i] })) };
  }
  return get('/trend', { window: win, bucket: BUCKET[win], code }, { signal: ctx.signal });
}

async function renderSpark(ctx, canvas, cell, code, win, color) {
  try {
    const [trend, Chart] = await Promise.all([codeTrend(ctx, code, win), loadChart()]);
    if (ctx.signal.aborted) return;
    sparkline(Chart, canvas, trend, color);
    performance.mark(`rf-overview-spark-${code}`);
    const peak = trend.points.reduce((m, p) => Math.max(m, p.failures), 0);
    cell.title = `${fmtInt(trend.points.reduce((a, p) => a + p.failures, 0))} failures in ${trend.points.length} buckets of ${BUCKET[win]} (peak ${fmtInt(peak)} at ${
      fmtBucket(trend.points.find((p) => p.failures === peak)?.t, trend.bucket_seconds)})`;
    cell.dataset.loaded = 'true';
  } catch (e) {
    if (isAbort(e, ctx)) return;
    setChildren(cell, h('span.muted', { title: e.message }, 'no trend'));
  }
}

function topErrors(ctx, ov, win) {
  const list = ov.top_errors || [];
  if (!list.length) {
    return { el: stateBox('empty', `No failures in the ${windowText(win)}.`,
      `${fmtInt(ov.attempts)} attempts between ${fmtTime(ov.from)} and ${fmtTime(ov.to)}, none failed.`), sparks: [] };
  }
  const sparks = [];
  const rows = list.map((e, i) => {
    const canvas = h('canvas', { 'aria-label': `trend of ${e.code}` });
    const cell = h('div.spark', canvas);
    sparks.push(() => renderSpark(ctx, canvas, cell, e.code, win, i < PALETTE.length ? PALETTE[i] : '#7b8794'));
    return h('tr', { dataset: { code: e.code } },
      h('td', codeForms(e)),
      h('td.meaning', h('div', e.meaning || (e.known ? '' : 'Not in the catalogue: look it up with err.exe or certutil -error.')),
        e.component ? componentBadge(e.component) : null),
      h('td.num', fmtInt(e.failures)),
      h('td.num', { dataset: { devices: e.devices } }, fmtInt(e.devices)),
      h('td.spark-cell', cell),
      h('td', h('a.btn.btn-small', { href: ctx.href('/devices', { code: e.code }), dataset: { devicesFor: e.code } },
        `${plural(e.devices, 'device')} ›`)));
  });
  const el = stackTable(h('div.table-wrap', h('table.data.top-errors',
    h('thead', h('tr', h('th', 'Code'), h('th', 'Meaning · component'), h('th.num', 'Failures'),
      h('th.num', 'Devices affected'), h('th', `Trend (${BUCKET[win]} buckets)`), h('th', ''))),
    h('tbody', rows))));
  return { el, sparks };
}

async function renderFindings(ctx, sec) {
  try {
    const f = await get('/findings', null, { signal: ctx.signal });
    const list = [...f.findings].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.devices_affected - a.devices_affected);
    if (!list.length) {
      setChildren(sec.body, stateBox('empty', 'No open findings.', `The analyzer found nothing to fix (computed ${fmtTime(f.generated_at, { seconds: true })}).`));
    } else {
      const counts = SEVERITIES.map((s) => [s, list.filter((x) => x.severity === s).length]).filter(([, n]) => n);
      setChildren(sec.body,
        h('p.sev-counts', counts.map(([s, n]) => h('a.sev-count', { href: ctx.href('/findings', { severity: s }) }, severityBadge(s), ` ${n}`))),
        h('ul.finding-mini', list.slice(0, 6).map((x) => h('li',
          severityBadge(x.severity),
          h('div', h('a', { href: ctx.href(`/findings/${encodeURIComponent(x.id)}`) }, x.title),
            h('span.muted', ` · ${plural(x.devices_affected, 'device')}`))))),
        list.length > 6 ? h('a.more', { href: ctx.href('/findings') }, `All ${list.length} findings ›`) : null);
    }
  } catch (e) {
    if (isAbort(e, ctx)) return;
    setChildren(sec.body, errorBox(e, () => renderFindings(ctx, sec)));
  }
  sec.done();
}

export async function render(ctx) {
  const { root, win } = ctx;
  document.title = 'Overview · rasfleet';
  const head = pageHead('Fleet overview', `Loading the ${windowText(win)}…`);
  const cards = h('div.kpis-holder', stateBox('loading', `Loading fleet totals for the ${windowText(win)}…`));
  const trend = section('Failure trend', { id: 'trend', loadingText: 'Loading the failure trend…' });
  const errors = section('Top errors', { id: 'top-errors', loadingText: 'Loading the top error codes…' });
  const finds = section('Open findings', { id: 'overview-findings', loadingText: 'Loading findings…' });
  setChildren(root, head, cards, h('div.grid-main', trend.el, finds.el), errors.el);

  const trendP = renderTrend(ctx, trend, win);
  const findP = renderFindings(ctx, finds);
  let ov;
  try {
    ov = await get('/overview', { window: win }, { signal: ctx.signal });
  } catch (e) {
    if (isAbort(e, ctx)) return;
    if (e.status === 401) throw e;
    setChildren(cards, errorBox(e, () => ctx.go('/overview', {}, true)));
    setChildren(errors.body, h('p.muted', 'Waiting for the fleet totals.'));
    root.dataset.state = 'error';
    await Promise.allSettled([trendP, findP]);
    return;
  }
  setChildren(head.querySelector('.page-sub'), windowRange(ov), h('span.muted', ' · computed '), time(ov.generated_at, { ago: false, seconds: true }));
  if (!ov.devices_known) {
    setChildren(cards, stateBox('empty', 'No device has reported to this collector yet.',
      'Install the agent (deploy/intune) or run rasfleet-agent --once --collector URL --token AGENT_TOKEN; the numbers appear seconds after the first batch.'));
  } else {
    setChildren(cards, kpis(ov), telemetryLost(ctx, ov));
  }
  performance.mark('rf-overview-kpis');
  const te = topErrors(ctx, ov, win);
  setChildren(errors.body, te.el);
  errors.done();
  await Promise.allSettled([trendP, findP, ...te.sparks.map((f) => f())]);
  if (!ov.devices_known) root.dataset.state = 'empty';
}
