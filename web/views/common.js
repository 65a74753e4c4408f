// views/common.js - pieces several views share. Text only (see dom.js).
import { codeBlock, h, safeHref, stateBox } from '../dom.js';
import { TZ, codeLabel, componentName, fmtAgo, fmtInt, fmtTime, isoTitle, windowText } from '../format.js';

export function pageHead(title, ...sub) {
  return h('div.page-head', h('h1', title), sub.length ? h('p.page-sub', ...sub) : null);
}

/** A card section with a title and a body that starts in a loading state. */
export function section(title, { id, extra, loadingText } = {}) {
  const body = h('div.card-body', stateBox('loading', loadingText || `Loading ${title.toLowerCase()}…`));
  const el = h('section.card', { id, 'aria-busy': 'true' },
    h('div.card-head', h('h2', title), extra || null), body);
  return { el, body, done: () => el.removeAttribute('aria-busy') };
}

export function time(t, { ago = true, seconds = false } = {}) {
  if (!t) return h('span.muted', '—');
  return h('time', { datetime: t, title: isoTitle(t) }, fmtTime(t, { seconds }), ago ? h('span.ago', ` · ${fmtAgo(t)}`) : null);
}

export function windowRange(data) {
  return h('span.window-range', { title: `${isoTitle(data.from)} – ${isoTitle(data.to)}` },
    `${windowText(data.window)} · ${fmtTime(data.from)} – ${fmtTime(data.to)}${TZ ? ` ${TZ}` : ''}` +
    (data.resolution === '1d' ? ' · whole UTC days' : ''));
}

export function severityBadge(sev) {
  return h(`span.sev.sev-${['critical', 'high', 'medium', 'low', 'info'].includes(sev) ? sev : 'info'}`, sev || 'info');
}

/** Decimal, hex and symbol of an error code, one per line. */
export function codeForms(e) {
  if (!e || e.code == null) return h('span.code-forms', h('span.code-dec', (e && e.symbol) || 'other'));
  return h('span.code-forms', h('span.code-dec', String(e.code)), h('span.code-hex', e.hex || ''),
    h('span.code-sym', e.symbol || (e.known === false ? 'not in the catalogue' : '')));
}

export function componentBadge(c) {
  return h('span.badge.comp', componentName(c));
}

export function deviceLink(ctx, id, hostname) {
  return h('a.device-link', { href: ctx.href(`/devices/${encodeURIComponent(id)}`), dataset: { deviceId: id } },
    hostname != null && hostname !== '' ? hostname : id);
}

export function lastError(e) {
  if (!e) return h('span.muted', 'none');
  return h('span.last-error', { title: e.meaning || '' }, codeLabel(e), e.time ? h('span.ago', ` · ${fmtAgo(e.time)}`) : null);
}

/** A nested object as a definition list (values as text). */
export function kvTree(obj, depth = 0) {
  if (obj == null) return h('span.muted', 'null');
  if (typeof obj !== 'object') return h('span.kv-val', String(obj));
  if (Array.isArray(obj)) {
    if (!obj.length) return h('span.muted', 'none');
    if (obj.every((x) => x == null || typeof x !== 'object')) return h('span.kv-val', obj.map(String).join(', '));
    return h('ol.kv-list', obj.map((x) => h('li', kvTree(x, depth + 1))));
  }
  const entries = Object.entries(obj);
  if (!entries.length) return h('span.muted', 'empty');
  return h('dl.kv', entries.map(([k, v]) => [h('dt', k), h('dd', depth > 4 ? JSON.stringify(v) : kvTree(v, depth + 1))]));
}

export function remediationBlock(rem) {
  if (!rem) return h('p.muted', 'No remediation is attached to this finding.');
  const refs = (rem.references || []).filter(Boolean);
  return h('div.remediation',
    rem.text ? h('p.rem-text', rem.text) : null,
    rem.powershell ? codeBlock(rem.powershell, 'PowerShell') : null,
    refs.length ? h('div.refs', h('h4', 'References'), h('ul', refs.map((r) =>
      h('li', h('a', { href: safeHref(r), target: '_blank', rel: 'noopener noreferrer' }, r))))) : null);
}

/** "Rows 51–100 of 1,234" with previous/next links. */
export function pager(ctx, { total, offset, limit, path, params, onPage }) {
  const first = total ? offset + 1 : 0;
  const last = Math.min(offset + limit, total);
  const link = (label, off, disabled, rel) => {
    if (disabled) return h('span.btn.btn-small.disabled', { 'aria-disabled': 'true' }, label);
    if (onPage) return h('button.btn.btn-small', { type: 'button', dataset: { page: rel }, onclick: () => onPage(off) }, label);
    return h('a.btn.btn-small', { href: ctx.href(path, { ...params, offset: off }), dataset: { page: rel }, rel }, label);
  };
  const lastOff = total ? Math.floor((total - 1) / limit) * limit : 0;
  return h('div.pager',
    h('span.pager-text', { dataset: { total } }, total ? `Rows ${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(total)}` : 'No rows'),
    h('span.pager-buttons',
      link('« First', 0, offset === 0, 'first'),
      link('‹ Previous', Math.max(0, offset - limit), offset === 0, 'prev'),
      link('Next ›', offset + limit, last >= total, 'next'),
      link('Last »', lastOff, last >= total, 'last')));
}

export function errorBox(e, retry) {
  return stateBox('error', 'This part could not be loaded.', e && e.message ? e.message : String(e),
    retry ? h('button.btn.btn-small', { type: 'button', onclick: retry }, 'Try again') : null);
}

export function isAbort(e, ctx) {
  return (e && e.name === 'AbortError') || (ctx && ctx.signal.aborted);
}

/** Labels every cell with its column header, for the stacked (card) layout
 * that narrow screens use for tables with class "stack". */
export function stackTable(wrapOrTable) {
  const table = wrapOrTable.tagName === 'TABLE' ? wrapOrTable : wrapOrTable.querySelector('table');
  if (!table) return wrapOrTable;
  table.classList.add('stack');
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => {
      if (heads[i]) td.dataset.label = heads[i];
      if (td.childNodes.length > 1) {
        const box = document.createElement('div');
        box.append(...td.childNodes);
        td.append(box);
      }
    });
  }
  return wrapOrTable;
}
