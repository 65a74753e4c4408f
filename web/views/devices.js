// views/devices.js - the device list: server-side search (q) and paging
// (limit/offset), optional filters by error code (code=), finding rule
// (finding=) and agents that dropped telemetry (dropped=1). The page holds one page of rows only, so it stays fast at
// any fleet size.
import { get } from '../api.js';
import { h, setChildren, stateBox } from '../dom.js';
import { codeLabel, componentName, fmtInt, plural, windowText } from '../format.js';
import { deviceLink, errorBox, isAbort, lastError, pageHead, pager, remediationBlock, stackTable, time } from './common.js';

const LIMIT = 50;

function findingChips(rules) {
  if (!rules || !rules.length) return h('span.muted', 'none');
  const shown = rules.slice(0, 3).map((r) => h('code.rule', r));
  return h('span.rule-chips', h('span.count', String(rules.length)), shown, rules.length > 3 ? h('span.muted', ` +${rules.length - 3}`) : null);
}

function table(ctx, list) {
  return stackTable(h('div.table-wrap', h('table.data.devices',
    h('thead', h('tr', h('th', 'Hostname'), h('th', 'OS build'), h('th.col-wide', 'Agent'), h('th', 'Last seen'),
      h('th', 'Last error'), h('th', 'Open findings'))),
    h('tbody', list.map((d) => h('tr', { dataset: { deviceId: d.device_id } },
      h('td', deviceLink(ctx, d.device_id, d.hostname), h('div.sub.mono', d.device_id)),
      h('td.nowrap', d.os_version),
      h('td.col-wide.nowrap', d.agent_version),
      h('td', time(d.last_seen)),
      h('td', lastError(d.last_error)),
      h('td', { dataset: { findings: d.findings.length } }, findingChips(d.findings))))))));
}

async function codeCard(ctx, code) {
  const card = h('section.card.code-card', { id: 'code-card' }, stateBox('loading', `Loading the catalogue entry of ${code}…`));
  get(`/catalog/${encodeURIComponent(code)}`, null, { signal: ctx.signal }).then((c) => {
    setChildren(card,
      h('div.card-head', h('h2', `Error ${codeLabel(c)}`), c.component ? h('span.badge.comp', componentName(c.component)) : null),
      h('div.card-body', c.meaning ? h('p', c.meaning) : h('p.muted', 'This code is not in the catalogue.'),
        c.remediation ? remediationBlock(typeof c.remediation === 'object' ? c.remediation
          : { text: c.remediation, powershell: c.powershell, references: c.references }) : null));
  }).catch((e) => {
    if (!isAbort(e, ctx)) setChildren(card, errorBox(e));
  });
  return card;
}

export async function render(ctx) {
  const { root } = ctx;
  document.title = 'Devices · rasfleet';
  const search = h('input#device-search', { type: 'search', placeholder: 'Search hostname or device id', autocomplete: 'off',
    spellcheck: 'false', 'aria-label': 'Search devices by hostname or device id', value: ctx.query.get('q') || '' });
  const filters = h('div.filters');
  const result = h('div.device-results', stateBox('loading', 'Loading devices…'));
  const extra = h('div.device-extra');
  const head = pageHead('Devices', 'Every device that has reported, newest first.');
  let timer = null;
  let state = ctx;
  const submit = (replace) => {
    clearTimeout(timer);
    const params = {};
    for (const k of ['code', 'finding', 'dropped']) if (state.query.get(k)) params[k] = state.query.get(k);
    const q = search.value.trim();
    if (q) params.q = q;
    state.go('/devices', params, replace); // the latest context: it carries the current window
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => submit(true), 300);
  });
  search.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      submit(false);
    }
  });
  setChildren(root, head, extra, h('div.toolbar', h('div.search', search), filters), result);

  let lastCode = null;
  const load = async (c) => {
    state = c;
    const q = c.query.get('q') || '';
    const code = c.query.get('code');
    const finding = c.query.get('finding');
    const dropped = c.query.get('dropped') ? '1' : null;
    const offset = Math.max(0, parseInt(c.query.get('offset') || '0', 10) || 0);
    if (document.activeElement !== search && search.value !== q) search.value = q;
    const chips = [];
    const params = { q: q || null, code, finding, dropped };
    const without = (k) => ({ ...params, [k]: null });
    if (code) chips.push(h('span.filter', `failed with ${code} in the ${windowText(c.win)}`, h('a.filter-x', { href: c.href('/devices', without('code')), 'aria-label': 'remove the code filter' }, '×')));
    if (finding) chips.push(h('span.filter', `flagged by ${finding}`, h('a.filter-x', { href: c.href('/devices', without('finding')), 'aria-label': 'remove the finding filter' }, '×')));
    if (dropped) chips.push(h('span.filter', `agent dropped telemetry in the ${windowText(c.win)}`, h('a.filter-x', { href: c.href('/devices', without('dropped')), 'aria-label': 'remove the dropped-telemetry filter' }, '×')));
    if (q) chips.push(h('span.filter', `matching “${q}”`, h('a.filter-x', { href: c.href('/devices', without('q')), 'aria-label': 'clear the search' }, '×')));
    setChildren(filters, chips);
    if (code !== lastCode) {
      setChildren(extra, code ? await codeCard(c, code) : null);
      lastCode = code;
    }
    result.setAttribute('aria-busy', 'true');
    result.classList.add('is-loading');
    let d;
    try {
      d = await get('/devices', { limit: LIMIT, offset, q: q || null, code, finding, dropped, window: c.win }, { signal: c.signal });
    } catch (e) {
      if (isAbort(e, c)) return;
      if (e.status === 401) throw e;
      setChildren(result, errorBox(e, () => load(state)));
      root.dataset.state = 'error';
      return;
    } finally {
      result.classList.remove('is-loading');
      result.removeAttribute('aria-busy');
    }
    if (c.signal.aborted) return;
    if (!d.total) {
      const what = q || code || finding || dropped
        ? stateBox('empty', 'No device matches.', `Nothing matches ${[q && `“${q}” (hostname or device id, case-insensitive)`, code && `a failure with ${code} in the ${windowText(c.win)}`, finding && `the ${finding} rule`, dropped && `an agent that dropped telemetry in the ${windowText(c.win)}`].filter(Boolean).join(' and ')}. Remove a filter or choose a longer window.`)
        : stateBox('empty', 'No device has reported yet.', 'Devices appear here after their agent’s first batch.');
      setChildren(result, what);
      root.dataset.state = 'empty';
      return;
    }
    if (offset >= d.total) {
      setChildren(result, stateBox('empty', `There are only ${plural(d.total, 'device')}: this page is past the end.`, '',
        h('a.btn', { href: c.href('/devices', params) }, 'Go to the first page')));
      root.dataset.state = 'empty';
      return;
    }
    setChildren(head.querySelector('.page-sub'),
      `${plural(d.total, 'device')}${q || code || finding || dropped ? ' match' : ''} · newest report first · ${fmtInt(LIMIT)} per page`);
    const pg = pager(c, { total: d.total, offset, limit: LIMIT, path: '/devices', params });
    setChildren(result, pg, table(c, d.devices), pager(c, { total: d.total, offset, limit: LIMIT, path: '/devices', params }));
    root.dataset.state = 'ready';
  };
  await load(ctx);
  return { update: (c) => load(c) };
}
