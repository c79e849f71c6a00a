// Checks a bottleneck adapter (houlsby / pfeiffer / compacter) against the PyTorch reference recorded by
// scripts/peft-reference/adapters_sparse.py (test/fixtures/peft/bottleneck.json): the fixture's tensors are
// written into a planned adapter at transformer.h.0.mlp, the adapter runs on the GPU tape, and its output
// and the gradients of sum(out·g) (every adapter tensor and the input) must match.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { randomModelParams } from '../../src/model/init';
import { TINY_GPT2 } from '../../src/model/testing';
import { planAdapter } from '../../src/peft/adapter';
import { bottleneckForward, PHM_RULE_KEY } from '../../src/peft/methods/bottleneck';
import { getMethod } from '../../src/peft/registry';
import type { RawOptions } from '../../src/peft/types';
import { gpuBackend } from '../../src/tensor/gpu-backend';
import { ParamSet } from '../../src/tensor/params';
import { Tape } from '../../src/tensor/tape';
import { testGpu } from './gpu';
import { expectClose } from './numeric';

interface Listed {
  shape: number[];
  data: number[];
}
interface Case {
  method: string;
  non_linearity: string;
  d: number;
  m: number;
  h: Listed;
  g: Listed;
  tensors: Record<string, Listed>;
  out: Listed;
  grads: Record<string, Listed>;
}

const FIXTURE = new URL('../fixtures/peft/bottleneck.json', import.meta.url);

export async function checkBottleneckReference(name: 'houlsby' | 'pfeiffer' | 'compacter'): Promise<void> {
  const { cases } = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] };
  const k = cases.find((x) => x.method === name);
  if (!k) throw new Error(`bottleneck.json has no ${name} case`);
  const c = TINY_GPT2;
  expect(c.hiddenSize).toBe(k.d);
  const method = getMethod(name);
  const raw: RawOptions = {
    reduction_factor: k.d / k.m,
    non_linearity: k.non_linearity,
    sites: 'mlp',
  };
  const plan = planAdapter(method, raw, c, randomModelParams(c, 1), 0);
  const ctx = await testGpu();
  const be = gpuBackend(ctx);
  const ps = new ParamSet(be, plan.specs);
  const path = 'transformer.h.0.mlp';
  const keyOf = (suffix: string) =>
    suffix === 'phm_rule' ? PHM_RULE_KEY : `base_model.model.${path}.${suffix}`;
  for (const [suffix, t] of Object.entries(k.tensors)) {
    expect(ps.get(keyOf(suffix)).shape, suffix).toEqual(t.shape);
    ps.write(keyOf(suffix), t.data);
  }
  ps.zeroGrads();
  const tp = new Tape(be, true);
  const h = tp.tensor(k.h.shape, true, 'h');
  be.write(h.store, k.h.data);
  const out = bottleneckForward(tp, plan.options as Parameters<typeof bottleneckForward>[1], ps, path, h);
  expectClose(await be.read(out.store, out.size), k.out.data, 1e-4, 1e-5, `${name} output`);
  const g = be.upload(k.g.data, 'workspace', 'g');
  tp.seedGrad(out, g);
  tp.backward();
  for (const [suffix, want] of Object.entries(k.grads)) {
    const got = suffix === 'h' ? await be.read(tp.gradOf(h)!, h.size) : await ps.readGrad(keyOf(suffix));
    expectClose(got, want.data, 2e-4, 2e-5, `${name} grad ${suffix}`);
  }
  tp.dispose();
  be.free(g);
  ps.dispose();
}
