// app.js - the dashboard's shell: hash router, window selector, sign-in.
//
// Routes (the hash keeps a view shareable, window included):
//   #/overview?window=24h          fleet totals, failure trend, top errors
//   #/findings?window=24h          analyzer findings
//   #/findings/<id>                one finding: evidence, remediation, devices
//   #/devices?q=&offset=&code=&finding=&window=
//   #/devices/<device_id>          one device
// Each view renders into <main id="view"> and sets data-state to ready,
// empty or error when its data is on screen; the app then records the
// "rf-rendered-<view>" performance mark that tests and the bench wait for.
import { clearToken, getToken } from './api.js';
import { h, setChildren, stateBox } from './dom.js';
import { WINDOWS, normWindow } from './format.js';
import * as login from './views/login.js';
import * as overview from './views/overview.js';
import * as findings from './views/findings.js';
import * as devices from './views/devices.js';
import * as device from './views/device.js';

const VIEWS = { overview, findings, finding: findings, devices, device };
const ROUTES = [
  [/^\/?$/, 'overview'],
  [/^\/overview\/?$/, 'overview'],
  [/^\/findings\/?$/, 'findings'],
  [/^\/findings\/(.+)$/, 'finding'],
  [/^\/devices\/?$/, 'devices'],
  [/^\/devices\/(.+)$/, 'device'],
];

const root = document.getElementById('view');
const nav = document.getElementById('nav');
const winSel = document.getElementById('window-select');
const signout = document.getElementById('signout');

let current = null; // {name, update?}
let controller = null;
let navSeq = 0;

export function parseHash(hash = location.hash) {
  const s = hash.replace(/^#/, '') || '/overview';
  const i = s.indexOf('?');
  const path = i < 0 ? s : s.slice(0, i);
  const query = new URLSearchParams(i < 0 ? '' : s.slice(i + 1));
  for (const [re, name] of ROUTES) {
    const m = path.match(re);
    if (m) {
      let param = null;
      try {
        param = m[1] != null ? decodeURIComponent(m[1]) : null;
      } catch {
        param = m[1];
      }
      return { name, param, path, query };
    }
  }
  return { name: null, param: null, path, query };
}

/** '#/devices' + {q: 'x', offset: 0} with the current window kept. */
export function href(path, params = {}, win = currentWindow()) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '' && !(k === 'offset' && Number(v) === 0)) qs.set(k, String(v));
  if (win && !qs.has('window')) qs.set('window', win);
  const s = qs.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function currentWindow() {
  return normWindow(parseHash().query.get('window'));
}

function setChrome(signedIn, routeName, win) {
  nav.hidden = !signedIn;
  winSel.hidden = !signedIn;
  signout.hidden = !signedIn;
  const section = routeName === 'finding' ? 'findings' : routeName === 'device' ? 'devices' : routeName;
  for (const a of nav.querySelectorAll('a[data-nav]')) {
    a.setAttribute('href', href(`/${a.dataset.nav}`, {}, win));
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.getElementById('brand').setAttribute('href', href('/overview', {}, win));
  for (const b of winSel.querySelectorAll('button[data-window]')) b.setAttribute('aria-pressed', String(b.dataset.window === win));
}

function markRendered(name) {
  if (root.dataset.state === 'loading') root.dataset.state = 'ready';
  const t = performance.now();
  performance.mark(`rf-rendered-${name}`);
  window.__rfRendered = { view: name, state: root.dataset.state, t };
  window.dispatchEvent(new CustomEvent('rf:rendered', { detail: window.__rfRendered }));
}

function showLogin(message) {
  if (controller) controller.abort();
  current = null;
  setChrome(false, null, currentWindow());
  root.dataset.view = 'login';
  root.dataset.state = 'loading';
  document.title = 'Sign in · rasfleet';
  login.render({ root, message, onSignedIn: () => route() });
  markRendered('login');
}

async function route() {
  const seq = ++navSeq;
  const r = parseHash();
  const win = normWindow(r.query.get('window'));
  if (!getToken()) {
    showLogin();
    return;
  }
  setChrome(true, r.name, win);
  if (!r.name) {
    current = null;
    root.dataset.view = 'notfound';
    root.dataset.state = 'empty';
    setChildren(root, stateBox('empty', 'There is no such page in the dashboard.',
      `“#${r.path}” is not a dashboard address.`, h('a.btn', { href: href('/overview', {}, win) }, 'Go to the overview')));
    markRendered('notfound');
    return;
  }
  if (controller) controller.abort();
  controller = new AbortController();
  const ctx = {
    root, name: r.name, param: r.param, query: r.query, win, signal: controller.signal,
    href, go: (path, params, replace = false) => {
      const target = href(path, params, win);
      if (replace) location.replace(target);
      else location.hash = target;
    },
  };
  root.dataset.view = r.name;
  root.dataset.state = 'loading';
  try {
    if (current && current.name === r.name && current.param === r.param && current.update) {
      await current.update(ctx);
    } else {
      current = null;
      window.scrollTo(0, 0);
      const inst = await VIEWS[r.name].render(ctx);
      current = { name: r.name, param: r.param, ...(inst || {}) };
    }
  } catch (e) {
    if (ctx.signal.aborted || seq !== navSeq) return;
    if (e && e.status === 401) {
      showLogin(e.message);
      return;
    }
    root.dataset.state = 'error';
    setChildren(root, stateBox('error', 'This page could not be shown.', e && e.message ? e.message : String(e),
      h('button.btn', { type: 'button', onclick: () => route() }, 'Try again')));
    console.error(e);
  }
  if (!ctx.signal.aborted && seq === navSeq) markRendered(r.name);
}

winSel.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-window]');
  if (!b || !WINDOWS.includes(b.dataset.window)) return;
  const r = parseHash();
  r.query.set('window', b.dataset.window);
  r.query.delete('offset');
  location.hash = `#${r.path}?${r.query.toString()}`;
});

signout.addEventListener('click', () => {
  clearToken();
  showLogin('Signed out. The token was removed from this tab.');
});

window.addEventListener('rf:unauthorized', (ev) => {
  if (root.dataset.view === 'login') return;
  showLogin(ev.detail && ev.detail.message ? `The collector refused the token: ${ev.detail.message}` : undefined);
});
window.addEventListener('hashchange', () => route());
route();
