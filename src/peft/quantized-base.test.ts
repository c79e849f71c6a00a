// A frozen base held in f16/bf16/int8/nf4 on the GPU against the CPU twin holding the float64 values of
// exactly what is stored: the linear op (forward and dx, both layouts), a gradient asked of a formatted
// weight refused by name, tiny GPT-2 (tied head reading the embedding as an int8 per-row matrix) and
// Qwen2 forwards, and every method's gradients plus a LoRA training step on an nf4 base.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose, randn } from '../../test/helpers/numeric';
import type { ModelConfig } from '../formats/model-config';
import { randomModelParams } from '../model/init';
import { shiftLabels } from '../model/loss';
import { linearSites } from '../model/sites';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { forward, type ModelHooks } from '../model/transformer';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import { meterBackend } from '../tensor/meter-backend';
import * as op from '../tensor/ops';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { Tape, Tensor } from '../tensor/tape';
import type { BaseDtype, WeightLayout } from '../tensor/weight-format';
import { AdamW } from '../train/optimizer';
import { Adapter, planAdapter } from './adapter';
import { listMethods } from './registry';

const DTYPES: BaseDtype[] = ['f16', 'bf16', 'int8', 'nf4'];

/** Frozen matrices (linears, embeddings, head) held in `dtype`, with the layout their channels follow. */
function withBaseDtype(c: ModelConfig, specs: readonly ParamSpec[], dtype: BaseDtype): ParamSpec[] {
  const layouts = new Map<string, WeightLayout>(linearSites(c).map((s) => [`${s.path}.weight`, s.layout]));
  return specs.map((s) =>
    s.shape.length === 2 && !s.trainable ? { ...s, dtype, layout: layouts.get(s.name) ?? 'out_in' } : s,
  );
}

const B = 2;
const T = 5;
function batch(c: ModelConfig) {
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % c.vocabSize);
  return { ids, labels: shiftLabels(ids, B, T) };
}

function lossOf<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  hooks: ModelHooks<S, I>,
  grad: boolean,
) {
  const { ids, labels } = batch(c);
  const tp = new Tape(be, grad);
  if (grad) ps.zeroGrads();
  const { logits, virtual } = forward(tp, c, ps, { ids, B, T }, hooks);
  const rows = B * (T + virtual);
  const full = virtual ? shiftLabels(ids, B, T, virtual) : labels;
  const loss = op.crossEntropy(tp, tp.reshape(logits, [rows, c.vocabSize]), full, 'loss');
  if (grad) tp.backward();
  return { tp, loss, logits };
}

