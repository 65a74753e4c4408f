// browser.mjs - Debian's chromium driven by playwright-core (no browser
// download, ever). Playwright gives each launch a fresh temporary profile
// (user-data-dir) and removes it on close.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.RF_CHROMIUM || '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30000 });
}

/** A new tab with its own sessionStorage, errors and dialogs recorded. */
export async function newPage(browser, { width = 1280, height = 800, token, base } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.rf = { dialogs: [], errors: [], console: [], requests: [] };
  page.on('dialog', async (d) => {
    page.rf.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => page.rf.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') page.rf.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('request', (r) => page.rf.requests.push(r.url()));
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  if (token) {
    await context.addInitScript(([t]) => {
      try { if (!sessionStorage.getItem('rasfleet.token')) sessionStorage.setItem('rasfleet.token', t); } catch { /* about:blank */ }
    }, [token]);
  }
  page.base = base;
  return page;
}

/** Navigates to a dashboard hash and waits for the view's data-rendered marker. */
export async function openView(page, hash, view, { timeout = 20000 } = {}) {
  await page.goto(`${page.base}/${hash}`, { waitUntil: 'domcontentloaded', timeout });
  return waitRendered(page, view, { timeout });
}

export async function waitRendered(page, view, { timeout = 20000, state } = {}) {
  const sel = `main#view[data-view="${view}"]${state ? `[data-state="${state}"]` : ':not([data-state="loading"])'}`;
  await page.waitForSelector(sel, { timeout });
  return page.$eval('main#view', (m) => m.dataset.state);
}
