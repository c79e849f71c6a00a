// The tiny Hugging Face fixtures (test/fixtures/models, written by scripts/make-fixtures.sh: GPT-2 without
// the `transformer.` prefix, Llama with GQA in two shards, Qwen2 with q/k/v biases in F16) against what
// PyTorch recorded in float64 from a forward written after Hugging Face's modeling code: logits, loss and
// the gradient of every weight, on the batch our `grads` command feeds. Each model is loaded through the
// folder source; the pass runs on the GPU and on the CPU float64 twin. Then `npm run cli -- grads` end to
// end: its four files and its last JSON line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradsMethod, runGrads } from '../src/cli/grads';
import { registryGradsMethods } from '../src/cli/grads-methods';
import { bytesSource, SafetensorsFile } from '../src/formats/safetensors';
import { loadCheckpointSpecs } from '../src/model/load';
import { shiftLabels } from '../src/model/loss';
import { dirModelSource } from '../src/model/sources/node-dir';
import { forward } from '../src/model/transformer';
import type { Backend } from '../src/tensor/backend';
import { cpuBackend } from '../src/tensor/cpu-backend';
import { gpuBackend } from '../src/tensor/gpu-backend';
import * as op from '../src/tensor/ops';
import { ParamSet } from '../src/tensor/params';
import { Tape } from '../src/tensor/tape';
import { testGpu } from './helpers/gpu';
import { expectClose } from './helpers/numeric';

const ROOT = join(import.meta.dirname, 'fixtures', 'models');
const DATA = join(ROOT, 'sft-data.jsonl');
// As scripts/make-fixtures.sh runs `grads` to fix each reference's batch.
const GRADS_FLAGS = { B: 3, T: 12, seed: 1 };
const MODELS = ['gpt2-tiny', 'llama-tiny', 'qwen2-tiny'] as const;

async function reference(name: string) {
  const dir = join(ROOT, name);
  const ref = await SafetensorsFile.open(
    bytesSource(new Uint8Array(readFileSync(join(dir, 'reference.safetensors'))), 'reference.safetensors'),
  );
  const meta = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as {
    loss: number;
    targets: number;
    B: number;
    T: number;
  };
  return { ref, meta };
}

/** Gradients: float32 against float64, summed over a batch; tolerance scaled by the tensor's largest entry. */
function expectGradClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string) {
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  expectClose(got, want, rtol, rtol * 0.01 * max + 1e-7, what);
}

/** Forward + backward on the reference's own ids and labels; logits, loss and every gradient compared. */
async function checkAgainstTorch<S, I>(
  be: Backend<S, I>,
  name: string,
  tol: { logits: number; grads: number },
) {
  const model = await dirModelSource(join(ROOT, name)).open();
  const { ref, meta } = await reference(name);
  const { B, T } = meta;
  const c = model.config;
  const specs = await loadCheckpointSpecs(c, model.reader, () => true);
  const ps = new ParamSet(be, specs);
  const tp = new Tape(be, true);
  ps.zeroGrads();
  const ids = await ref.readI32('input_ids');
  const labels = await ref.readI32('labels');
  const { logits } = forward(tp, c, ps, { ids, B, T });
  const loss = op.crossEntropy(
    tp,
    tp.reshape(logits, [B * T, c.vocabSize]),
    shiftLabels(labels, B, T),
    'loss',
  );
  tp.backward();
  expectClose(
    await be.read(logits.store, logits.size),
    await ref.readF32('logits'),
    tol.logits,
    tol.logits,
    'logits',
  );
  expectClose(await be.read(loss.store, 1), [meta.loss], 1e-5, 0, 'loss');
  let checked = 0;
  for (const [canon, key] of model.match.keyMap) {
    expectGradClose(await ps.readGrad(canon), await ref.readF32(`grad.${key}`), tol.grads, `grad ${key}`);
    checked++;
  }
  // Every recorded gradient was checked (none left over, none missing).
  expect(checked).toBe(ref.keys().filter((k) => k.startsWith('grad.')).length);
  tp.dispose();
  ps.dispose();
}

