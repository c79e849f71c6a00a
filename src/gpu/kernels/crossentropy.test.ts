// Tests for crossentropy.ts: loss, gradient (separate and in place) and log-prob gathering against the
// float64 twin at row lengths around the workgroup size and a large V, with ignored (-100) rows, all-ignored
// batches and large logit offsets, with the row's partials combined by the workgroup tree and by subgroup
// operations (where the device has them); the twins' gradients against central differences.
import { afterEach, describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn, rng } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { ceReduce, crossEntropy, logSoftmaxGather } from './crossentropy';
import { crossEntropyRef, logSoftmaxGatherRef } from './crossentropy.ref';

function randomTargets(N: number, V: number, seed: number, ignoreRate = 0.25): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: N }, (_, i) => (i > 0 && r() < ignoreRate ? -100 : Math.floor(r() * V)));
}

/** Logits with a per-row offset (up to ±500) so a softmax without the max shift would overflow. */
function randomLogits(N: number, V: number, seed: number): Float32Array {
  const x = randn(N * V, seed, 3);
  for (let i = 0; i < N; i++) for (let j = 0; j < V; j++) x[i * V + j] += (i % 3) * 250 - 250;
  return Float32Array.from(x);
}

describe('crossEntropy twins', () => {
  it('dLogits is the gradient of scale·Σ losses (central differences)', () => {
    const [N, V, scale] = [4, 7, 0.3];
    const targets = Int32Array.from([2, -100, 6, 0]);
    const x = randn(N * V, 1);
    const f = (l: Float64Array) =>
      scale * crossEntropyRef(l, targets, N, V, scale).losses.reduce((a, b) => a + b, 0);
    expectGradMatches(f, x, crossEntropyRef(x, targets, N, V, scale).dLogits, 'dLogits');
  });

  it('log-prob gathering: −loss, and its gradient is onehot − softmax per row (central differences)', () => {
    const [N, V] = [3, 5];
    const targets = Int32Array.from([4, 0, -100]);
    const x = randn(N * V, 2);
    const w = randn(N, 3);
    const { losses, dLogits } = crossEntropyRef(x, targets, N, V, 1);
    expectClose(
      logSoftmaxGatherRef(x, targets, N, V),
      losses.map((l) => -l),
      1e-15,
      1e-15,
      'gather',
    );
    const grad = dLogits.map((g, k) => -w[Math.floor(k / V)] * g);
    expectGradMatches((l) => dot(w, logSoftmaxGatherRef(l, targets, N, V)), x, grad, 'd gather');
  });
});

