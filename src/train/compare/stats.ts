// Seed aggregation for the fair comparison: the mean and the sample standard deviation (n − 1, Bessel's
// correction, what numpy's std(ddof=1) and a paper's "± sd over seeds" give) of one figure over a method's
// seeds. Missing figures (a plain-text dataset has no exact match, a run that diverged has no eval loss)
// are left out of the mean and counted, not read as zero, so one failed seed does not pull a mean down.

export interface Spread {
  mean: number | null;
  /** Sample standard deviation over the values present; null with fewer than two of them. */
  sd: number | null;
  /** How many values were present. */
  n: number;
}

export function spread(values: readonly (number | null | undefined)[]): Spread {
  const xs = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: null, sd: null, n };
  const mean = xs.reduce((a, x) => a + x, 0) / n;
  if (n < 2) return { mean, sd: null, n };
  const ss = xs.reduce((a, x) => a + (x - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)), n };
}

/**
 * Curves of several seeds on one x grid: at each x where at least one seed has a value, the mean and the
 * band mean ± sd (the sd over the seeds that have a value there; the band is the mean alone with one seed).
 */
export interface BandPoint {
  x: number;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

export function band(curves: readonly (readonly { x: number; y: number | null }[])[]): BandPoint[] {
  const at = new Map<number, number[]>();
  for (const c of curves)
    for (const p of c) {
      if (p.y === null || !Number.isFinite(p.y)) continue;
      const ys = at.get(p.x);
      if (ys) ys.push(p.y);
      else at.set(p.x, [p.y]);
    }
  return [...at.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([x, ys]) => {
      const s = spread(ys);
      const m = s.mean ?? 0;
      const sd = s.sd ?? 0;
      return { x, mean: m, lo: m - sd, hi: m + sd, n: s.n };
    });
}
