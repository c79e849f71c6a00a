// Numeric test helpers: a seeded RNG, closeness checks that report the worst element, and central
// differences for checking a CPU twin's backward.
import { expect } from 'vitest';

export { randn, randu, rng } from '../../src/util/rng';

import { rng } from '../../src/util/rng';

/** Asserts |a-e| <= atol + rtol·|e| elementwise; the failure names the worst index. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-4,
  atol = 1e-5,
  what = '',
): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what} mismatch at [${worst}]: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`,
    );
  }
}

/**
 * Central-difference gradient of a scalar function f at x, for every index (or a sample of `maxChecks`).
 * Returns the indices checked and their numeric gradients.
 */
export function centralDiff(
  f: (x: Float64Array) => number,
  x: Float64Array,
  eps = 1e-6,
  maxChecks = 64,
  seed = 1,
): { idx: number[]; grad: number[] } {
  const idx: number[] = [];
  if (x.length <= maxChecks) for (let i = 0; i < x.length; i++) idx.push(i);
  else {
    const r = rng(seed);
    const set = new Set<number>();
    while (set.size < maxChecks) set.add(Math.floor(r() * x.length));
    idx.push(...[...set].sort((a, b) => a - b));
  }
  const grad = idx.map((i) => {
    const orig = x[i];
    x[i] = orig + eps;
    const fp = f(x);
    x[i] = orig - eps;
    const fm = f(x);
    x[i] = orig;
    return (fp - fm) / (2 * eps);
  });
  return { idx, grad };
}

/** Checks an analytic gradient against central differences of f (float64 twins: tight tolerances). */
export function expectGradMatches(
  f: (x: Float64Array) => number,
  x: Float64Array,
  analytic: ArrayLike<number>,
  what: string,
  rtol = 1e-5,
  atol = 1e-7,
): void {
  const { idx, grad } = centralDiff(f, x);
  expectClose(
    idx.map((i) => analytic[i]),
    grad,
    rtol,
    atol,
    `${what} (central differences)`,
  );
}

/** Weighted sum Σ w_i y_i: turns a vector output into a scalar loss for gradient checks. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
