// Axis ticks computed by the page, not by recharts: "nice" round values (1, 2 or 5 × 10^k apart) that
// cover a domain, and their labels. Given explicit ticks and interval 0, recharts neither chooses ticks
// nor measures labels to thin them out; and since nice values repeat from one redraw to the next, the
// few labels it still sizes (for wrapping) hit its text-size cache instead of forcing a DOM layout,
// which is what made each live redraw cost tens of milliseconds.

/** Round tick values covering [min, max], about `count` of them (never fewer than 2), spaced ≥ minStep. */
export function niceTicks(min: number, max: number, count = 5, minStep = 0): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = Math.max(niceStep((max - min) / Math.max(1, count - 1)), minStep);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const out: number[] = [];
  for (let v = lo, i = 0; v <= hi + step * 1e-9 && i < 100; v = lo + ++i * step) out.push(roundTo(v, step));
  return out.length >= 2 ? out : [lo, lo + step];
}

/** The smallest of 1, 2, 5 × 10^k that is ≥ raw. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/** Decimals needed to print multiples of `step` exactly (0 for steps ≥ 1). */
export function tickDecimals(step: number): number {
  return step >= 1 || !(step > 0) ? 0 : Math.min(10, Math.ceil(-Math.log10(step) - 1e-9));
}

/** A tick's label: large values shortened (12k, 1.5M), others with the decimals their spacing needs. */
export function formatTick(v: number, step: number): string {
  const a = Math.abs(v);
  if (a >= 1e6 && step >= 1e5) return `${+(v / 1e6).toFixed(tickDecimals(step / 1e6))}M`;
  if (a >= 1e4 && step >= 1e3) return `${+(v / 1e3).toFixed(tickDecimals(step / 1e3))}k`;
  return v.toFixed(tickDecimals(step));
}

function roundTo(v: number, step: number): number {
  const d = tickDecimals(step);
  return d === 0 ? Math.round(v / step) * step : Number(v.toFixed(d));
}

/**
 * Pixels a y axis needs for its widest label (digits and signs are about 0.6 em in the page's sans-serif)
 * plus the tick mark and a gap. A fixed width clipped long labels at the chart's left edge: "-0.004" lost
 * its minus sign, which is how negative rewards read as positive.
 */
export function axisWidth(labels: readonly string[], fontPx = 12): number {
  const chars = labels.reduce((a, l) => Math.max(a, l.length), 1);
  return Math.ceil(chars * fontPx * 0.62) + 14;
}
