// dom.js - the only way the dashboard builds markup.
//
// Every string becomes a text node (createTextNode / textContent): values
// that came from a device (hostnames, connection names, messages, pbk
// values) can never become markup. There is no innerHTML anywhere in web/
// (tests/web/static.test.mjs checks it). Attributes are set one by one;
// inline style strings and on* attributes are refused (the page's CSP
// forbids them anyway), so styling goes through classes or el.style.

const BLOCKED_ATTR = /^(on|style$|srcdoc$|formaction$)/i;

/** Returns a URL that is safe for href: in-page routes and http(s) only. */
export function safeHref(url) {
  const s = String(url ?? '');
  if (s.startsWith('#')) return s;
  try {
    const u = new URL(s, location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch {
    /* not a URL */
  }
  return '#';
}

function append(el, child) {
  if (child == null || child === false || child === true) return;
  if (Array.isArray(child)) {
    for (const c of child) append(el, c);
  } else if (child instanceof Node) {
    el.appendChild(child);
  } else {
    el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * h('a.link', {href: '#/x', dataset: {id: 1}, onclick: fn}, 'text', node, [more])
 * The tag may carry an id and classes: 'input#token', 'td.num.bad'.
 */
export function h(tag, attrs, ...children) {
  const [head, ...classes] = tag.split('.');
  const [name, id] = head.split('#');
  const el = document.createElement(name || 'div');
  if (id) el.id = id;
  if (classes.length) el.classList.add(...classes);
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') {
      for (const c of String(v).split(/\s+/)) if (c) el.classList.add(c);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) if (dv != null) el.dataset[dk] = String(dv);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'href') {
      el.setAttribute('href', safeHref(v));
    } else if (BLOCKED_ATTR.test(k)) {
      throw new Error(`dom.h: attribute ${k} is not allowed`);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

/** Replaces the children of el. */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A state box: loading / empty / error, with a sentence a person can act on. */
export function stateBox(kind, title, detail, action) {
  return h(`div.state.state-${kind}`, { role: kind === 'error' ? 'alert' : 'status', dataset: { state: kind } },
    kind === 'loading' ? h('span.spinner', { 'aria-hidden': 'true' }) : null,
    h('div', h('strong', title), detail ? h('p', detail) : null, action || null));
}

/** Copies text to the clipboard; falls back to a selected textarea. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea.offscreen', { readonly: true, 'aria-hidden': 'true' });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

/** A <pre> of code with a Copy button. */
export function codeBlock(text, label = 'PowerShell') {
  const status = h('span.copy-status', { 'aria-live': 'polite' });
  const btn = h('button.btn.btn-small.copy', { type: 'button', dataset: { copy: '' } }, 'Copy');
  btn.addEventListener('click', async () => {
    const ok = await copyText(text);
    status.textContent = ok ? 'Copied' : 'Copy failed: select the text and press Ctrl+C';
    btn.textContent = ok ? 'Copied' : 'Copy';
    setTimeout(() => {
      btn.textContent = 'Copy';
      status.textContent = '';
    }, 2500);
  });
  return h('div.code-block', h('div.code-head', h('span', label), status, btn), h('pre', h('code', text)));
}
