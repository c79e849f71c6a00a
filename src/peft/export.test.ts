// A merged checkpoint is a plain model: exported for every mergeable method on both families, read back
// through the normal checkpoint path (config.json parsed, shapes validated), it gives the logits of the
// unmerged adapter. The config.json writer round-trips through the parser.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import { parseModelConfig } from '../formats/model-config';
import { toConfigJson } from '../formats/model-config-json';
import { bytesSource, SafetensorsFile } from '../formats/safetensors';
import type { GpuRegion } from '../gpu/arena';
import { randomModelParams } from '../model/init';
import { loadCheckpointSpecs } from '../model/load';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { forward } from '../model/transformer';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
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

describe('merged checkpoints', () => {
  const mergeable = listMethods().filter((m) => m.info.mergeable && m.info.name !== 'full');
  for (const c of [TINY_GPT2, LLAMA]) {
    for (const m of mergeable) {
      it(`${m.info.name} on ${c.modelType}: the exported model gives the adapter's logits`, async () => {
        const ctx = await testGpu();
        const be = gpuBackend(ctx);
        const plan = planAdapter(
          m,
          m.testOptions(c, true),
          c,
          randomModelParams(c, 4, () => false, 0.2, true),
          2,
        );
        const ps = new ParamSet(be, plan.specs);
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
        expectClose(await logitsOf(plain, config, {}), expected, 1e-4, 1e-5, 'merged logits');
        plain.dispose();
        adapter.dispose();
        ps.dispose();
      });
    }
  }
});
