// The report's charts as standalone SVG text (no DOM, so the CLI writes them in Node and the page exports
// the same bytes): training-loss curves as each method's mean over its seeds with a ± sd band, and each
// method's final eval loss as a dot with a ± sd bar. Colours follow the page's run colours in order.
import { band } from './stats';
import type { CompareRun, TableRow } from './table';

/** The page's palette (ui/Charts.tsx COLORS), repeated here because train/ may not import ui/. */
export const REPORT_COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777'];

const W = 640;
const H = 320;
const M = { l: 56, r: 140, t: 28, b: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f = (x: number) => +x.toFixed(2);

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `n` of them. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, xs: number[], ys: number[]) {
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const pad = (y1 - y0) * 0.05 || 0.5;
  const [lo, hi] = [y0 - pad, y1 + pad];
  const sx = (x: number) => M.l + ((x - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
  const sy = (y: number) => M.t + (1 - (y - lo) / (hi - lo)) * (H - M.t - M.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    // The title element is the chart's accessible name (screen readers, and an image viewer's tooltip).
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.l}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" stroke="#999"/>`,
    `<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" stroke="#999"/>`,
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="12" y="${(M.t + H - M.b) / 2}" text-anchor="middle" transform="rotate(-90 12 ${(M.t + H - M.b) / 2})">${esc(yLabel)}</text>`,
  ];
  for (const t of niceTicks(lo, hi))
    parts.push(
      `<line x1="${M.l}" y1="${f(sy(t))}" x2="${W - M.r}" y2="${f(sy(t))}" stroke="#eee"/>`,
      `<text x="${M.l - 4}" y="${f(sy(t) + 4)}" text-anchor="end">${t}</text>`,
    );
  return { parts, sx, sy, x0, x1 };
}

function legend(parts: string[], names: readonly string[]): void {
  names.forEach((n, i) => {
    const y = M.t + 14 * i + 6;
    const c = REPORT_COLORS[i % REPORT_COLORS.length];
    parts.push(
      `<rect x="${W - M.r + 12}" y="${y - 8}" width="10" height="10" fill="${c}"/>`,
      `<text x="${W - M.r + 26}" y="${y + 1}">${esc(n)}</text>`,
    );
  });
}

/** Training loss against step: per method the mean over its seeded runs, with a ± sd band. */
export function lossCurvesSvg(runs: readonly CompareRun[], methods: readonly string[]): string {
  const bands = methods.map((m) =>
    band(
      runs
        .filter((r) => r.method === m && r.phase === 'seed')
        .map((r) => r.curve.map((p) => ({ x: p.step, y: p.loss }))),
    ),
  );
  const all = bands.flat();
  if (all.length === 0) return emptySvg('training loss (no points)');
  const { parts, sx, sy } = frame(
    'Training loss: mean over seeds, band ± sd',
    'step',
    'loss',
    all.map((p) => p.x),
    all.flatMap((p) => [p.lo, p.hi]),
  );
  for (const t of niceTicks(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))))
    parts.push(`<text x="${f(sx(t))}" y="${H - M.b + 14}" text-anchor="middle">${t}</text>`);
  bands.forEach((b, i) => {
    if (b.length === 0) return;
    const c = REPORT_COLORS[i % REPORT_COLORS.length];
    const upper = b.map((p) => `${f(sx(p.x))},${f(sy(p.hi))}`);
    const lower = b.map((p) => `${f(sx(p.x))},${f(sy(p.lo))}`).reverse();
    parts.push(
      `<polygon points="${[...upper, ...lower].join(' ')}" fill="${c}" fill-opacity="0.18" stroke="none"/>`,
      `<polyline points="${b.map((p) => `${f(sx(p.x))},${f(sy(p.mean))}`).join(' ')}" fill="none" stroke="${c}" stroke-width="1.8"/>`,
    );
  });
  legend(parts, methods);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Final eval loss per method: the mean as a dot, ± sd as a bar. */
export function evalLossSvg(rows: readonly TableRow[]): string {
  const present = rows.filter((r) => r.eval_loss_mean !== null);
  if (present.length === 0) return emptySvg('eval loss (no values)');
  const lo = present.map((r) => (r.eval_loss_mean ?? 0) - (r.eval_loss_sd ?? 0));
  const hi = present.map((r) => (r.eval_loss_mean ?? 0) + (r.eval_loss_sd ?? 0));
  const { parts, sy } = frame(
    'Final eval loss: mean ± sd over seeds',
    'method',
    'eval loss',
    [0, 1],
    [...lo, ...hi],
  );
  const slot = (W - M.l - M.r) / rows.length;
  rows.forEach((r, i) => {
    const x = f(M.l + slot * (i + 0.5));
    const c = REPORT_COLORS[i % REPORT_COLORS.length];
    parts.push(`<text x="${x}" y="${H - M.b + 14}" text-anchor="middle">${esc(r.method)}</text>`);
    if (r.eval_loss_mean === null) return;
    const m = r.eval_loss_mean;
    const sd = r.eval_loss_sd ?? 0;
    parts.push(
      `<line x1="${x}" y1="${f(sy(m - sd))}" x2="${x}" y2="${f(sy(m + sd))}" stroke="${c}" stroke-width="2"/>`,
      `<line x1="${x - 6}" y1="${f(sy(m - sd))}" x2="${x + 6}" y2="${f(sy(m - sd))}" stroke="${c}" stroke-width="2"/>`,
      `<line x1="${x - 6}" y1="${f(sy(m + sd))}" x2="${x + 6}" y2="${f(sy(m + sd))}" stroke="${c}" stroke-width="2"/>`,
      `<circle cx="${x}" cy="${f(sy(m))}" r="4" fill="${c}"/>`,
    );
  });
  legend(
    parts,
    rows.map((r) => r.method),
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function emptySvg(text: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="60"><title>${esc(text)}</title><text x="10" y="30" font-family="sans-serif">${esc(text)}</text></svg>\n`;
}
