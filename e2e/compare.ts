// Small numeric helpers for the e2e specs. Playwright runs outside vitest, so the vitest-bound helpers in
// test/helpers/numeric.ts cannot be imported here; these only compute, and the specs assert.

/** Mulberry32 + Box–Muller: the same seeded normals every run, as plain numbers (they cross into the page). */
export function randnList(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = Math.max(next(), 1e-12);
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next()));
  }
  return out;
}

export interface Mismatch {
  /** Worst |got − want| / (|want| + floor); compare with the tolerance. */
  worst: number;
  index: number;
  got: number;
  want: number;
  lengthOk: boolean;
}

/** Elementwise relative error, with `floor` keeping entries near zero from dominating (for a matmul
 * pass the typical magnitude of the output, since cancellation leaves absolute, not relative, error). */
export function worstRelError(got: ArrayLike<number>, want: ArrayLike<number>, floor: number): Mismatch {
  let worst = 0;
  let index = -1;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const e = Math.abs(got[i] - want[i]) / (Math.abs(want[i]) + floor);
    if (!(e <= worst)) {
      worst = Number.isNaN(e) ? Number.POSITIVE_INFINITY : e;
      index = i;
    }
  }
  return {
    worst,
    index,
    got: got[index] ?? Number.NaN,
    want: want[index] ?? Number.NaN,
    lengthOk: got.length === want.length,
  };
}
