// Tests for rl.ts: hand-checkable small numbers for the PPO/GRPO policy loss, the value loss and the pairwise
// loss; each twin's gradient against central differences; and the GPU kernels against the twins (log-probs
// and entropy at a large V with ignored rows, the weighted backward, the losses, the segment sum).
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import {
  logprobBackward,
  pairLoss,
  policyLoss,
  segSum,
  segSumBackward,
  tokenLogprobs,
  valueLoss,
} from './rl';
import {
  logprobBackwardRef,
  pairLossRef,
  policyLossRef,
  segSumBackwardRef,
  segSumRef,
  tokenLogprobsRef,
  valueLossRef,
} from './rl.ref';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);

describe('RL loss twins: hand-checked values', () => {
  it('PPO clipped surrogate on three tokens', () => {
    // old = 0 everywhere: ratio = e^{lp}. Token 0: ρ = e^{0.1} ≈ 1.105 inside [0.8, 1.2], A = 1 → pg = −1.105,
    // g = −1.105·w. Token 1: ρ = e^{0.3} ≈ 1.35 > 1.2 with A = 2 → clipped: pg = −2.4, g = 0. Token 2: w = 0.
    const logp = [0.1, 0.3, 0.5];
    const data = [0, 0, 0, 0, 0, 0, 1, 2, 3, 0.5, 0.5, 0];
    const { g, stats } = policyLossRef(logp, data, 3, { clipLow: 0.2, clipHigh: 0.2, beta: 0 });
    expectClose(g, [-0.5 * Math.exp(0.1), 0, 0], 1e-12, 1e-12);
    expect(stats[1]).toBeCloseTo(0.5 * -Math.exp(0.1) + 0.5 * -2.4, 12);
    expect(stats[3]).toBeCloseTo(0.5, 12);
  });

  it('k3 KL term (GRPO): 0 at the reference, e^{r}−r−1 away from it', () => {
    const { stats, g } = policyLossRef([-1, -2], [-1, -2, -1, -1.5, 0, 0, 1, 1], 2, {
      clipLow: 0.2,
      clipHigh: 0.2,
      beta: 0.5,
    });
    // Token 0: lp = ref → kl 0; token 1: ref − lp = 0.5 → kl = e^{0.5} − 1.5.
    expect(stats[2]).toBeCloseTo(Math.exp(0.5) - 1.5, 12);
    expect(g[1]).toBeCloseTo(0.5 * (1 - Math.exp(0.5)), 12);
  });

  it('value loss: clipped branch wins when the new value moves away from the return', () => {
    // old 0, ret 1, clip 0.2. v = 0.5: e1 = 0.25, vc = 0.2, e2 = 0.64 → loss 0.32, g 0 (clipped).
    // v = 0.1: e1 = 0.81 = e2 → loss 0.405, g = v − ret = −0.9.
    const { g, stats } = valueLossRef([0.5, 0.1], [0, 0, 1, 1, 1, 1], 2, 0.2);
    expectClose(g, [0, -0.9], 1e-12, 1e-12);
    expect(stats[0]).toBeCloseTo(0.32 + 0.405, 12);
    expect(stats[1]).toBe(1);
  });

  it('pair loss: z = 0 gives log 2 and ∓β/2 per pair', () => {
    const { ds, stats } = pairLossRef([1, 1], [0, 0], 1, 0.1);
    expect(stats[0]).toBeCloseTo(Math.LN2, 12);
    expectClose(ds, [-0.05, 0.05], 1e-12, 1e-12);
  });
});

describe('RL twins: gradients by central differences', () => {
  it('policy loss (PPO and GRPO terms) against its own Σ loss', () => {
    const N = 6;
    const data = Float64Array.from([
      ...randn(N, 2, 0.3),
      ...randn(N, 3, 0.3),
      ...randn(N, 4),
      0.2,
      0.1,
      0,
      0.3,
      0.2,
      0.2,
    ]);
    const x = Float64Array.from(randn(N, 5, 0.1));
    const p = { clipLow: 0.2, clipHigh: 0.28, beta: 0.04 };
    expectGradMatches(
      (v) => policyLossRef(v, data, N, p).stats[0],
      x,
      policyLossRef(x, data, N, p).g,
      'dlogp',
    );
  });

  it('value loss', () => {
    const N = 5;
    const data = Float64Array.from([...randn(N, 6), ...randn(N, 7), 0.1, 0.2, 0.3, 0, 0.4]);
    const x = Float64Array.from(randn(N, 8));
    expectGradMatches(
      (v) => valueLossRef(v, data, N, 0.2).stats[0],
      x,
      valueLossRef(x, data, N, 0.2).g,
      'dv',
    );
  });

  it('pair loss', () => {
    const s = Float64Array.from(randn(6, 9, 3));
    const ref = randn(6, 10, 3);
    expectGradMatches((v) => pairLossRef(v, ref, 3, 0.3).stats[0], s, pairLossRef(s, ref, 3, 0.3).ds, 'ds');
  });

  it('log-prob backward is g·(onehot − softmax), and entropy is −Σ p log p', () => {
    const [N, V] = [3, 7];
    const targets = [2, -1, 6];
    const x = Float64Array.from(randn(N * V, 11, 2));
    const g = [0.5, 0.7, -1.2];
    const f = (v: Float64Array) => {
      const r = tokenLogprobsRef(v, targets, N, V).logp;
      return r[0] * g[0] + r[1] * g[1] + r[2] * g[2];
    };
    const { lse, ent } = tokenLogprobsRef(x, targets, N, V);
    expectGradMatches(f, x, logprobBackwardRef(x, targets, lse, g, N, V), 'dlogits');
    let h = 0;
    for (let j = 0; j < V; j++) {
      const pj = Math.exp(x[j] - lse[0]);
      h -= pj * Math.log(pj);
    }
    expect(ent[0]).toBeCloseTo(h, 12);
  });

  it('segment sum', () => {
    const w = [1, 0, 1, 0.5, 0, 1];
    const dOut = [0.3, -2];
    const x = Float64Array.from(randn(6, 12));
    expectGradMatches(
      (v) => sum(segSumRef(v, w, 2, 3).map((s, i) => s * dOut[i])),
      x,
      segSumBackwardRef(w, dOut, 2, 3),
      'dx',
    );
  });
});

