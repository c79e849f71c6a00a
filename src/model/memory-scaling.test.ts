// Training memory that scales (issue 11, item 4): freeing in backward, the chunked LM head and per-block
// checkpointing change where values live, never what they are. Every case runs one training step on the
// CPU float64 twin and compares the loss and every trainable gradient against the old path (whole logits
// through ops.crossEntropy, a tape that frees nothing, no checkpointing). The freeing runs on a backend whose
// free() poisons the storage with NaN, so a value read after the tape let it go shows up as NaN.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import type { ModelConfig } from '../formats/model-config';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod, listMethods } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { randomModelParams } from './init';
import { causalLmLoss, shiftLabels } from './loss';
import { TINY_GPT2, TINY_LLAMA } from './testing';
import { forward } from './transformer';

type Be = Backend<Float64Array, Int32Array>;

/** The twin, except that freed storage is filled with NaN (ids with −7) so a late read cannot pass. */
function poisonBackend(): Be {
  const be = cpuBackend();
  return { ...be, free: (s) => s.fill(Number.NaN), freeInt: (i) => i.fill(-7) };
}

const B = 2;
const T = 7;

function batch(c: ModelConfig, pack: boolean) {
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 2) % c.vocabSize);
  const labels = Int32Array.from(ids, (t, i) => (i % 3 === 1 ? -100 : t));
  // Packed: two examples per row (4 + 3 tokens), positions restarting, segment ids 1 and 2.
  const seg = pack
    ? {
        positions: Int32Array.from(ids, (_, i) => (i % T < 4 ? i % T : (i % T) - 4)),
        segments: Int32Array.from(ids, (_, i) => (i % T < 4 ? 1 : 2)),
      }
    : {};
  return { ids, labels, B, T, ...seg };
}

interface Case {
  /** Run on this backend instead (the GPU); `free` then only chooses the tape's mode. */
  be?: Backend<unknown, unknown>;
  checkpointing?: boolean;
  chunk?: number;
  pack?: boolean;
  /** Free in backward (on the poisoning backend); false: the reference tape. */
  free: boolean;
  /** The old head: whole logits from forward() and ops.crossEntropy. */
  wholeHead?: boolean;
}

async function step(c: ModelConfig, method: string, raw: RawOptions, k: Case) {
  const be = (k.be ?? (k.free ? poisonBackend() : cpuBackend())) as Be;
  const m = getMethod(method);
  const plan = planAdapter(
    m,
    raw,
    c,
    randomModelParams(c, 11, () => false, 0.2, true),
    3,
  );
  const ps = new ParamSet(be, plan.specs);
  // Fresh hooks per run: LoRA's dropout streams start from 0 in every run, as in the reference.
  const adapter = new Adapter(m, plan, c, ps);
  const tp = new Tape(be, true, { keepAll: !k.free });
  ps.zeroGrads();
  const input = batch(c, !!k.pack);
  let loss: Float64Array;
  if (k.wholeHead) {
    const { labels, ...fwd } = input;
    const res = forward(tp, c, ps, fwd, adapter.hooks);
    const targets = shiftLabels(labels, B, T, res.virtual);
    const flat = tp.reshape(res.logits, [B * (T + res.virtual), c.vocabSize]);
    loss = op.crossEntropy(tp, flat, targets, 'loss', 0.5).store;
  } else {
    const opts = { weight: 0.5, checkpointing: k.checkpointing, headChunkRows: k.chunk };
    loss = causalLmLoss(tp, c, ps, input, adapter.hooks, opts).loss.store;
  }
  tp.backward();
  const grads = new Map<string, Float64Array>();
  for (const t of ps.trainable()) grads.set(t.name, await ps.readGrad(t.name));
  const out = { loss: (await be.read(loss, 1))[0], grads };
  tp.dispose();
  return out;
}

