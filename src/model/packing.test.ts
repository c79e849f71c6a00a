// End-to-end check of packing with no attention across examples (forward's `positions` + `segments`): on
// tiny GPT-2 and Llama models, plain and with prefix tuning (prefix keys seen by every example) and prompt
// tuning (virtual tokens shared by every example), each token's logits and loss in a packed row equal those
// of its example run alone and unpadded (GPU, 1e-4), and the gradient of a packed batch's summed loss equals
// the sum of the examples' own gradients (CPU float64 twin, 1e-9).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import { makeBatch } from '../data/batch';
import { packSequences, type Sequence } from '../data/pack';
import type { ModelConfig } from '../formats/model-config';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { rng } from '../util/rng';
import { randomModelParams } from './init';
import { shiftLabels } from './loss';
import { TINY_GPT2, TINY_LLAMA } from './testing';
import { forward, type ModelHooks } from './transformer';

const SEQ = 12;
/** bfd packs these into rows [9, 3], [7, 5], [6, 4, 2]: every row holds two or three examples. */
const LENGTHS = [6, 3, 9, 2, 5, 4, 7];

function examples(c: ModelConfig): Sequence[] {
  const r = rng(17);
  return LENGTHS.map((n) => {
    const ids = Array.from({ length: n }, () => Math.floor(r() * c.vocabSize));
    const labels = ids.slice();
    if (n > 4) labels[3] = -100; // an ignored label inside an example
    // Packing drops each example's first label (pack.ts); alone it is a target only under prompt tuning (the
    // last virtual token predicts it). Ignored here as in prompt/completion data, so both losses count the same.
    labels[0] = -100;
    return { inputIds: ids, labels };
  });
}

interface Method {
  name: string;
  raw: RawOptions;
}
const METHODS: (Method | null)[] = [
  null,
  { name: 'prefix', raw: { num_virtual_tokens: 3 } },
  { name: 'prompt', raw: { num_virtual_tokens: 2, prompt_tuning_init: 'RANDOM' } },
];
const label = (m: Method | null) => (m ? m.name : 'base model');

function setup<S, I>(be: Backend<S, I>, c: ModelConfig, m: Method | null) {
  if (!m)
    return {
      ps: new ParamSet(
        be,
        randomModelParams(c, 5, () => true, 0.2, true),
      ),
      hooks: {},
    };
  const method = getMethod(m.name);
  const plan = planAdapter(
    method,
    m.raw,
    c,
    randomModelParams(c, 5, () => false, 0.2, true),
    9,
  );
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(method, plan, c, ps);
  return { ps, hooks: adapter.hooks as ModelHooks<S, I> };
}

/** Where each example sits: its packed row and first column. */
function layout(c: ModelConfig) {
  const seqs = examples(c);
  const rows = packSequences(seqs, { seqLen: SEQ, padId: 0 });
  const at: { row: number; col: number }[] = [];
  rows.forEach((r, b) => {
    let col = 0;
    for (const e of r.examples) {
      at[e] = { row: b, col };
      col += seqs[e].inputIds.length;
    }
  });
  const batch = makeBatch(rows, rows.length, SEQ, 0);
  return { seqs, rows, at, batch };
}

/** −log softmax(logits[i])[target[i]] per row, NaN where the target is ignored. */
function tokenLosses(logits: Float64Array, targets: Int32Array, V: number): number[] {
  return Array.from(targets, (tg, i) => {
    if (tg === -100) return Number.NaN;
    const row = logits.subarray(i * V, (i + 1) * V);
    const m = row.reduce((a, z) => Math.max(a, z), -Infinity);
    const lse = m + Math.log(row.reduce((a, z) => a + Math.exp(z - m), 0));
    return lse - row[tg];
  });
}

interface Input {
  ids: Int32Array;
  labels: Int32Array;
  B: number;
  T: number;
  positions?: Int32Array;
  segments?: Int32Array;
}

/** Forward (+ backward of the summed token loss when `grad`); returns the logits and the tape. */
function run<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  hooks: ModelHooks<S, I>,
  x: Input,
  grad: boolean,
) {
  const tp = new Tape(be, grad);
  if (grad) ps.zeroGrads();
  const { ids, B, T, positions, segments } = x;
  const { logits, virtual } = forward(tp, c, ps, { ids, B, T, positions, segments }, hooks);
  const targets = shiftLabels(x.labels, B, T, virtual);
  const count = targets.reduce((a, t) => a + (t === -100 ? 0 : 1), 0);
  // weight = count turns the mean into the sum, so per-example sums add up to the packed batch's.
  op.crossEntropy(tp, tp.reshape(logits, [B * (T + virtual), c.vocabSize]), targets, 'loss', count);
  if (grad) tp.backward();
  return { tp, logits, virtual, targets };
}

