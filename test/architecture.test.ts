// The architecture table (src/formats/architecture.ts) against real Hugging Face checkpoints: the tiny
// fixtures written by transformers (GPT-2 without the `transformer.` prefix, Llama in two shards, Qwen2
// with q/k/v biases and a tied head) and the built-in model. The table's names and shapes are exactly
// the checkpoint's; every linear site's weight is stored in the layout the table says, with a bias where
// it says; the model reads exactly those tensors; the ONNX export and the merged checkpoint carry them
// under the same names. A table that renamed or reshaped any tensor would be caught: validation of the
// real checkpoint with any one tensor missing, renamed or reshaped fails naming it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportOnnx, weightsFromSpecs } from '../src/export/onnx/export';
import { inspectOnnx } from '../src/export/onnx/inspect';
import { canonicalKey, modelLinears, modelTensors } from '../src/formats/architecture';
import {
  countParameters,
  expectedTensorShapes,
  type ModelConfig,
  parseModelConfig,
  readerShapes,
  validateCheckpointShapes,
} from '../src/formats/model-config';
import { toConfigJson } from '../src/formats/model-config-json';
import type { TensorReader } from '../src/formats/safetensors';
import { loadCheckpointSpecs } from '../src/model/load';
import { dirModelSource } from '../src/model/sources/node-dir';
import { forward } from '../src/model/transformer';
import { mergedWeights } from '../src/peft/export';
import { cpuBackend } from '../src/tensor/cpu-backend';
import { ParamSet } from '../src/tensor/params';
import { Tape } from '../src/tensor/tape';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'models');
const CHECKPOINTS = {
  'gpt2-tiny': join(FIXTURES, 'gpt2-tiny'),
  'llama-tiny': join(FIXTURES, 'llama-tiny'),
  'qwen2-tiny': join(FIXTURES, 'qwen2-tiny'),
  builtin: join(import.meta.dirname, '..', 'public', 'models', 'tiny-llama-brown'),
};

async function open(dir: string): Promise<{ config: ModelConfig; reader: TensorReader }> {
  const m = await dirModelSource(dir).open();
  return { config: m.config, reader: m.reader };
}

/** The checkpoint's weights by canonical key, its non-weight extras (buffers) left out. */
function checkpointShapes(config: ModelConfig, reader: TensorReader): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const key of reader.keys()) {
    if (/\.attn\.(bias|masked_bias)$/.test(key) || /rotary_emb\.inv_freq$/.test(key)) continue;
    out.set(canonicalKey(config, key), reader.info(key).shape);
  }
  return out;
}

