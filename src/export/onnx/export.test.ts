// ONNX export checks in Node: the bytes parse back to the graph we meant (versions, inputs/outputs,
// initializers equal the weights, only standard ops), and onnxruntime-web (its Node build, wasm backend,
// one thread) computes the same logits as our engine: the float64 CPU twin and the GPU (Dawn) forward,
// within 1e-4 relative, for tiny random GPT-2, Qwen2 (GQA, q/k/v biases, untied head) and Llama (tied
// head, attention and MLP biases) models, with and without a position_ids input. Bad weights are refused
// with the key named.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { expectedTensorShapes, type ModelConfig, parseModelConfig } from '../../formats/model-config';
import { fileSource } from '../../formats/node-source';
import { SafetensorsFile } from '../../formats/safetensors';
import { randomModelParams } from '../../model/init';
import { loadCheckpointSpecs } from '../../model/load';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { forward } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../../tensor/params';
import { Tape } from '../../tensor/tape';
import { rng } from '../../util/rng';
import { exportOnnx, weightsFromParamSet, weightsFromSpecs } from './export';
import { inspectOnnx } from './inspect';
import { createOnnxSession, runOnnxLogits } from './ort-run';
import { DataType, readFields, varint } from './proto';

ort.env.wasm.numThreads = 1;

/** Llama proper: tied head, o_proj and MLP biases, no GQA grouping beyond 2. */
const TINY_LLAMA_TIED: ModelConfig = parseModelConfig({
  model_type: 'llama',
  vocab_size: 29,
  hidden_size: 24,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 6,
  num_key_value_heads: 3,
  head_dim: 6,
  max_position_embeddings: 24,
  rms_norm_eps: 1e-5,
  rope_theta: 500,
  tie_word_embeddings: true,
  attention_bias: true,
  mlp_bias: true,
});

const CONFIGS = [TINY_GPT2, TINY_LLAMA, TINY_LLAMA_TIED];

/** The standard ops the exporter may emit (all in the default domain at opset 17). */
const ALLOWED_OPS = new Set(
  'Gather Shape Range Unsqueeze LessOrEqual Where MatMul Add Mul Div Sqrt ReduceMean Tanh Sigmoid Neg Softmax Transpose Reshape Split Concat LayerNormalization'.split(
    ' ',
  ),
);

function ids(c: ModelConfig, n: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * c.vocabSize));
}

async function engineLogits<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  specs: ParamSpec[],
  input: { ids: Int32Array; B: number; T: number; positions?: Int32Array },
): Promise<Float64Array> {
  const ps = new ParamSet(be, specs);
  const tp = new Tape(be, false);
  const { logits } = forward(tp, c, ps, input);
  const out = await be.read(logits.store, logits.size);
  tp.dispose();
  ps.dispose();
  return out;
}