describe('linear with a formatted weight', () => {
  for (const layout of ['out_in', 'in_out'] as const) {
    it(`forward and dx on the GPU match the twin for every dtype (${layout})`, async () => {
      const ctx = await testGpu();
      const [N, inF, outF] = [6, 70, 67];
      const shape = layout === 'out_in' ? [outF, inF] : [inF, outF];
      const w = randn(inF * outF, 3);
      const x = randn(N * inF, 4);
      const run = async <S, I>(be: Backend<S, I>, dtype: BaseDtype) => {
        const up = be.uploadWeight(w, shape, dtype, layout, 'frozen', 'W');
        const W = new Tensor<S>(shape, up.store, false, 'W', true);
        W.format = up.format;
        const tp = new Tape(be, true);
        const xt = tp.tensor([N, inF], true, 'x');
        be.write(xt.store, x);
        const y = op.linear(tp, xt, W, null, layout, 'lin');
        // Cross-entropy over y's rows: a dy that depends on every y, so dx = dy·Wᵀ reads all of W.
        op.crossEntropy(
          tp,
          y,
          Int32Array.from({ length: N }, (_, i) => i % outF),
          'ce',
        );
        tp.keep(xt);
        tp.backward();
        const out = { y: await be.read(y.store, y.size), dx: await be.read(tp.gradOf(xt)!, xt.size) };
        tp.dispose();
        be.freeWeight(up.store, up.format);
        return out;
      };
      const gpu = gpuBackend(ctx);
      const cpu = cpuBackend();
      const f32 = await run(cpu, 'f32');
      for (const dtype of DTYPES) {
        const g = await run(gpu, dtype);
        const k = await run(cpu, dtype);
        expectClose(g.y, k.y, 1e-4, 1e-5, `${dtype} y`);
        expectClose(g.dx, k.dx, 1e-3, 1e-6, `${dtype} dx`);
        // The twin computes with the stored values, not the f32 ones (so a kernel reading f32 would fail).
        const diff = Math.max(...Array.from(k.y, (v, i) => Math.abs(v - f32.y[i])));
        expect(diff, `${dtype} differs from f32`).toBeGreaterThan(dtype === 'f16' ? 1e-5 : 1e-3);
      }
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('the meter counts exactly the bytes the arena holds for each dtype (values and scales)', async () => {
    const ctx = await testGpu();
    const gpu = gpuBackend(ctx);
    for (const dtype of ['f32', ...DTYPES] as BaseDtype[])
      for (const shape of [[67, 70], [3, 5], [130]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const meter = meterBackend();
        const before = ctx.arena.stats().current.frozen;
        const g = gpu.uploadWeight(randn(n, 2), shape, dtype, 'in_out', 'frozen', 'w');
        const m = meter.uploadWeight(randn(n, 2), shape, dtype, 'in_out', 'frozen', 'w');
        expect(meter.stats().current.frozen, `${dtype} [${shape}]`).toBe(
          ctx.arena.stats().current.frozen - before,
        );
        meter.freeWeight(m.store, m.format);
        gpu.freeWeight(g.store, g.format);
        expect(meter.stats().current.frozen).toBe(0);
        expect(ctx.arena.stats().current.frozen).toBe(before);
      }
    // nf4 of a 67×70 matrix: 4690 codes in 2345 bytes (→ 2352 aligned) and 74 absmax (296 → 304 bytes).
    const meter = meterBackend();
    meter.uploadWeight(new Float32Array(67 * 70), [67, 70], 'nf4', 'out_in', 'frozen', 'w');
    expect(meter.stats().current.frozen).toBe(2352 + 304);
  });

  it('refuses a gradient of a formatted weight, naming the tensor and its dtype', () => {
    const be = cpuBackend();
    const up = be.uploadWeight(randn(12, 1), [3, 4], 'nf4', 'out_in', 'frozen', 'blocks.0.q.weight');
    const W = new Tensor([3, 4], up.store, true, 'blocks.0.q.weight', true);
    W.format = up.format;
    const tp = new Tape(be, true);
    const x = tp.tensor([2, 4], false, 'x');
    expect(() => op.linear(tp, x, W, null, 'out_in', 'q')).toThrow(/blocks\.0\.q\.weight is stored as nf4/);
    expect(() => op.embedding(tp, W, Int32Array.from([0]), 'embed')).toThrow(/stored as nf4/);
  });
});

for (const c of [TINY_GPT2, TINY_LLAMA]) {
  describe(`${c.modelType} tiny model on a formatted base`, () => {
    it('GPU logits match the twin for f16, bf16, int8 and nf4 bases', async () => {
      const ctx = await testGpu();
      const base = randomModelParams(c, 5, () => false, 0.2, true);
      const logitsOn = async <S, I>(be: Backend<S, I>, specs: ParamSpec[]) => {
        const ps = new ParamSet(be, specs);
        const { tp, logits } = lossOf(be, c, ps, {}, false);
        const out = await be.read(logits.store, logits.size);
        tp.dispose();
        ps.dispose();
        return out;
      };
      const f32 = await logitsOn(cpuBackend(), base);
      for (const dtype of DTYPES) {
        const specs = withBaseDtype(c, base, dtype);
        const twin = await logitsOn(cpuBackend(), specs);
        expectClose(await logitsOn(gpuBackend(ctx), specs), twin, 2e-4, 2e-5, `${dtype} logits`);
        const diff = Math.max(...Array.from(twin, (v, i) => Math.abs(v - f32[i])));
        expect(diff, `${dtype} base changes the logits`).toBeGreaterThan(dtype === 'f16' ? 1e-6 : 1e-3);
      }
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });

    it('a LoRA step on an nf4 base: gradients and the next loss match the twin', async () => {
      const ctx = await testGpu();
      const method = listMethods().find((m) => m.info.name === 'lora')!;
      const base = randomModelParams(c, 11, () => false, 0.2, true);
      const plan = planAdapter(method, method.testOptions(c, true), c, base, 3);
      const specs = withBaseDtype(c, plan.specs, 'nf4');
      expect(specs.some((s) => s.dtype === 'nf4')).toBe(true);
      const stepOn = async <S, I>(be: Backend<S, I>) => {
        const ps = new ParamSet(be, specs);
        const adapter = new Adapter(method, { ...plan, specs }, c, ps);
        const opt = new AdamW(ps, {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0,
          maxGradNorm: 0,
        });
        const r = lossOf(be, c, ps, adapter.hooks, true);
        const loss0 = (await be.read(r.loss.store, 1))[0];
        const grads = new Map<string, Float64Array>();
        for (const t of ps.trainable()) grads.set(t.name, await ps.readGrad(t.name));
        opt.update();
        r.tp.dispose();
        const r1 = lossOf(be, c, ps, adapter.hooks, false);
        const loss1 = (await be.read(r1.loss.store, 1))[0];
        r1.tp.dispose();
        opt.dispose();
        adapter.dispose();
        ps.dispose();
        return { loss0, loss1, grads };
      };
      const k = await stepOn(cpuBackend());
      const g = await stepOn(gpuBackend(ctx));
      expectClose([g.loss0, g.loss1], [k.loss0, k.loss1], 1e-5, 1e-6, 'losses');
      expect(k.loss1).toBeLessThan(k.loss0);
      for (const [name, want] of k.grads) expectClose(g.grads.get(name)!, want, 2e-3, 2e-5, `grad ${name}`);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  });
}

describe('every method on an nf4 base', () => {
  const c = TINY_LLAMA;
  for (const method of listMethods()) {
    it(`${method.info.name}: GPU gradients match the twin`, async () => {
      const ctx = await testGpu();
      const base = randomModelParams(c, 11, () => false, 0.2, true);
      const plan = planAdapter(method, method.testOptions(c, true), c, base, 3);
      const specs = withBaseDtype(c, plan.specs, 'nf4');
      const gradsOn = async <S, I>(be: Backend<S, I>) => {
        const ps = new ParamSet(be, specs);
        const adapter = new Adapter(method, { ...plan, specs }, c, ps);
        const r = lossOf(be, c, ps, adapter.hooks, true);
        const out = new Map<string, Float64Array>([['loss', await be.read(r.loss.store, 1)]]);
        for (const t of ps.trainable()) out.set(t.name, await ps.readGrad(t.name));
        r.tp.dispose();
        adapter.dispose();
        ps.dispose();
        return out;
      };
      const k = await gradsOn(cpuBackend());
      const g = await gradsOn(gpuBackend(ctx));
      for (const [name, want] of k) expectClose(g.get(name)!, want, 2e-3, 2e-5, name);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }
});

describe('in-place merge on an nf4 base', () => {
  // Merged inference folds ΔW into the weights in place: on a packed base that must either go into an f32
  // copy (the set's private copy) or be refused by name, never land in the packed words.
  for (const name of ['dora', 'ia3', 'lokr', 'sparse', 'rows']) {
    it(`${name}: refused by name or merged into an f32 copy with the unmerged logits`, async () => {
      const ctx = await testGpu();
      const be = gpuBackend(ctx);
      const c = TINY_LLAMA;
      const method = listMethods().find((m) => m.info.name === name)!;
      const base = randomModelParams(c, 11, () => false, 0.2, true);
      const plan = planAdapter(method, method.testOptions(c, true), c, base, 3);
      const specs = withBaseDtype(c, plan.specs, 'nf4');
      const ps = new ParamSet(be, specs);
      const adapter = new Adapter(method, { ...plan, specs }, c, ps);
      const logits = async () => {
        const { tp, logits: l } = lossOf(be, c, ps, adapter.hooks, false);
        const out = await be.read(l.store, l.size);
        tp.dispose();
        return out;
      };
      const before = await logits();
      let merged = true;
      try {
        adapter.merge();
      } catch (e) {
        merged = false;
        expect(String(e)).toMatch(/is held as nf4/);
      }
      if (merged) {
        expectClose(await logits(), before, 1e-4, 1e-5, 'merged logits');
        adapter.unmerge();
      }
      expectClose(await logits(), before, 1e-5, 1e-6, 'logits after');
      adapter.dispose();
      ps.dispose();
    });
  }
});