describe.each(MODELS)('%s against PyTorch', (name) => {
  it('GPU: logits (1e-4), loss and every gradient (1e-3)', async () => {
    await checkAgainstTorch(gpuBackend(await testGpu()), name, { logits: 1e-4, grads: 1e-3 });
  });

  it('CPU twin: logits, loss and every gradient (float64 against float32-stored references)', async () => {
    await checkAgainstTorch(cpuBackend(), name, { logits: 1e-6, grads: 1e-5 });
  });

  it('grads (full) feeds the recorded batch and gives the recorded loss and gradients', async () => {
    const model = await dirModelSource(join(ROOT, name)).open();
    const { ref, meta } = await reference(name);
    const r = await runGrads(gpuBackend(await testGpu()), {
      model,
      modelName: name,
      method: gradsMethod('full', registryGradsMethods()),
      options: new Map(),
      dataName: 'sft-data.jsonl',
      data: new Uint8Array(readFileSync(DATA)),
      ...GRADS_FLAGS,
    });
    expect([...r.inputIds]).toEqual([...(await ref.readI32('input_ids'))]);
    expect([...r.labels]).toEqual([...(await ref.readI32('labels'))]);
    expect(r.tokens).toBe(meta.targets);
    expect(Math.abs(r.loss - meta.loss)).toBeLessThan(1e-5 * meta.loss);
    // The dump saves under canonical keys, as `train --out` does; the reference is keyed as the checkpoint
    // spells them (GPT-2's file lacks `transformer.`): keyMap pairs the two.
    const ckptKey = (canon: string) => model.match.keyMap.get(canon) ?? canon;
    const gradKeys = ref.keys().filter((k) => k.startsWith('grad.'));
    expect([...r.grads.keys()].map(ckptKey).sort()).toEqual(gradKeys.map((k) => k.slice(5)).sort());
    for (const [key, g] of r.grads)
      expectGradClose(g.data, await ref.readF32(`grad.${ckptKey(key)}`), 1e-3, `grad ${key}`);
    // "As initialised": for full, exactly the checkpoint's tensors.
    for (const [key, t] of r.initial) expect(t.data).toEqual(await model.reader.readF32(ckptKey(key)));
    expect(r.adapterConfig).toMatchObject({ peft_type: 'FULL', base_model_name_or_path: name });
  });
});

describe('grads with lora_dropout', () => {
  it('takes the dump with dropout off and keeps the asked value in adapter_config.json', async () => {
    const model = await dirModelSource(join(ROOT, 'qwen2-tiny')).open();
    const methods = registryGradsMethods();
    const run = (dropout: number) =>
      runGrads(cpuBackend(), {
        model,
        modelName: 'qwen2-tiny',
        method: gradsMethod('lora', methods),
        options: new Map<string, string>([
          ['r', '2'],
          ['lora_dropout', String(dropout)],
        ]),
        dataName: 'sft-data.jsonl',
        data: new Uint8Array(readFileSync(DATA)),
        ...GRADS_FLAGS,
      });
    const [off, on] = [await run(0), await run(0.3)];
    expect(on.adapterConfig.lora_dropout).toBe(0.3);
    expect(on.loss).toBe(off.loss);
    expect([...on.grads.keys()].length).toBeGreaterThan(0);
    // LoRA's B starts at zero, so A's gradient is zero; B's gradient would change under dropout.
    for (const [key, g] of on.grads) expect(g.data, key).toEqual(off.grads.get(key)?.data);
  });
});

describe('npm run cli -- grads', () => {
  it('writes the four files and prints {"loss", "tokens"} last', () => {
    const out = mkdtempSync(join(tmpdir(), 'grads-'));
    try {
      const dir = join(ROOT, 'qwen2-tiny');
      const p = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'grads',
          '--model',
          dir,
          '--method',
          'full',
          '--data',
          DATA,
          '--batch',
          String(GRADS_FLAGS.B),
          '--seq',
          String(GRADS_FLAGS.T),
          '--seed',
          String(GRADS_FLAGS.seed),
          '--out',
          out,
        ],
        { cwd: join(import.meta.dirname, '..'), encoding: 'utf8', timeout: 90_000 },
      );
      expect(p.status, p.stderr).toBe(0);
      const last = JSON.parse(p.stdout.trim().split('\n').at(-1)!) as { loss: number; tokens: number };
      const meta = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as {
        loss: number;
        targets: number;
      };
      expect(Object.keys(last)).toEqual(['loss', 'tokens']);
      expect(last.tokens).toBe(meta.targets);
      expect(Math.abs(last.loss - meta.loss)).toBeLessThan(1e-5 * meta.loss);
      const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(cfg.peft_type).toBe('FULL');
      const open = (f: string) =>
        SafetensorsFile.open(bytesSource(new Uint8Array(readFileSync(join(out, f))), f));
      return (async () => {
        const batch = await open('batch.safetensors');
        expect(batch.info('input_ids')).toMatchObject({
          dtype: 'I32',
          shape: [GRADS_FLAGS.B, GRADS_FLAGS.T],
        });
        expect(batch.info('labels')).toMatchObject({ dtype: 'I32', shape: [GRADS_FLAGS.B, GRADS_FLAGS.T] });
        const grads = await open('grads.safetensors');
        const adapter = await open('adapter_model.safetensors');
        const ckpt = await SafetensorsFile.open(
          bytesSource(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors'),
        );
        expect(grads.keys().sort()).toEqual(ckpt.keys().sort());
        expect(adapter.keys().sort()).toEqual(ckpt.keys().sort());
        for (const k of grads.keys()) expect(grads.info(k).dtype).toBe('F32');
        // The F16 checkpoint's values, exactly, in F32.
        for (const k of ckpt.keys()) expect(await adapter.readF32(k)).toEqual(await ckpt.readF32(k));
      })().finally(() => rmSync(out, { recursive: true, force: true }));
    } catch (e) {
      rmSync(out, { recursive: true, force: true });
      throw e;
    }
  });
});
