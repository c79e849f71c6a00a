// LoRA added into a base output (ops-peft.ts loraAddInto) on both of its paths: the fused kernels (rank
// ≤ 64 where the backend takes them) and the matmul one. On the float64 twin: the output against the plain product and every
// gradient (x, A, B) against central differences of Σ w·out; on the GPU: both paths against the twin.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../test/helpers/numeric';
import { LORA_FUSED_MAX_R } from '../gpu/kernels/lora-linear';
import type { Backend } from './backend';
import { cpuBackend } from './cpu-backend';
import { gpuBackend } from './gpu-backend';
import { loraAddInto } from './ops-peft';
import { Tape } from './tape';

interface Case {
  N: number;
  inF: number;
  outF: number;
  r: number;
  s: number;
}

/** Runs loraAddInto once with gradients; returns the output and the gradients of Σ w·out. */
async function run<S, I>(be: Backend<S, I>, c: Case, vals: Record<string, Float64Array>, grad: boolean) {
  const tp = new Tape(be, grad);
  const leaf = (name: string, shape: number[]) => {
    const t = tp.tensor(shape, true, name);
    be.write(t.store, vals[name]);
    return t;
  };
  const y = leaf('y', [c.N, c.outF]);
  const x = leaf('x', [c.N, c.inF]);
  const A = leaf('A', [c.r, c.inF]);
  const B = leaf('B', [c.outF, c.r]);
  const out = loraAddInto(tp, y, x, A, B, c.s, 'lora');
  const res: Record<string, Float64Array> = { out: await be.read(out.store, out.size) };
  if (grad) {
    const w = be.upload(vals.w, 'activations', 'w');
    tp.seedGrad(out, w);
    tp.backward();
    for (const t of [x, A, B]) res[`d${t.name}`] = await be.read(tp.gradOf(t) as S, t.size);
    be.free(w);
  }
  tp.dispose();
  return res;
}

function values(c: Case, seed: number): Record<string, Float64Array> {
  return {
    y: randn(c.N * c.outF, seed),
    x: randn(c.N * c.inF, seed + 1),
    A: randn(c.r * c.inF, seed + 2, 0.5),
    B: randn(c.outF * c.r, seed + 3, 0.5),
    w: randn(c.N * c.outF, seed + 4),
  };
}

const CASES: Case[] = [
  { N: 5, inF: 7, outF: 6, r: 3, s: 2.5 },
  { N: 11, inF: 4, outF: 9, r: 1, s: -0.5 },
  // Above the fused kernels' rank: the matmul path.
  { N: 3, inF: 5, outF: 4, r: LORA_FUSED_MAX_R + 1, s: 0.25 },
];

describe('loraAddInto', () => {
  for (const c of CASES) {
    it(`matches the product and central differences on the twin (r ${c.r})`, async () => {
      const be = cpuBackend();
      const v = values(c, 10 + c.r);
      const got = await run(be, c, v, true);
      // out = y + s·x·Aᵀ·Bᵀ, written out by hand.
      const want = Float64Array.from(v.y);
      for (let n = 0; n < c.N; n++)
        for (let o = 0; o < c.outF; o++)
          for (let j = 0; j < c.r; j++) {
            let t = 0;
            for (let k = 0; k < c.inF; k++) t += v.x[n * c.inF + k] * v.A[j * c.inF + k];
            want[n * c.outF + o] += c.s * t * v.B[o * c.r + j];
          }
      expectClose(got.out, want, 1e-12, 1e-12, 'out');
      for (const name of ['x', 'A', 'B']) {
        const f = (p: Float64Array) => {
          const o = Float64Array.from(v.y);
          // Same sum with the perturbed parameter, without the tape: a check independent of the op.
          const vv = { ...v, [name]: p };
          for (let n = 0; n < c.N; n++)
            for (let q = 0; q < c.outF; q++)
              for (let j = 0; j < c.r; j++) {
                let t = 0;
                for (let k = 0; k < c.inF; k++) t += vv.x[n * c.inF + k] * vv.A[j * c.inF + k];
                o[n * c.outF + q] += c.s * t * vv.B[q * c.r + j];
              }
          return dot(o, v.w);
        };
        expectGradMatches(f, Float64Array.from(v[name]), got[`d${name}`], `d${name}`);
      }
    });
  }

  // Fused: one pass forward, two backward (u with dx, dA with dB). Matmuls: 2 forward, 4 backward, which
  // the matmul queue (matmul-queue.ts) records as 2: dB with d(xA), then dA with dx.
  for (const [variant, dispatches] of [
    ['fused', 3],
    ['matmul', 4],
  ] as const) {
    it(`gives the twin output and gradients on the GPU (${variant} path)`, async () => {
      const ctx = await testGpu();
      ctx.variants.set('lora', variant);
      try {
        const c: Case = { N: 19, inF: 24, outF: 40, r: 8, s: 2 };
        const v = values(c, 3);
        const want = await run(cpuBackend(), c, v, true);
        const before = ctx.counters().dispatches;
        const got = await run(gpuBackend(ctx), c, v, true);
        expect(ctx.counters().dispatches - before).toBe(dispatches);
        for (const k of Object.keys(want)) expectClose(got[k], want[k], 1e-4, 1e-4, k);
      } finally {
        ctx.variants.delete('lora');
      }
    });
  }
});
