// Frozen paths cost nothing: no gradient or optimizer memory for frozen tensors, no backward nodes below the
// lowest trainable layer, and frozen weights unchanged by a step.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { AdamW } from '../train/optimizer';
import { randomModelParams } from './init';
import { shiftLabels } from './loss';
import { TINY_LLAMA } from './testing';
import { forward } from './transformer';

describe('frozen paths', () => {
  it('allocate no gradients, record no nodes below the top layer, and stay unchanged', async () => {
    const ctx = await testGpu();
    const be = gpuBackend(ctx);
    const c = TINY_LLAMA;
    const top = (n: string) => n.startsWith('model.layers.1.');
    const before = ctx.arena.stats().current;
    const ps = new ParamSet(be, randomModelParams(c, 3, top));
    const after = ctx.arena.stats().current;
    const padded = ps.trainable().reduce((a, t) => a + Math.ceil(t.size / 64) * 64, 0);
    expect(after.gradients - before.gradients).toBe(padded * 4);
    expect(after.trainable - before.trainable).toBe(padded * 4);
    expect(ps.trainableCount).toBe(ps.trainable().reduce((a, t) => a + t.size, 0));
    const frozenBytes = [...ps.tensors.values()]
      .filter((t) => !t.requiresGrad)
      .reduce((a, t) => a + Math.max(16, Math.ceil((t.size * 4) / 16) * 16), 0);
    expect(after.frozen - before.frozen).toBe(frozenBytes);

    const opt = new AdamW(ps, {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      maxGradNorm: 0,
    });
    const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 7) % c.vocabSize);
    const run = (trainableTop: boolean) => {
      const tp = new Tape(be, trainableTop);
      ps.zeroGrads();
      const { logits } = forward(tp, c, ps, { ids, B: 2, T: 6 });
      op.crossEntropy(tp, tp.reshape(logits, [12, c.vocabSize]), shiftLabels(ids, 2, 6), 'loss');
      return tp;
    };
    const tp = run(true);
    // Nodes exist only for layer 1 and above (and the head): nothing named after layer 0.
    const frozenW = await ps.read('model.layers.0.mlp.up_proj.weight');
    const topW = await ps.read('model.layers.1.mlp.up_proj.weight');
    tp.backward();
    opt.update();
    expect(Array.from(await ps.read('model.layers.0.mlp.up_proj.weight'))).toEqual(Array.from(frozenW));
    expect(Array.from(await ps.read('model.layers.1.mlp.up_proj.weight'))).not.toEqual(Array.from(topW));
    const recordedTop = tp.recorded;
    expect(tp.recordedNames().filter((n) => n.includes('layers.0.') || n === 'embed')).toEqual([]);
    expect(tp.recordedNames().some((n) => n.includes('layers.1.'))).toBe(true);
    tp.dispose();
    // The same model with every layer trainable records strictly more backward nodes.
    const all = new ParamSet(
      be,
      randomModelParams(c, 3, () => true),
    );
    const tpAll = new Tape(be, true);
    const { logits } = forward(tpAll, c, all, { ids, B: 2, T: 6 });
    op.crossEntropy(tpAll, tpAll.reshape(logits, [12, c.vocabSize]), shiftLabels(ids, 2, 6), 'loss');
    expect(recordedTop).toBeLessThan(tpAll.recorded);
    tpAll.dispose();
    all.dispose();
    opt.dispose();
    ps.dispose();
  });
});
