// Nice ticks: round spacing, full coverage of the domain, labels with just the decimals they need.
import { describe, expect, it } from 'vitest';
import { axisWidth, formatTick, niceStep, niceTicks, tickDecimals } from './ticks';

describe('niceTicks', () => {
  it('covers the domain with 1-2-5 spacing', () => {
    expect(niceTicks(0, 40, 5)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(1, 37, 5)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(3.21, 6.87, 5)).toEqual([3, 4, 5, 6, 7]);
    expect(niceTicks(0.012, 0.049, 4)).toEqual([0, 0.02, 0.04, 0.06]);
    for (const [lo, hi] of [
      [-3.3, 8.1],
      [0.1, 0.35],
      [1234, 98765],
      [4.5, 4.5000001],
    ]) {
      const t = niceTicks(lo, hi, 5);
      expect(t[0]).toBeLessThanOrEqual(lo);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(hi);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(11);
      const gaps = t.slice(1).map((v, i) => v - t[i]);
      for (const g of gaps) expect(g).toBeCloseTo(gaps[0], 9);
      expect([1, 2, 5, 10]).toContain(Number((gaps[0] / 10 ** Math.floor(Math.log10(gaps[0]))).toFixed(6)));
    }
  });

  it('keeps a minimum spacing (whole steps)', () => {
    expect(niceTicks(0, 2, 6)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(niceTicks(0, 2, 6, 1)).toEqual([0, 1, 2]);
  });

  it('pads an empty or flat domain, and survives non-finite input', () => {
    expect(niceTicks(2, 2).length).toBeGreaterThanOrEqual(2);
    expect(niceTicks(0, 0)).toContain(0);
    expect(niceTicks(Number.NaN, 1)).toEqual([0, 1]);
    expect(niceTicks(5, 1)).toEqual(niceTicks(1, 5));
  });

  it('the same labels come back as the domain grows a little (what keeps recharts off the DOM)', () => {
    const labels = new Set<string>();
    for (let max = 10; max < 40; max += 0.5) {
      const t = niceTicks(0, max, 5);
      for (const v of t) labels.add(formatTick(v, t[1] - t[0]));
    }
    expect(labels.size).toBeLessThan(12);
  });
});

describe('labels', () => {
  it('print just the decimals the spacing needs, and shorten large values', () => {
    expect(niceStep(0.37)).toBe(0.5);
    expect(niceStep(7)).toBe(10);
    expect(tickDecimals(0.05)).toBe(2);
    expect(tickDecimals(5)).toBe(0);
    expect(formatTick(0.1 + 0.2, 0.1)).toBe('0.3');
    expect(formatTick(3, 0.5)).toBe('3.0');
    expect(formatTick(25000, 5000)).toBe('25k');
    expect(formatTick(2_500_000, 500_000)).toBe('2.5M');
    expect(formatTick(-12, 2)).toBe('-12');
  });
});

describe('negative labels', () => {
  it('keep their minus sign, and the axis is wide enough for it', () => {
    const t = niceTicks(-0.0041, 0.0012, 5);
    const labels = t.map((v) => formatTick(v, t[1] - t[0]));
    expect(labels[0]).toBe('-0.006');
    expect(labels).toContain('0.000');
    // Six characters at 12 px: the label is about 45 px, the axis at least that plus the tick mark.
    expect(axisWidth(labels)).toBeGreaterThanOrEqual(6 * 12 * 0.6 + 10);
    expect(axisWidth(labels)).toBeGreaterThan(axisWidth(['0.5', '1.0']));
  });
});