describe('the architecture table against real checkpoints', () => {
  for (const [name, dir] of Object.entries(CHECKPOINTS)) {
    describe(name, () => {
      it('names and shapes every tensor of the checkpoint, and nothing else', async () => {
        const { config, reader } = await open(dir);
        const table = expectedTensorShapes(config);
        const real = checkpointShapes(config, reader);
        expect(new Map([...table].map(([k, s]) => [k, [...s]]))).toEqual(
          new Map([...real].map(([k, s]) => [k, [...s]])),
        );
        let n = 0;
        for (const s of real.values()) n += s.reduce((a, b) => a * b, 1);
        expect(countParameters(config)).toBe(n);
      });

      it("stores each linear in the site's layout, with a bias where the table has one", async () => {
        const { config, reader } = await open(dir);
        const real = checkpointShapes(config, reader);
        const linears = modelLinears(config);
        expect(linears.length).toBe(config.numLayers * (config.family === 'gpt2' ? 4 : 7));
        for (const { site, bias } of linears) {
          const w = real.get(`${site.path}.weight`);
          // Conv1D (GPT-2) is [in, out]; nn.Linear is [out, in].
          expect(w, site.path).toEqual(
            config.family === 'gpt2'
              ? [site.inFeatures, site.outFeatures]
              : [site.outFeatures, site.inFeatures],
          );
          expect(site.layout).toBe(config.family === 'gpt2' ? 'in_out' : 'out_in');
          expect(real.get(`${site.path}.bias`), `${site.path}.bias`).toEqual(
            bias ? [site.outFeatures] : undefined,
          );
        }
        const t = modelTensors(config);
        expect(t.tied).toBe(!real.has('lm_head.weight'));
        expect(real.get(t.head)).toEqual([config.vocabSize, config.hiddenSize]);
      });

      it('the model reads exactly the checkpoint tensors; ONNX and the merged checkpoint carry them by name', async () => {
        const { config, reader } = await open(dir);
        const real = checkpointShapes(config, reader);
        const specs = await loadCheckpointSpecs(config, reader);
        const be = cpuBackend();
        const ps = new ParamSet(be, specs);
        const read = new Set<string>();
        const get = ps.get.bind(ps);
        ps.get = (n: string) => {
          read.add(n);
          return get(n);
        };
        forward(new Tape(be, false), config, ps, { ids: Int32Array.from([1, 2, 3]), B: 1, T: 3 });
        expect([...read].sort()).toEqual([...real.keys()].sort());

        const merged = await mergedWeights(config, ps);
        expect(new Map([...merged].map(([k, v]) => [k, v.shape]))).toEqual(
          new Map([...real].map(([k, s]) => [k, [...s]])),
        );

        const inits = new Map(
          inspectOnnx(exportOnnx(config, weightsFromSpecs(specs))).initializers.map((i) => [i.name, i.dims]),
        );
        for (const [key, shape] of real) {
          // Stored as is, or an [out, in] matrix pre-transposed under `<name>_t`.
          const dims = inits.get(key) ?? [...(inits.get(`${key}_t`) ?? [])].reverse();
          expect(dims, key).toEqual([...shape]);
        }
      });

      it('validation names any one tensor missing, renamed or reshaped', async () => {
        const { config, reader } = await open(dir);
        const shapes = readerShapes(reader);
        expect(() => validateCheckpointShapes(config, shapes)).not.toThrow();
        for (const key of reader.keys()) {
          const canon = canonicalKey(config, key);
          if (!expectedTensorShapes(config).has(canon)) continue;
          const missing = new Map(shapes);
          missing.delete(key);
          expect(() => validateCheckpointShapes(config, missing), key).toThrow(`"${canon}"`);
          const renamed = new Map(shapes);
          renamed.delete(key);
          renamed.set(`${key}_renamed`, shapes.get(key)!);
          expect(() => validateCheckpointShapes(config, renamed), key).toThrow(`"${canon}"`);
          const reshaped = new Map(shapes);
          const s = shapes.get(key)!;
          reshaped.set(key, [...s.slice(0, -1), s[s.length - 1] + 1]);
          expect(() => validateCheckpointShapes(config, reshaped), key).toThrow(
            `tensor "${key}" has shape [${reshaped.get(key)}]`,
          );
        }
      });
    });
  }

  it('config flags that disagree with a checkpoint are caught: biases, tying', async () => {
    const llama = await open(CHECKPOINTS['llama-tiny']);
    const biased = parseModelConfig({ ...toConfigJson(llama.config), attention_bias: true });
    expect(() => validateCheckpointShapes(biased, readerShapes(llama.reader))).toThrow(
      '"model.layers.0.self_attn.q_proj.bias"',
    );
    const qwen = await open(CHECKPOINTS['qwen2-tiny']);
    const untied = parseModelConfig({ ...toConfigJson(qwen.config), tie_word_embeddings: false });
    expect(() => validateCheckpointShapes(untied, readerShapes(qwen.reader))).toThrow('"lm_head.weight"');
    // Qwen2's q/k/v biases come from the model type, not a flag: the real checkpoint has them.
    expect(readerShapes(qwen.reader).get('model.layers.1.self_attn.k_proj.bias')).toEqual([
      qwen.config.numKvHeads * qwen.config.headDim,
    ]);
  });
});
