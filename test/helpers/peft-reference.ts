// Runs one method's linear hook on a recorded PyTorch case (test/fixtures/peft/*.json, written by
// scripts/peft-reference/dora_lokr_ia3.py): the base weight, bias and adapter tensors from the file, the
// file's input x and upstream gradient g; returns y, the gradients of Σ y·g and the merged weights, for the
// method tests to compare with PyTorch's values. Works on either backend.
import { readFileSync } from 'node:fs';
import type { ModelConfig } from '../../src/formats/model-config';
import { linearSites } from '../../src/model/sites';
import { TINY_GPT2, TINY_LLAMA } from '../../src/model/testing';
import { getMethod } from '../../src/peft/registry';
import type { RawOptions } from '../../src/peft/types';
import type { Backend } from '../../src/tensor/backend';
import * as op from '../../src/tensor/ops';
import { ParamSet, type ParamSpec } from '../../src/tensor/params';
import { Tape } from '../../src/tensor/tape';

export interface Listed {
  shape: number[];
  data: number[];
}

export interface ReferenceCase {
  family: 'gpt2' | 'llama';
  path: string;
  in: number;
  out: number;
  weight: Listed;
  bias?: Listed;
  options: RawOptions;
  tensors: Record<string, Listed>;
  x: Listed;
  g: Listed;
  y: Listed;
  grads: Record<string, number[]>;
  merged: { weight: number[]; bias?: number[] };
  [extra: string]: unknown;
}

export function loadReference(name: string): ReferenceCase[] {
  const url = new URL(`../fixtures/peft/${name}.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { cases: ReferenceCase[] }).cases;
}

export const configOf = (k: ReferenceCase): ModelConfig => (k.family === 'gpt2' ? TINY_GPT2 : TINY_LLAMA);

export interface CaseResult {
  y: Float64Array;
  grads: Map<string, Float64Array>;
  merged: { weight: Float64Array; bias: Float64Array | null };
  unmerged: { weight: Float64Array; bias: Float64Array | null };
}

export async function runReference<S, I>(
  be: Backend<S, I>,
  methodName: string,
  k: ReferenceCase,
): Promise<CaseResult> {
  const c = configOf(k);
  const method = getMethod(methodName);
  const o = method.parse(k.options, c);
  const site = linearSites(c).find((s) => s.path === k.path);
  if (!site) throw new Error(`no site ${k.path}`);
  const wName = `${k.path}.weight`;
  const bName = `${k.path}.bias`;
  const specs: ParamSpec[] = [{ name: wName, shape: k.weight.shape, trainable: false, data: k.weight.data }];
  if (k.bias) specs.push({ name: bName, shape: k.bias.shape, trainable: false, data: k.bias.data });
  for (const [name, t] of Object.entries(k.tensors))
    specs.push({ name, shape: t.shape, trainable: true, data: t.data });
  const ps = new ParamSet(be, specs);
  const hooks = method.hooks(o, c, ps, { enabled: true, merged: false }, new Map());
  const tp = new Tape(be, true);
  const x = tp.tensor(k.x.shape, true, 'x');
  be.write(x.store, k.x.data);
  const base = (xx: typeof x) =>
    op.linear(tp, xx, ps.get(wName), k.bias ? ps.get(bName) : null, site.layout, site.path);
  const y = hooks.linear!(tp, site, x, base);
  const g = be.upload(k.g.data, 'activations', 'g');
  tp.seedGrad(y, g);
  // y and x are read after backward, which frees what it has consumed.
  tp.keep(y);
  tp.keep(x);
  tp.backward();
  const grads = new Map<string, Float64Array>();
  grads.set('x', await be.read(tp.gradOf(x)!, x.size));
  for (const name of Object.keys(k.tensors)) grads.set(name, await ps.readGrad(name));
  const yv = await be.read(y.store, y.size);
  tp.dispose();
  be.free(g);
  const read = async () => ({
    weight: await ps.read(wName),
    bias: k.bias ? await ps.read(bName) : null,
  });
  method.merge!(o, c, ps, 1, new Map());
  const merged = await read();
  method.merge!(o, c, ps, -1, new Map());
  const unmerged = await read();
  ps.dispose();
  return { y: yv, grads, merged, unmerged };
}