describe('crossEntropy kernel', () => {
  const shapes: Array<[number, number]> = [
    [1, 1],
    [1, 7],
    [3, 255],
    [4, 257],
    [5, 1000],
    [3, 5000],
  ];
  afterEach(async () => (await testGpu({ allFeatures: true })).variants.delete('crossentropy'));
  for (const [N, V] of shapes)
    for (const reduce of ['tree', 'subgroup'] as const) {
      it(`${reduce}: matches the twin (N=${N}, V=${V}): loss only, gradient, in place, log-probs`, async () => {
        const ctx = await testGpu({ allFeatures: true });
        ctx.variants.set('crossentropy', reduce);
        expect(ceReduce(ctx)).toBe(reduce === 'subgroup' && !ctx.features.subgroups ? 'tree' : reduce);
        const logits = randomLogits(N, V, N * V);
        const targets = randomTargets(N, V, V);
        const scale = 1 / N;
        const ref = crossEntropyRef(logits, targets, N, V, scale);
        const gl = ctx.upload(logits, 'activations', 'logits');
        const gt = ctx.upload(targets, 'activations', 'targets');
        const losses = up(ctx, new Float64Array(N).fill(9));
        const dLogits = ctx.arena.alloc(N * V * 4, 'activations', 'dLogits');
        const lossTol = (what: string, got: Float32Array) => expectClose(got, ref.losses, 1e-4, 1e-5, what);

        crossEntropy(ctx, { losses, logits: gl, targets: gt, N, V, scale });
        lossTol('losses (loss only)', await ctx.readF32(losses, N));

        ctx.write(losses, new Float32Array(N).fill(9));
        crossEntropy(ctx, { losses, logits: gl, targets: gt, N, V, scale, dLogits });
        lossTol('losses (with gradient)', await ctx.readF32(losses, N));
        expectClose(await ctx.readF32(dLogits, N * V), ref.dLogits, 1e-4, 1e-7 * scale, 'dLogits');

        const out = up(ctx, new Float64Array(N).fill(9));
        logSoftmaxGather(ctx, { out, logits: gl, targets: gt, N, V });
        expectClose(
          await ctx.readF32(out, N),
          logSoftmaxGatherRef(logits, targets, N, V),
          1e-4,
          1e-5,
          'log-probs',
        );

        ctx.write(losses, new Float32Array(N).fill(9));
        crossEntropy(ctx, { losses, logits: gl, targets: gt, N, V, scale, inPlace: true });
        lossTol('losses (in place)', await ctx.readF32(losses, N));
        expectClose(await ctx.readF32(gl, N * V), ref.dLogits, 1e-4, 1e-7 * scale, 'dLogits in place');

        for (const b of [gl, gt, losses, dLogits, out]) ctx.arena.free(b);
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });
    }

  it('an all-ignored batch gives zero losses, zero gradients and zero log-probs', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [N, V] = [3, 300];
    const gl = ctx.upload(randomLogits(N, V, 4), 'activations', 'logits');
    const gt = ctx.upload(new Int32Array(N).fill(-100), 'activations', 'targets');
    const losses = up(ctx, [9, 9, 9]);
    const dLogits = up(ctx, new Float64Array(N * V).fill(9));
    crossEntropy(ctx, { losses, logits: gl, targets: gt, N, V, scale: 1, dLogits });
    expect(Array.from(await ctx.readF32(losses, N))).toEqual([0, 0, 0]);
    expect((await ctx.readF32(dLogits, N * V)).every((v) => v === 0)).toBe(true);
    logSoftmaxGather(ctx, { out: losses, logits: gl, targets: gt, N, V });
    expect(Array.from(await ctx.readF32(losses, N))).toEqual([0, 0, 0]);
    for (const b of [gl, gt, losses, dLogits]) ctx.arena.free(b);
  });

  it('refuses a separate dLogits together with inPlace', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const a = up(ctx, [0, 0]);
    const b = up(ctx, [0, 0]);
    const t = ctx.upload(Int32Array.from([0]), 'activations', 't');
    const l = up(ctx, [0]);
    expect(() =>
      crossEntropy(ctx, {
        losses: l,
        logits: a,
        targets: t,
        N: 1,
        V: 2,
        scale: 1,
        dLogits: b,
        inPlace: true,
      }),
    ).toThrow(/inPlace/);
    for (const x of [a, b, t, l]) ctx.arena.free(x);
  });
});

describe('crossEntropy aliasing', () => {
  it('losses may live in the same buffer as dLogits', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [N, V] = [3, 60];
    const logits = randomLogits(N, V, 8);
    const targets = Int32Array.from([5, -100, 59]);
    const gl = ctx.upload(logits, 'activations', 'logits');
    const gt = ctx.upload(targets, 'activations', 'targets');
    const buf = ctx.arena.alloc(1024, 'activations', 'grad+loss');
    const dLogits = viewOf(buf, 0, N * V * 4);
    const losses = viewOf(buf, 768, N * 4);
    crossEntropy(ctx, { losses, logits: gl, targets: gt, N, V, scale: 0.5, dLogits });
    const ref = crossEntropyRef(logits, targets, N, V, 0.5);
    expectClose(await ctx.readF32(losses, N), ref.losses, 1e-4, 1e-5, 'losses');
    expectClose(await ctx.readF32(dLogits, N * V), ref.dLogits, 1e-4, 1e-7, 'dLogits');
    for (const b of [gl, gt, buf]) ctx.arena.free(b);
  });
});
