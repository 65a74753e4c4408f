// static.test.mjs - checks of web/'s source that need no browser: no
// markup from strings, nothing the CSP would block, no third-party code
// committed, every module the page preloads exists.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

function files(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'vendor' || name.startsWith('.')) continue;
    if (statSync(p).isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}
const all = files(web);
const js = all.filter((f) => f.endsWith('.js'));

test('no HTML is built from strings in web/*.js', { timeout: 10000 }, () => {
  const banned = [/\.innerHTML\b/, /\.outerHTML\b/, /insertAdjacentHTML/, /document\.write/, /\beval\s*\(/,
    /new\s+Function\s*\(/, /createContextualFragment/, /setAttribute\(\s*['"]style['"]/, /\.srcdoc\b/, /DOMParser/];
  const hits = [];
  for (const f of js) {
    const src = readFileSync(f, 'utf8');
    for (const re of banned) if (re.test(src)) hits.push(`${relative(web, f)}: ${re}`);
  }
  assert.deepEqual(hits, []);
});

test('index.html has no inline script, inline style or event attribute (CSP)', { timeout: 10000 }, () => {
  for (const f of all.filter((x) => x.endsWith('.html'))) {
    const html = readFileSync(f, 'utf8');
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      assert.match(m[1], /\bsrc=/, `${relative(web, f)}: every <script> has a src`);
      assert.equal(m[2].trim(), '', `${relative(web, f)}: no inline script body`);
    }
    assert.doesNotMatch(html, /<style\b/i, 'no <style> element');
    assert.doesNotMatch(html, /\sstyle\s*=/i, 'no style attribute');
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no on* attribute');
    assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'no third-party (CDN) URL');
  }
});

test('every module the page preloads or imports exists', { timeout: 10000 }, () => {
  const html = readFileSync(join(web, 'index.html'), 'utf8');
  for (const m of html.matchAll(/(?:href|src)="([^"#:]+\.(?:js|css|svg))"/g)) {
    assert.ok(existsSync(join(web, m[1])), `index.html refers to ${m[1]}`);
  }
  for (const f of js) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(/^\s*import\s[^'"]*['"](\.[^'"]+)['"]/gm)) {
      assert.ok(existsSync(join(dirname(f), m[1])), `${relative(web, f)} imports ${m[1]}`);
    }
  }
});

test('third-party code is git-ignored, not committed', { timeout: 10000 }, () => {
  const ignore = readFileSync(join(web, '.gitignore'), 'utf8');
  assert.match(ignore, /^vendor\/$/m);
  for (const f of js) {
    const head = readFileSync(f, 'utf8').slice(0, 600);
    assert.doesNotMatch(head, /Chart\.js v\d|@license|Copyright \(c\)/i, `${relative(web, f)} looks third-party`);
  }
});