describe('protobuf encoding', () => {
  it('writes varints as protobuf does, negative int64 in ten bytes', () => {
    expect(Array.from(varint(0))).toEqual([0]);
    expect(Array.from(varint(300))).toEqual([0xac, 0x02]);
    expect(Array.from(varint(-1))).toEqual([255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
    expect(readFields(Uint8Array.from([0x08, ...varint(-1)]))[0].int).toBe(2n ** 64n - 1n);
  });

  it('refuses truncated input with the offset', () => {
    expect(() => readFields(Uint8Array.from([0x0a, 0x05, 1, 2]))).toThrow(
      /field 1 runs past the end at byte 2/,
    );
  });
});

describe('exported graph structure', () => {
  for (const c of CONFIGS) {
    it(`${c.modelType}${c.tieWordEmbeddings ? ' (tied)' : ''}: parses back with the weights and standard ops`, () => {
      const specs = randomModelParams(c, 3, () => false, 0.2, true);
      const bytes = exportOnnx(c, weightsFromSpecs(specs), { positionIds: true });
      const s = inspectOnnx(bytes);
      expect(s.irVersion).toBe(8);
      expect(s.opset).toBe(17);
      expect(s.producer).toBe('peft-playground');
      expect(s.inputs).toEqual([
        { name: 'input_ids', elemType: DataType.INT64, shape: ['batch', 'sequence'] },
        { name: 'position_ids', elemType: DataType.INT64, shape: ['batch', 'sequence'] },
      ]);
      expect(s.outputs).toEqual([
        { name: 'logits', elemType: DataType.FLOAT, shape: ['batch', 'sequence', c.vocabSize] },
      ]);
      for (const op of Object.keys(s.opCounts)) expect(ALLOWED_OPS.has(op), op).toBe(true);
      expect(s.opCounts.Softmax).toBe(c.numLayers);
      // Every value a node reads is produced earlier, an initializer, or a graph input (topological order).
      const known = new Set([...s.inputs.map((i) => i.name), ...s.initializers.map((t) => t.name)]);
      for (const n of s.nodes) {
        for (const i of n.inputs) expect(known.has(i), `${n.name} reads ${i}`).toBe(true);
        for (const o of n.outputs) known.add(o);
      }
      expect(known.has('logits')).toBe(true);
      // Initializers hold the weights bit for bit (GPT-2 in the stored layout; Llama linears transposed).
      const byName = new Map(s.initializers.map((t) => [t.name, t]));
      const f32 = (raw: Uint8Array) => new Float32Array(raw.slice().buffer);
      for (const spec of specs) {
        const stored = byName.get(spec.name);
        if (stored) {
          expect(stored.dims, spec.name).toEqual(spec.shape);
          expect(stored.dataType).toBe(DataType.FLOAT);
          expect(Array.from(f32(stored.raw)), spec.name).toEqual(Array.from(Float32Array.from(spec.data)));
          continue;
        }
        const t = byName.get(`${spec.name.replace(/\.weight$/, '')}.weight_t`);
        expect(t, `${spec.name} missing from the initializers`).toBeDefined();
        const [out, inn] = spec.shape;
        expect(t!.dims).toEqual([inn, out]);
        const got = f32(t!.raw);
        for (const [o, i] of [
          [0, 0],
          [out - 1, 0],
          [0, inn - 1],
          [out - 1, inn - 1],
        ])
          expect(got[i * out + o]).toBe(Math.fround(spec.data[o * inn + i]));
      }
      // Weight bytes: the parameters once (tied head shared), plus the RoPE tables for Llama.
      const params = [...expectedTensorShapes(c).values()].reduce(
        (a, sh) => a + sh.reduce((x, y) => x * y, 1),
        0,
      );
      const rope = c.family === 'llama' ? 2 * c.maxPositions * c.headDim : 0;
      expect(s.weightBytes).toBeGreaterThanOrEqual(4 * (params + rope));
      expect(s.weightBytes).toBeLessThan(4 * (params + rope) + 2048);
    });
  }
});

describe('onnxruntime-web (Node, wasm) against the engine', () => {
  for (const c of CONFIGS) {
    it(`${c.modelType}${c.tieWordEmbeddings ? ' (tied)' : ''}: logits equal the CPU twin's`, async () => {
      const specs = randomModelParams(c, 11, () => false, 0.2, true);
      const B = 2;
      const T = 7;
      const input = { ids: ids(c, B * T, 4), B, T };
      const session = await createOnnxSession(ort, exportOnnx(c, weightsFromSpecs(specs)));
      const got = await runOnnxLogits(ort, session, input);
      await session.release();
      const want = await engineLogits(cpuBackend(), c, specs, input);
      expect(got.length).toBe(B * T * c.vocabSize);
      expectClose(got, want, 1e-4, 1e-5, `${c.modelType} logits`);

      // position_ids: packed-style positions restarting mid-sequence, and offsets.
      const positions = Int32Array.from([0, 1, 2, 0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]);
      const withPos = await createOnnxSession(
        ort,
        exportOnnx(c, weightsFromSpecs(specs), { positionIds: true }),
      );
      const gotPos = await runOnnxLogits(ort, withPos, { ...input, positions });
      await withPos.release();
      const wantPos = await engineLogits(cpuBackend(), c, specs, { ...input, positions });
      expectClose(gotPos, wantPos, 1e-4, 1e-5, `${c.modelType} logits with position_ids`);
    });
  }

  it('GPU (Dawn) forward and ONNX agree, exporting from the GPU ParamSet itself', async () => {
    const ctx = await testGpu();
    for (const c of [TINY_GPT2, TINY_LLAMA]) {
      const specs = randomModelParams(c, 17, (n) => n.includes('layers.1') || n.includes('h.1'), 0.2, true);
      const ps = new ParamSet(gpuBackend(ctx), specs);
      const input = { ids: ids(c, 3 * 5, 8), B: 3, T: 5 };
      const tp = new Tape(gpuBackend(ctx), false);
      const { logits } = forward(tp, c, ps, input);
      const want = await ctx.readF32(logits.store, logits.size);
      tp.dispose();
      // Trainable tensors live in the flat buffer and frozen ones apart: both must read back.
      const bytes = exportOnnx(c, await weightsFromParamSet(ps));
      ps.dispose();
      const session = await createOnnxSession(ort, bytes);
      const got = await runOnnxLogits(ort, session, input);
      await session.release();
      expectClose(got, want, 1e-4, 1e-5, `${c.modelType} GPU vs ONNX logits`);
    }
  });
});

describe('the built-in model exported to ONNX', () => {
  it("reproduces PyTorch's recorded logits (scripts/pretrain/export.py, float64)", async () => {
    const dir = 'public/models/tiny-llama-brown';
    const ref = JSON.parse(readFileSync('test/fixtures/builtin-model-reference.json', 'utf8')) as {
      input_ids: number[];
      logits_rows: number[];
      logits: number[][];
      logsumexp: number[];
    };
    const config = parseModelConfig(readFileSync(`${dir}/config.json`, 'utf8'), `${dir}/config.json`);
    const reader = await SafetensorsFile.open(await fileSource(`${dir}/model.safetensors`));
    const bytes = exportOnnx(config, weightsFromSpecs(await loadCheckpointSpecs(config, reader)));
    const session = await createOnnxSession(ort, bytes);
    const T = ref.input_ids.length;
    const got = await runOnnxLogits(ort, session, { ids: ref.input_ids, B: 1, T });
    await session.release();
    const V = config.vocabSize;
    ref.logits_rows.forEach((row, k) => {
      expectClose(got.subarray(row * V, (row + 1) * V), ref.logits[k], 1e-4, 1e-4, `logits row ${row}`);
    });
    const lse = Array.from({ length: T }, (_, t) => {
      const r = got.subarray(t * V, (t + 1) * V);
      const m = Math.max(...r);
      return m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
    });
    expectClose(lse, ref.logsumexp, 1e-4, 1e-4, 'logsumexp per position');
  });
});

describe('bad weights are refused by name', () => {
  const c = TINY_LLAMA;
  const base = () => weightsFromSpecs(randomModelParams(c, 1));
  it('a missing tensor', () => {
    const w = base();
    w.delete('model.layers.1.mlp.up_proj.weight');
    expect(() => exportOnnx(c, w)).toThrow('missing weight model.layers.1.mlp.up_proj.weight');
  });
  it('a tensor of the wrong size', () => {
    const w = base();
    w.set('model.norm.weight', new Float32Array(3));
    expect(() => exportOnnx(c, w)).toThrow('weight "model.norm.weight" has 3 values, expected [16] = 16');
  });
  it('an unmerged adapter tensor', () => {
    const w = base();
    w.set('model.layers.0.self_attn.q_proj.lora_A.weight', new Float32Array(4));
    expect(() => exportOnnx(c, w)).toThrow(/lora_A.weight" is not part of a qwen2 model.*merge the adapter/);
  });
  it('GPT-2 keys without the transformer. prefix are accepted', () => {
    const w = new Map(
      [...weightsFromSpecs(randomModelParams(TINY_GPT2, 1))].map(([k, v]) => [
        k.replace(/^transformer\./, ''),
        v,
      ]),
    );
    expect(inspectOnnx(exportOnnx(TINY_GPT2, w)).outputs[0].name).toBe('logits');
  });
});