function same(got: Awaited<ReturnType<typeof step>>, want: Awaited<ReturnType<typeof step>>) {
  expect(Number.isFinite(got.loss)).toBe(true);
  expectClose([got.loss], [want.loss], 1e-12, 1e-12, 'loss');
  expect([...got.grads.keys()]).toEqual([...want.grads.keys()]);
  let nonzero = 0;
  for (const [name, g] of want.grads) {
    expectClose(got.grads.get(name)!, g, 1e-9, 1e-12, `grad ${name}`);
    if (g.some((v) => v !== 0)) nonzero++;
  }
  // The comparison means something only if gradients flowed.
  expect(nonzero).toBeGreaterThan(0);
}

const METHODS: Array<[string, (c: ModelConfig) => RawOptions]> = [
  [
    'lora',
    () => ({
      r: 2,
      lora_alpha: 6,
      target_modules: 'all-linear',
      init_lora_weights: 'false',
      lora_dropout: 0.25,
    }),
  ],
  ['full', () => ({})],
  ['ia3', (c) => getMethod('ia3').testOptions(c, true)],
  ['prefix', (c) => getMethod('prefix').testOptions(c, true)],
  // DoRA with dropout (its hook counts dropout streams per call: the recompute must replay the forward's),
  // LoKr, a bottleneck adapter.
  ['dora', (c) => ({ ...getMethod('dora').testOptions(c, true), lora_dropout: 0.25 })],
  ['lokr', (c) => getMethod('lokr').testOptions(c, true)],
  ['houlsby', (c) => getMethod('houlsby').testOptions(c, true)],
  // The reparametrisation MLP: one table shared by every block, rebuilt on each checkpoint's tape.
  ['prefix', () => ({ num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 8 })],
];

describe('memory that scales: same loss and gradients as the old path (CPU twin)', () => {
  for (const c of [TINY_LLAMA, TINY_GPT2]) {
    for (const [method, raw] of METHODS) {
      for (const pack of [false, true]) {
        const mlp = 'prefix_projection' in raw(c) ? ' (MLP)' : '';
        it(`${method}${mlp} on ${c.modelType}${pack ? ', packed rows' : ''}: freeing, chunked head, checkpointing`, async () => {
          const want = await step(c, method, raw(c), { free: false, wholeHead: true, pack });
          // Freeing alone, on the old head: the tape's bookkeeping by itself.
          same(await step(c, method, raw(c), { free: true, wholeHead: true, pack }), want);
          // The chunked head: one chunk, 5 rows (not dividing B·T = 14 nor B·T' with virtual tokens), 1 row.
          for (const chunk of [undefined, 5, 1])
            same(await step(c, method, raw(c), { free: true, chunk, pack }), want);
          // Checkpointing, with and without freeing.
          same(await step(c, method, raw(c), { free: true, checkpointing: true, chunk: 3, pack }), want);
          same(await step(c, method, raw(c), { free: false, checkpointing: true, pack }), want);
        });
      }
    }
  }
});

describe('checkpointing and freeing with every registered method (CPU twin)', () => {
  for (const c of [TINY_LLAMA, TINY_GPT2]) {
    for (const name of listMethods().map((m) => m.info.name)) {
      it(`${name} on ${c.modelType}`, async () => {
        const raw = getMethod(name).testOptions(c, true);
        const want = await step(c, name, raw, { free: false, wholeHead: true, pack: true });
        same(await step(c, name, raw, { free: true, checkpointing: true, chunk: 5, pack: true }), want);
      });
    }
  }
});

describe('memory that scales on the GPU', () => {
  for (const c of [TINY_LLAMA, TINY_GPT2]) {
    for (const [method, raw] of METHODS.slice(0, 2)) {
      it(`${method} on ${c.modelType}: a freeing, chunked, checkpointed packed step equals the twin`, async () => {
        const want = await step(c, method, raw(c), { free: false, wholeHead: true, pack: true });
        const be = gpuBackend(await testGpu()) as Backend<unknown, unknown>;
        const got = await step(c, method, raw(c), {
          be,
          free: true,
          checkpointing: true,
          chunk: 5,
          pack: true,
        });
        expectClose([got.loss], [want.loss], 1e-5, 1e-6, 'loss');
        for (const [name, g] of want.grads) expectClose(got.grads.get(name)!, g, 2e-3, 2e-5, `grad ${name}`);
      });
    }
  }
});
