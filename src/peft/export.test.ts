// A merged checkpoint is a plain model: exported for every mergeable method on both families, read back
// through the normal checkpoint path (config.json parsed, shapes validated), it gives the logits of the
// unmerged adapter — on an f32 base and on an nf4 one (the merge folds ΔW into f32 copies of the dequantized
// weights it touches; the run's packed base is left as it was). The config.json writer round-trips through
// the parser.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import { parseModelConfig } from '../formats/model-config';
import { toConfigJson } from '../formats/model-config-json';
import { bytesSource, SafetensorsFile } from '../formats/safetensors';
import type { GpuRegion } from '../gpu/arena';
import { randomModelParams } from '../model/init';
import { loadCheckpointSpecs } from '../model/load';
import { linearSites } from '../model/sites';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { forward } from '../model/transformer';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { bf16Bits, bf16Value } from '../util/quant';
import { Adapter, planAdapter } from './adapter';
import { exportMergedModel } from './export';
import { listMethods } from './registry';

const LLAMA = parseModelConfig({
  ...toConfigJson(TINY_LLAMA),
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
});

describe('config.json writer', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA, LLAMA]) {
    it(`${c.modelType}: parse(toConfigJson(c)) = c`, () => {
      expect({ ...parseModelConfig(toConfigJson(c)), torchDtype: c.torchDtype }).toEqual(c);
    });
  }
});

/** Frozen matrices held in nf4 (the layouts their channels follow), as a quantized base loads them. */
function nf4Base(c: typeof TINY_GPT2, specs: readonly ParamSpec[]): ParamSpec[] {
  const layouts = new Map(linearSites(c).map((s) => [`${s.path}.weight`, s.layout]));
  return specs.map((s) =>
    s.shape.length === 2 && !s.trainable
      ? { ...s, dtype: 'nf4', layout: layouts.get(s.name) ?? 'out_in' }
      : s,
  );
}

describe('merged checkpoints', () => {
  const mergeable = listMethods().filter((m) => m.info.mergeable && m.info.name !== 'full');
  for (const c of [TINY_GPT2, LLAMA])
    for (const base of ['f32', 'nf4'] as const) {
      for (const m of mergeable) {
        it(`${m.info.name} on ${c.modelType}, ${base} base: the exported model gives the adapter's logits`, async () => {
          const ctx = await testGpu();
          const be = gpuBackend(ctx);
          const plan = planAdapter(
            m,
            m.testOptions(c, true),
            c,
            randomModelParams(c, 4, () => false, 0.2, true),
            2,
          );
          if (base === 'nf4') plan.specs = nf4Base(c, plan.specs);
          const ps = new ParamSet(be, plan.specs);
          const packed =
            base === 'nf4' ? await ps.read(plan.specs.find((s) => s.dtype === 'nf4')!.name) : null;
          const adapter = new Adapter(m, plan, c, ps);
          const ids = Int32Array.from({ length: 10 }, (_, i) => (i * 5 + 1) % c.vocabSize);
          const logitsOf = async (p: ParamSet<GpuRegion, GpuRegion>, cfg = c, hooks = adapter.hooks) => {
            const tp = new Tape(be, false);
            const { logits } = forward(tp, cfg, p, { ids, B: 2, T: 5 }, hooks);
            const out = await be.read(logits.store, logits.size);
            tp.dispose();
            return out;
          };
          const expected = await logitsOf(ps);
          const merged = await exportMergedModel(adapter);
          expect(adapter.state.merged).toBe(false);
          const config = parseModelConfig(merged.configJson);
          const reader = await SafetensorsFile.open(bytesSource(merged.weights, 'model.safetensors'));
          const plain = new ParamSet(be, await loadCheckpointSpecs(config, reader));
          if (base === 'nf4') {
            // Written 16-bit, as QLoRA's merges are: every tensor BF16, and the config says so.
            expect(new Set(reader.keys().map((k) => reader.info(k).dtype))).toEqual(new Set(['BF16']));
            expect(JSON.parse(merged.configJson).torch_dtype).toBe('bfloat16');
            // Each value is the f32 merge (dequantized base + ΔW, which gives the adapter's logits) rounded
            // to bf16 once, to nearest even.
            const wide = await exportMergedModel(adapter, { f32: true });
            const wideReader = await SafetensorsFile.open(bytesSource(wide.weights, 'model.safetensors'));
            const widePs = new ParamSet(be, await loadCheckpointSpecs(config, wideReader));
            expectClose(await logitsOf(widePs, config, {}), expected, 1e-4, 1e-5, 'merged logits (f32)');
            widePs.dispose();
            for (const k of reader.keys()) {
              const want = Array.from(await wideReader.readF32(k), (v) => bf16Value(bf16Bits(v)));
              expect(Array.from(await reader.readF32(k)), k).toEqual(want);
            }
          } else {
            expectClose(await logitsOf(plain, config, {}), expected, 1e-4, 1e-5, 'merged logits');
          }
          if (packed) {
            // The run's own base is untouched, and still nf4.
            const first = plan.specs.find((s) => s.dtype === 'nf4')!.name;
            expect(Array.from(await ps.read(first))).toEqual(Array.from(packed));
            expect(ps.get(first).format?.dtype).toBe('nf4');
          }
          plain.dispose();
          adapter.dispose();
          ps.dispose();
        });
      }
    }
});
