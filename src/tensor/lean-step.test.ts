// The lean step (issue 12): what one LoRA training step costs the CPU in GPU calls, counted by the
// context (deterministic counts, not timings), and gradient routing without copies. A steady-state step
// on a tiny Llama creates bind groups only for the buffers that are new each step (the batch's ids),
// writes uniforms once per submit, opens error scopes only around those creations and the submits, and
// records no `scale` dispatch besides LoRA's own scaling (forward and backward, two per site). Routing
// by store hand-over keeps every gradient exact: checked against hand-derived values on the CPU twin,
// including a store shared by two inputs where one later accumulates.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { bytesSource, SafetensorsFile, writeSafetensors } from '../formats/safetensors';
import { counterDelta } from '../gpu/context';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { SFT_DEFAULTS, type SftRunConfig, SftRunner } from '../train/sft';
import { cpuBackend } from './cpu-backend';
import * as op from './ops';
import { Tape } from './tape';

describe('a lean LoRA step', () => {
  // Both LoRA paths (ops-peft.ts loraAddInto): SwiftShader's default, matmuls, and the fused kernels that
  // hardware adapters take.
  for (const variant of ['matmul', 'fused'] as const)
    it(`reuses bind groups, writes uniforms once per submit and routes gradients without copies (${variant})`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      ctx.variants.set('lora', variant);
      const cfg = TINY_LLAMA;
      const specs = randomModelParams(cfg, 7, () => false, 0.2);
      const file = writeSafetensors(
        Object.fromEntries(
          specs.map((s) => [s.name, { dtype: 'F32' as const, shape: s.shape, data: s.data }]),
        ),
      );
      const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
      const ids = Array.from({ length: 8 }, (_, i) => (i * 7 + 3) % cfg.vocabSize);
      const rows = [0, 1].map((b) => ({ inputIds: ids.map((t) => (t + b) % cfg.vocabSize), labels: ids }));
      const run: SftRunConfig = {
        ...SFT_DEFAULTS,
        method: 'lora',
        options: { r: 2, lora_alpha: 4 },
        lr: 1e-2,
        steps: 6,
        batch: 2,
        seqLen: 8,
        gradAccum: 1,
        logEvery: 100,
        evalEvery: 0,
      };
      const r = await SftRunner.create(ctx, cfg, reader, { train: rows, eval: [], padId: 0 }, run);
      const labels = new Map<string, number>();
      const dispatch = ctx.dispatch.bind(ctx);
      ctx.dispatch = (a) => {
        labels.set(a.kernel.label, (labels.get(a.kernel.label) ?? 0) + 1);
        dispatch(a);
      };
      try {
        // Two warm-up steps: pipelines compiled, and the arena's pool hands buffers back in the order the
        // steps after it will see again.
        for (let i = 0; i < 2; i++) {
          r.stepOnce();
          await r.settle(0);
        }
        const steps = [];
        for (let i = 0; i < 2; i++) {
          labels.clear();
          const c0 = ctx.counters();
          r.stepOnce();
          await r.settle(0);
          steps.push({ c: counterDelta(c0, ctx.counters()), scale: labels.get('scale') ?? 0 });
        }
        expect(steps[1]).toEqual(steps[0]);
        const { c, scale } = steps[0];
        const sites = r.adapter.plan.specs.filter((s) => s.name.includes('lora_A')).length;
        // LoRA's default targets on this model: q and v of each layer.
        expect(sites).toBe(2 * cfg.numLayers);
        // Before: a `scale` copy for every input of every add in backward (residuals and LoRA sums); then
        // LoRA's own scaling, forward and backward (2 per site); now none: s rides on LoRA's matmuls (alpha).
        expect(scale).toBe(0);
        // Before: one bind group and one uniform write per dispatch, one error scope per dispatch plus two
        // per submit. Then: bind groups only for the step's freshly uploaded ids (embedding, loss) and one
        // norm over a buffer the pool hands out in another order. Now none: the tape hands its buffers (ids
        // included) back in the reverse of the order it took them, so every step gets the same buffers in the
        // same roles; uniforms one write per submit that has any; error scopes per creation and per submit.
        // Counts, not timings: deterministic.
        expect(c).toEqual({ ...STEADY, dispatches: STEADY_DISPATCHES[variant] });
        expect(c.errorScopes).toBe(2 * c.submits + c.bindGroupsCreated);
      } finally {
        ctx.dispatch = dispatch;
        ctx.variants.delete('lora');
        r.dispose();
      }
    });
});

/**
 * One steady LoRA step on TINY_LLAMA (batch 2×8, r 2, q/v sites), pinned so a regression shows. Before the
 * LoRA sum on the matmul's accumulate and the tape's ordered hand-back (issue 11): 106 dispatches, 3 bind
 * groups, 9 scopes. Then per LoRA path: matmuls 94 (2 forward and 4 backward per site, 3 in the first
 * layer), the fused kernels 84 (1 forward, 2 backward per site: lora-linear.ts). Now 71 and 74: the matmul
 * queue (matmul-queue.ts) groups independent matmuls (q/k/v with LoRA's x·Aᵀ, gate/up, the sites' weight
 * gradients) and sums into one gradient (dx through q, k, v and the LoRA paths), and q and k rotate in one
 * dispatch forward and backward (ops-multi.ts). Then 67 and 70: the adapter passes LoRA's additiveLinear
 * on, so o_proj and down_proj write x + a·W (no residual adds).
 */
const STEADY_DISPATCHES = { matmul: 67, fused: 70 };
/** The rest of the step's counters, the same on both paths. */
const STEADY = {
  bindGroupsCreated: 0,
  uniformWrites: 2,
  errorScopes: 6,
  copies: 1,
  submits: 3,
};

describe('gradient routing by store hand-over', () => {
  it('gives exact gradients when a shared store is later accumulated into', () => {
    const be = cpuBackend();
    const tp = new Tape(be, true);
    const leaf = (vals: number[], name: string) => {
      const t = tp.tensor([vals.length], true, name);
      (t.store as Float64Array).set(vals);
      return t;
    };
    // a is used twice: in y = a + b and, recorded after b's producer, in c = 3a. z = y + c.
    // dz/da = 1 + 3 = 4, dz/du = 2 (b = 2u). The add hands dz to y and c, then y's store to a and b:
    // c's backward adds 3·dz into a while b's producer still has to read dz.
    const u = leaf([1, 2], 'u');
    const a = leaf([5, 7], 'a');
    const b = op.scale(tp, u, 2, 'b');
    const c = op.scale(tp, a, 3, 'c');
    const y = op.add(tp, a, b, 'y');
    const z = op.add(tp, y, c, 'z');
    const dz = be.upload([1, -2], 'activations', 'dz');
    tp.seedGrad(z, dz);
    tp.backward();
    expect(Array.from(tp.gradOf(a) as Float64Array)).toEqual([4, -8]);
    expect(Array.from(tp.gradOf(u) as Float64Array)).toEqual([2, -4]);
    // The seeded gradient is the caller's: never handed on or written.
    expect(Array.from(dz)).toEqual([1, -2]);
    tp.dispose();
  });

  it('adds a tensor to itself', () => {
    const be = cpuBackend();
    const tp = new Tape(be, true);
    const x = tp.tensor([2], true, 'x');
    const y = op.add(tp, x, x, 'y');
    const w = op.scale(tp, y, 1, 'w');
    const dw = be.upload([3, 4], 'activations', 'dw');
    tp.seedGrad(w, dw);
    tp.backward();
    expect(Array.from(tp.gradOf(x) as Float64Array)).toEqual([6, 8]);
    tp.dispose();
  });
});
