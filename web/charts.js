// charts.js - the failure trend and the sparklines, drawn with Chart.js.
//
// Chart.js is third-party code: it is not in the repository. The deploy
// scripts run web/fetch-vendor.sh, which copies Debian's libjs-chart.js
// (or the npm chart.js) to web/vendor/chart.umd.min.js; this module loads
// that file on first use (a same-origin <script>, allowed by the CSP) and
// works with Chart.js 3 and 4. Without it the views say so and show the
// numbers as a table instead.
import { codeLabel, fmtBucket, fmtInt, fmtRate, fmtTime } from './format.js';

const SRC = 'vendor/chart.umd.min.js';
let loading = null;

export function loadChart() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = SRC;
      s.async = true;
      s.onload = () => (window.Chart ? resolve(window.Chart) : reject(new Error(`${SRC} loaded but defined no Chart`)));
      s.onerror = () => {
        loading = null;
        s.remove();
        reject(new Error(`The chart library (${SRC}) is missing: run web/fetch-vendor.sh on the collector host.`));
      };
      document.head.appendChild(s);
    });
  }
  return loading;
}

// Colour-blind friendly, distinct in grey scale too; "other" is grey.
export const PALETTE = ['#c0392b', '#e08e0b', '#1f78b4', '#6a3d9a', '#1b9e77'];
const OTHER = '#9aa5b1';
const INK = '#3b4754';

function css(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** Per-bucket stacks of the trend answer: [{label, code, data, color}]. */
export function trendSeries(trend) {
  if (trend.series && trend.series.length) {
    return trend.series.map((s, i) => ({
      label: s.code == null ? 'other codes' : codeLabel(s),
      code: s.code,
      data: s.failures,
      color: s.code == null ? OTHER : PALETTE[i % PALETTE.length],
    }));
  }
  return [{ label: 'failures', code: null, data: trend.points.map((p) => p.failures), color: PALETTE[0] }];
}

/**
 * Draws the stacked failure trend with attempts or the failure rate as a
 * line on the right axis. Returns the Chart instance.
 */
export function trendChart(Chart, canvas, trend, alongside = 'rate') {
  const pts = trend.points;
  const labels = pts.map((p) => fmtBucket(p.t, trend.bucket_seconds));
  const stacks = trendSeries(trend);
  const rates = pts.map((p) => (p.attempts ? (p.failures / p.attempts) * 100 : null));
  const grid = css('--grid', '#e3e8ee');
  const text = css('--muted', '#5b6875');
  const datasets = stacks.map((s) => ({
    type: 'bar', label: s.label, data: s.data, backgroundColor: s.color, borderWidth: 0,
    stack: 'failures', yAxisID: 'y', order: 2, rfCode: s.code,
  }));
  datasets.push(alongside === 'attempts'
    ? { type: 'line', label: 'attempts', data: pts.map((p) => p.attempts), yAxisID: 'y1', order: 1,
      borderColor: INK, backgroundColor: INK, borderWidth: 2, pointRadius: 2, tension: 0.25 }
    : { type: 'line', label: 'failure rate', data: rates, yAxisID: 'y1', order: 1, spanGaps: true,
      borderColor: INK, backgroundColor: INK, borderWidth: 2, borderDash: [5, 3], pointRadius: 2, tension: 0.25 });
  const bucketEnd = (i) => new Date(new Date(pts[i].t).getTime() + trend.bucket_seconds * 1000);
  return new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, grid: { display: false }, ticks: { color: text, maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
        y: { stacked: true, beginAtZero: true, grid: { color: grid }, ticks: { color: text, precision: 0 },
          title: { display: true, text: 'failures per bucket', color: text } },
        y1: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { color: text, precision: 0,
          callback: alongside === 'attempts' ? (v) => fmtInt(v) : (v) => `${v} %` },
        title: { display: true, text: alongside === 'attempts' ? 'attempts per bucket' : 'failure rate', color: text } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12, color: text } },
        tooltip: {
          callbacks: {
            title: (items) => items.length ? `${fmtTime(pts[items[0].dataIndex].t)} – ${fmtTime(bucketEnd(items[0].dataIndex))}` : '',
            label: (item) => {
              const v = item.raw;
              if (item.dataset.label === 'failure rate') return ` failure rate: ${v == null ? 'no attempts' : fmtRate(v / 100)}`;
              return ` ${item.dataset.label}: ${fmtInt(v)}`;
            },
            footer: (items) => {
              if (!items.length) return '';
              const p = pts[items[0].dataIndex];
              return `${fmtInt(p.failures)} failures of ${fmtInt(p.attempts)} attempts` +
                (p.attempts ? ` (${fmtRate(p.failures / p.attempts)})` : '');
            },
          },
        },
      },
    },
  });
}

/** A small line of failures per bucket for one code. */
export function sparkline(Chart, canvas, trend, color = PALETTE[0]) {
  const pts = trend.points;
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels: pts.map((p) => fmtBucket(p.t, trend.bucket_seconds)),
      datasets: [{ data: pts.map((p) => p.failures), borderColor: color, backgroundColor: `${color}33`, fill: true,
        borderWidth: 1.5, pointRadius: 0, pointHoverRadius: 3, tension: 0.3 }],
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      layout: { padding: 2 },
      scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      plugins: {
        legend: { display: false },
        tooltip: { displayColors: false, callbacks: {
          title: (items) => (items.length ? fmtTime(pts[items[0].dataIndex].t) : ''),
          label: (item) => `${fmtInt(item.raw)} failures`,
        } },
      },
    },
  });
}
