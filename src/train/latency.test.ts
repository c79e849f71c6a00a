// Latency measurement leaves the adapter as it found it and reports a merged figure only for mergeable
// methods (the figures themselves are benchmarks, not asserted).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet } from '../tensor/params';
import { measureInferenceLatency } from './latency';

describe('inference latency', () => {
  it('measures base, unmerged and merged, and restores the adapter state and weights', async () => {
    const ctx = await testGpu();
    const c = TINY_LLAMA;
    const m = getMethod('lora');
    const plan = planAdapter(m, m.testOptions(c, true), c, randomModelParams(c, 1), 1);
    const ps = new ParamSet(gpuBackend(ctx), plan.specs);
    const adapter = new Adapter(m, plan, c, ps);
    const w = 'model.layers.0.self_attn.q_proj.weight';
    const before = await ps.read(w);
    const r = await measureInferenceLatency(ctx, c, ps, adapter, { B: 1, T: 8 }, 2);
    for (const v of [r.baseMs, r.unmergedMs, r.mergedMs ?? -1]) expect(v).toBeGreaterThan(0);
    expect(adapter.state).toMatchObject({ enabled: true, merged: false });
    const after = await ps.read(w);
    let worst = 0;
    for (let i = 0; i < after.length; i++) worst = Math.max(worst, Math.abs(after[i] - before[i]));
    expect(worst).toBeLessThan(1e-6);
    adapter.dispose();
    ps.dispose();
  });
});
