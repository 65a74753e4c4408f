// format.js - numbers, times, windows and error codes as people read them.
// Numbers use fixed en-US grouping ("12,345") so a screenshot or a test
// reads the same everywhere; times are shown in the browser's time zone
// with the zone named, and the exact UTC instant in the title.

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function fmtInt(n) {
  return n == null || Number.isNaN(Number(n)) ? '—' : intFmt.format(Number(n));
}

/** 0.395876 -> "39.6 %"; below 10 % two decimals ("2.35 %"). */
export function fmtRate(rate) {
  if (rate == null || Number.isNaN(Number(rate))) return '—';
  const p = Number(rate) * 100;
  return `${p.toFixed(p > 0 && p < 10 ? 2 : 1)} %`;
}

export function fmtFactor(x) {
  return x == null ? '—' : `×${Number(x).toFixed(Number(x) < 10 ? 2 : 1)}`;
}

// Windows past the collector's hot horizon (31 days) are whole UTC days read
// from its daily rollups: their trend buckets must be whole days.
export const WINDOWS = ['1h', '24h', '7d', '30d', '90d', '180d', '365d'];
const WINDOW_TEXT = {
  '1h': 'last hour', '24h': 'last 24 hours', '7d': 'last 7 days', '30d': 'last 30 days',
  '90d': 'last 90 days', '180d': 'last 180 days', '365d': 'last 365 days',
};
/** Trend bucket per window: about 12 to 60 bars. */
export const BUCKET = { '1h': '5m', '24h': '1h', '7d': '6h', '30d': '1d', '90d': '3d', '180d': '7d', '365d': '7d' };

export function windowText(w) {
  return WINDOW_TEXT[w] || `last ${w}`;
}

export function normWindow(w) {
  return WINDOWS.includes(w) ? w : '24h';
}

const tz = (() => {
  try {
    const part = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' })
      .formatToParts(new Date()).find((p) => p.type === 'timeZoneName');
    return part ? part.value : '';
  } catch {
    return '';
  }
})();
export const TZ = tz;

const dtFmt = new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
const dtsFmt = new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dtyFmt = new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
const hmFmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });
const dayFmt = new Intl.DateTimeFormat('en-GB', { day: '2-digit', month: 'short' });

function toDate(t) {
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "25 Nov, 18:07" (with seconds when asked), or with the year when not this year. */
export function fmtTime(t, { seconds = false } = {}) {
  const d = toDate(t);
  if (!d) return '—';
  if (d.getFullYear() !== new Date().getFullYear()) return dtyFmt.format(d);
  return (seconds ? dtsFmt : dtFmt).format(d);
}

/** Axis labels for a trend bucket. */
export function fmtBucket(t, bucketSeconds) {
  const d = toDate(t);
  if (!d) return '';
  if (bucketSeconds >= 86400) return dayFmt.format(d);
  if (bucketSeconds >= 3600 * 3) return dtFmt.format(d);
  return hmFmt.format(d);
}

/** "5 min ago", "3 h ago", "2 d ago", "in 4 min". */
export function fmtAgo(t, now = Date.now()) {
  const d = toDate(t);
  if (!d) return '—';
  const s = Math.round((now - d.getTime()) / 1000);
  const a = Math.abs(s);
  let txt;
  if (a < 60) txt = `${a} s`;
  else if (a < 3600) txt = `${Math.round(a / 60)} min`;
  else if (a < 86400 * 2) txt = `${(a / 3600).toFixed(a < 36000 ? 1 : 0)} h`;
  else txt = `${Math.round(a / 86400)} d`;
  return s >= 0 ? `${txt} ago` : `in ${txt}`;
}

/** The exact instant for a title attribute. */
export function isoTitle(t) {
  const d = toDate(t);
  return d ? `${d.toISOString().replace('.000Z', 'Z')} (UTC)` : '';
}

/** Bytes with binary units: "512 bytes", "4.0 KiB", "1.5 MiB", "2.00 GiB". */
export function fmtBytes(n) {
  if (n == null || Number.isNaN(Number(n))) return '—';
  const v = Number(n);
  if (v < 1024) return `${fmtInt(v)} ${v === 1 ? 'byte' : 'bytes'}`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 * 1024 * 1024) return `${(v / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(v / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}

export function fmtDuration(ms) {
  if (ms == null) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

const COMPONENTS = {
  client_certificate: 'Client certificate', nps: 'NPS', rras: 'RRAS server', ca_crl: 'CA / CRL',
  firewall_nat: 'Firewall / NAT', ike_policy: 'IKE policy', dns: 'DNS', client_config: 'Client config',
  client_os: 'Client OS', network: 'Network', unknown: 'Unknown',
};
export function componentName(c) {
  return COMPONENTS[c] || (c ? String(c) : 'Unknown');
}

/** The short label of an error: "809 (0x329 ERROR_VPN_TIMEOUT)". */
export function codeLabel(e) {
  if (!e) return '—';
  if (e.code == null) return e.symbol || 'other';
  return `${e.code} (${e.hex}${e.symbol ? ` ${e.symbol}` : ''})`;
}

const STAGES = {
  20221: 'dial started', 20222: 'connecting device', 20223: 'device connected',
  20224: 'link established', 20225: 'connected', 20226: 'disconnected', 20227: 'failed',
};
export function stageName(id) {
  return STAGES[id] ? `${STAGES[id]} (${id})` : String(id ?? '—');
}

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];
export function severityRank(s) {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
}

export function plural(n, one, many = `${one}s`) {
  return `${fmtInt(n)} ${Number(n) === 1 ? one : many}`;
}
