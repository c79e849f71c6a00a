// Loading a real checkpoint from disk (the built-in model) and checking our engine against PyTorch: the
// logits and loss recorded by scripts/pretrain/export.py (float64 PyTorch, HF LlamaForCausalLM semantics)
// must come out of our GPU forward within 1e-4. Also: a model that cannot fit is refused with the figures.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import { estimateWeightBytes, frozenPartRows, parseModelConfig } from '../formats/model-config';
import { fileSource } from '../formats/node-source';
import { SafetensorsFile } from '../formats/safetensors';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { checkModelFits, loadCheckpointSpecs } from './load';
import { shiftLabels } from './loss';
import { forward } from './transformer';

const DIR = 'public/models/tiny-llama-brown';
interface Reference {
  input_ids: number[];
  logits_rows: number[];
  logits: number[][];
  loss: number;
  loss_masked: number;
}

describe('built-in model against PyTorch', () => {
  it('loads from safetensors and reproduces the recorded logits and losses', async () => {
    const ref = JSON.parse(readFileSync('test/fixtures/builtin-model-reference.json', 'utf8')) as Reference;
    const config = parseModelConfig(readFileSync(`${DIR}/config.json`, 'utf8'), `${DIR}/config.json`);
    const reader = await SafetensorsFile.open(await fileSource(`${DIR}/model.safetensors`));
    const progress: number[] = [];
    const specs = await loadCheckpointSpecs(
      config,
      reader,
      () => false,
      (p) => progress.push(p.loadedBytes / p.totalBytes),
    );
    expect(progress.at(-1)).toBe(1);
    const ctx = await testGpu();
    const be = gpuBackend(ctx);
    const ps = new ParamSet(be, specs);
    const ids = Int32Array.from(ref.input_ids);
    const T = ids.length;
    const tp = new Tape(be, false);
    const { logits } = forward(tp, config, ps, { ids, B: 1, T });
    const flat = tp.reshape(logits, [T, config.vocabSize]);
    const loss = op.crossEntropy(tp, flat, shiftLabels(ids, 1, T), 'loss');
    const masked = Int32Array.from(ids, (v, i) => (i < Math.floor(T / 2) ? -100 : v));
    const lossMasked = op.crossEntropy(tp, flat, shiftLabels(masked, 1, T), 'loss_masked');
    const all = await be.read(flat.store, T * config.vocabSize);
    ref.logits_rows.forEach((row, k) => {
      expectClose(
        all.subarray(row * config.vocabSize, (row + 1) * config.vocabSize),
        ref.logits[k],
        1e-4,
        1e-4,
        `logits row ${row}`,
      );
    });
    expect(Math.abs((await be.read(loss.store, 1))[0] - ref.loss)).toBeLessThan(1e-4 * ref.loss);
    expect(Math.abs((await be.read(lossMasked.store, 1))[0] - ref.loss_masked)).toBeLessThan(
      1e-4 * ref.loss_masked,
    );
    tp.dispose();
    ps.dispose();
  });

  it('refuses a model that does not fit, with the figures', () => {
    const config = parseModelConfig(readFileSync(`${DIR}/config.json`, 'utf8'));
    // A frozen embedding above the limit is held in row parts (split-weight.ts); trained, it is refused.
    expect(() =>
      checkModelFits(config, { maxBufferBytes: 1 << 20, budgetBytes: 1 << 30 }, 'tiny'),
    ).not.toThrow();
    const trained = { trainable: (n: string) => n === 'model.embed_tokens.weight' };
    expect(() =>
      checkModelFits(config, { maxBufferBytes: 1 << 20, budgetBytes: 1 << 30 }, 'tiny', 'f32', trained),
    ).toThrow(
      /model\.embed_tokens\.weight.*4\.00 MiB.*1\.00 MiB per buffer.*cannot be split: train with LoRA/,
    );
    // Every tensor fits 8 MiB alone, but trained together they are one flat f32 buffer of 15.1 MiB.
    const all = { trainable: () => true };
    expect(() =>
      checkModelFits(config, { maxBufferBytes: 8 << 20, budgetBytes: 1 << 30 }, 'tiny', 'f32', all),
    ).toThrow(
      /tiny: 3,950,848 trainable parameters are held in one f32 buffer of 15\.\d+ MiB .* at most 8\.00 MiB: train fewer parameters/,
    );
    expect(() =>
      checkModelFits(config, { maxBufferBytes: 16 << 20, budgetBytes: 1 << 30 }, 'tiny', 'f32', all),
    ).not.toThrow();
    expect(() => checkModelFits(config, { maxBufferBytes: 1 << 30, budgetBytes: 1 << 20 }, 'tiny')).toThrow(
      /weights need .* but the memory budget is 1\.00 MiB/,
    );
    expect(() => checkModelFits(config, { maxBufferBytes: 1 << 30, budgetBytes: 1 << 30 })).not.toThrow();
    // Below the MLP's 688 KiB: a linear weight is not read in parts, so the model is refused, naming it.
    expect(() => checkModelFits(config, { maxBufferBytes: 512 << 10, budgetBytes: 1 << 30 }, 'tiny')).toThrow(
      /mlp\.(gate|up|down)_proj\.weight.*688\.0 KiB.*512\.0 KiB per buffer, and it cannot be split \(only the embedding and the LM head/,
    );
  });

  it("accepts Llama-3.2-1B's f32 embedding in row parts under a 128 MiB binding limit; refuses it trained", () => {
    const dir = 'test/fixtures/configs/Llama-3.2-1B';
    const raw = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')) as Record<string, unknown>;
    // Its llama3 RoPE scaling is not supported (parseModelConfig says so); shapes and bytes do not depend on it.
    raw.rope_scaling = null;
    const config = parseModelConfig(raw);
    // WebGPU's default maxStorageBufferBindingSize: the [128256, 2048] f32 table (1002 MiB) needs 8 parts.
    const budget = { maxBufferBytes: 128 * 2 ** 20, budgetBytes: 8 * 2 ** 30 };
    expect(frozenPartRows([128256, 2048], 'f32', 'out_in', budget.maxBufferBytes)).toEqual([
      ...Array(7).fill(16032),
      128256 - 7 * 16032,
    ]);
    expect(() => checkModelFits(config, budget, 'Llama-3.2-1B', 'f32')).not.toThrow();
    expect(() => checkModelFits(config, budget, 'Llama-3.2-1B', 'nf4')).not.toThrow();
    // f32 rows are whole 16-byte multiples: the parts take exactly the whole table's bytes.
    expect(estimateWeightBytes(config, 'f32', budget.maxBufferBytes)).toBe(
      estimateWeightBytes(config, 'f32'),
    );
    expect(() => checkModelFits(config, budget, 'Llama-3.2-1B', 'f32', { trainable: () => true })).toThrow(
      /tensor "model\.embed_tokens\.weight" \[128256,2048\] needs 1002\.0 MiB in one buffer \(f32\) but this GPU allows at most 128\.0 MiB per buffer; a trained tensor .* cannot be split: train with LoRA/,
    );
    // A limit no row block fits (one 8 KiB f32 row) is refused for the table itself.
    expect(() => checkModelFits(config, { ...budget, maxBufferBytes: 4096 }, 'Llama-3.2-1B', 'f32')).toThrow(
      /model\.embed_tokens\.weight.*cannot be split/,
    );
  });
});