describe('RL kernels on the GPU equal their twins', () => {
  it('token log-probs, entropy and the weighted backward (V = 1000, ignored rows, large offsets)', async () => {
    const ctx = await testGpu();
    const [N, V] = [5, 1000];
    const x = Float32Array.from(randn(N * V, 13, 3).map((v, i) => v + (Math.floor(i / V) - 2) * 200));
    const targets = Int32Array.from([5, -1, 999, 0, -100]);
    const g = Float32Array.from([0.5, 2, -1, 0.25, 3]);
    const ref = tokenLogprobsRef(x, targets, N, V);
    const [lx, lt, lp, le, ll, lg, ld] = [
      up(ctx, x),
      ctx.upload(targets, 'workspace', 't'),
      up(ctx, new Float32Array(N)),
      up(ctx, new Float32Array(N)),
      up(ctx, new Float32Array(N)),
      up(ctx, g),
      up(ctx, new Float32Array(N * V)),
    ];
    tokenLogprobs(ctx, { logits: lx, targets: lt, logp: lp, ent: le, lse: ll, N, V });
    logprobBackward(ctx, { dLogits: ld, logits: lx, targets: lt, lse: ll, g: lg, N, V });
    expectClose(await ctx.readF32(lp, N), ref.logp, 1e-5, 1e-4, 'logp');
    expectClose(await ctx.readF32(le, N), ref.ent, 1e-4, 1e-4, 'entropy');
    expectClose(
      await ctx.readF32(ld, N * V),
      logprobBackwardRef(x, targets, ref.lse, g, N, V),
      1e-4,
      1e-6,
      'dlogits',
    );
  });

  it('policy, value and pair losses with their gradients; segment sum and its backward', async () => {
    const ctx = await testGpu();
    const N = 300; // more than one workgroup's worth of tokens: each thread loops
    const w = Float32Array.from({ length: N }, (_, i) => (i % 7 === 0 ? 0 : 1 / N));
    const pdata = Float32Array.from([...randn(N, 14, 0.3), ...randn(N, 15, 0.3), ...randn(N, 16), ...w]);
    const lp = Float32Array.from(randn(N, 17, 0.3));
    const p = { clipLow: 0.2, clipHigh: 0.2, beta: 0.04 };
    const gb = up(ctx, new Float32Array(N));
    const st = up(ctx, new Float32Array(8));
    policyLoss(ctx, { logp: up(ctx, lp), data: up(ctx, pdata), g: gb, stats: st, N, ...p });
    const r = policyLossRef(lp, pdata, N, p);
    expectClose(await ctx.readF32(gb, N), r.g, 1e-4, 1e-7, 'policy g');
    expectClose(await ctx.readF32(st, 6), r.stats, 1e-4, 1e-6, 'policy stats');

    const vdata = Float32Array.from([...randn(N, 18), ...randn(N, 19), ...w]);
    const v = Float32Array.from(randn(N, 20));
    valueLoss(ctx, { v: up(ctx, v), data: up(ctx, vdata), g: gb, stats: st, N, clip: 0.2 });
    const vr = valueLossRef(v, vdata, N, 0.2);
    expectClose(await ctx.readF32(gb, N), vr.g, 1e-4, 1e-7, 'value g');
    expectClose(await ctx.readF32(st, 3), vr.stats, 1e-4, 1e-6, 'value stats');

    const s = Float32Array.from(randn(8, 21, 4));
    const sref = Float32Array.from(randn(8, 22, 4));
    pairLoss(ctx, { s: up(ctx, s), ref: up(ctx, sref), ds: gb, stats: st, P: 4, beta: 0.5 });
    const pr = pairLossRef(s, sref, 4, 0.5);
    expectClose(await ctx.readF32(gb, 8), pr.ds, 1e-5, 1e-7, 'pair ds');
    expectClose(await ctx.readF32(st, 5), pr.stats, 1e-5, 1e-6, 'pair stats');

    const [S, T] = [3, 70];
    const x = Float32Array.from(randn(S * T, 23));
    const ww = Float32Array.from({ length: S * T }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const out = up(ctx, new Float32Array(S));
    segSum(ctx, { out, x: up(ctx, x), w: up(ctx, ww), S, T });
    expectClose(await ctx.readF32(out, S), segSumRef(x, ww, S, T), 1e-5, 1e-5, 'segsum');
    const dOut = Float32Array.from([1, -2, 0.5]);
    const dx = up(ctx, new Float32Array(S * T));
    segSumBackward(ctx, { dx, w: up(ctx, ww), dOut: up(ctx, dOut), S, T });
    expectClose(
      await ctx.readF32(dx, S * T),
      segSumBackwardRef(ww, dOut, S, T),
      1e-6,
      1e-7,
      'segsum backward',
    );
  });
});