const alone = (s: Sequence): Input => ({
  ids: Int32Array.from(s.inputIds),
  labels: Int32Array.from(s.labels),
  B: 1,
  T: s.inputIds.length,
});

const packed = (b: ReturnType<typeof layout>['batch']): Input => ({
  ids: b.inputIds,
  labels: b.labels,
  B: b.B,
  T: b.T,
  positions: b.positionIds,
  segments: b.segmentIds,
});

for (const c of [TINY_GPT2, TINY_LLAMA])
  describe(`packing on ${c.family}`, () => {
    it('the packed layout puts several examples in a row', () => {
      const { rows } = layout(c);
      expect(rows.map((r) => r.examples.length)).toEqual([2, 2, 3]);
    });

    for (const m of METHODS) {
      it(`GPU: each token's logits and loss in a packed row equal its example's alone (${label(m)})`, async () => {
        const ctx = await testGpu();
        const be = gpuBackend(ctx);
        const { ps, hooks } = setup(be, c, m);
        const V = c.vocabSize;
        const { seqs, at, batch } = layout(c);
        const p = run(be, c, ps, hooks, packed(batch), false);
        const Tt = SEQ + p.virtual;
        const pl = await be.read(p.logits.store, batch.B * Tt * V);
        const pLoss = tokenLosses(pl, p.targets, V);
        p.tp.dispose();
        let compared = 0;
        for (const [e, s] of seqs.entries()) {
          const a = run(be, c, ps, hooks, alone(s), false);
          const n = s.inputIds.length;
          const al = await be.read(a.logits.store, (n + a.virtual) * V);
          const aLoss = tokenLosses(al, a.targets, V);
          a.tp.dispose();
          for (let t = 0; t < n; t++) {
            const i = at[e].row * Tt + p.virtual + at[e].col + t;
            const j = a.virtual + t;
            const what = `${label(m)} example ${e} token ${t}`;
            expectClose(pl.subarray(i * V, (i + 1) * V), al.subarray(j * V, (j + 1) * V), 1e-4, 1e-5, what);
            // The last token's target in the packed row is the next example's first (or padding): ignored.
            if (t < n - 1) {
              expect(Number.isNaN(pLoss[i]), what).toBe(Number.isNaN(aLoss[j]));
              if (!Number.isNaN(aLoss[j])) {
                expect(Math.abs(pLoss[i] - aLoss[j]), what).toBeLessThan(1e-4 * Math.abs(aLoss[j]) + 1e-6);
                compared++;
              }
            } else expect(Number.isNaN(pLoss[i]), what).toBe(true);
          }
        }
        expect(compared).toBe(LENGTHS.reduce((a, n) => a + n - 1 - (n > 4 ? 1 : 0), 0));
        ps.dispose();
      });

      it(`CPU twin: the packed batch's gradient is the sum of the examples' (${label(m)})`, () => {
        const be = cpuBackend();
        const { ps, hooks } = setup(be, c, m);
        const { seqs, batch } = layout(c);
        const grads = () => ps.trainable().map((t) => Float64Array.from(t.grad!.subarray(0, t.size)));
        const sum = ps.trainable().map((t) => new Float64Array(t.size));
        for (const s of seqs) {
          run(be, c, ps, hooks, alone(s), true).tp.dispose();
          grads().forEach((g, k) => {
            for (let i = 0; i < g.length; i++) sum[k][i] += g[i];
          });
        }
        run(be, c, ps, hooks, packed(batch), true).tp.dispose();
        const got = grads();
        expect(got.length).toBeGreaterThan(0);
        ps.trainable().forEach((t, k) => {
          const mag = sum[k].reduce((a, z) => Math.max(a, Math.abs(z)), 0);
          expect(mag, `${t.name} has a gradient`).toBeGreaterThan(0);
          expectClose(got[k], sum[k], 1e-9, 1e-12 * Math.max(1, mag), `${label(m)} d${t.name}`);
        });
      });
    }

    it('control: without segment ids the same packed rows give other logits (examples see each other)', () => {
      const be = cpuBackend();
      const { ps, hooks } = setup(be, c, null);
      const { batch } = layout(c);
      const x = packed(batch);
      const withSeg = run(be, c, ps, hooks, x, false);
      const without = run(be, c, ps, hooks, { ...x, segments: undefined }, false);
      const a = withSeg.logits.store as Float64Array;
      const b = without.logits.store as Float64Array;
      let differ = false;
      for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1e-9) differ = true;
      expect(differ).toBe(true);
      withSeg.tp.dispose();
      without.tp.dispose();
    });
  });
