// Coming back from a cluster, and `recipe` itself, run as a user runs them (child processes through tsx).
// An adapter trained by a recipe is saved by PEFT's save_pretrained: adapter_config.json carries every field
// of PEFT's config class (nulls, empty patterns, the base model's hub id, target_modules in a set's order)
// beside the same tensor keys. Such folders, for LoRA, IA3 and prompt tuning, evaluate with `eval --adapter`
// to the same loss as the playground's own folder of the same weights (and not to the base model's): the
// import path the page shares (peft/files.ts) reads PEFT's files. `recipe` writes a sparse run's mask as the
// run plans it, and names the algorithms when --algo is wrong.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointSpecs } from '../model/load';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import { cpuBackend } from '../tensor/cpu-backend';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { writeAdapterFolder } from './adapter-dir';
import { type ModelDir, openModelDir } from './model-dir';

const MODEL = 'public/models/tiny-llama-brown';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const lastJson = (s: string) =>
  JSON.parse(
    s
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .at(-1) ?? '{}',
  ) as Record<string, unknown>;

/** The fields PEFT 0.17's config classes write beside the method's own (their defaults). */
const PEFT_FIELDS: Record<string, Record<string, unknown>> = {
  LORA: {
    auto_mapping: null,
    revision: null,
    exclude_modules: null,
    layer_replication: null,
    loftq_config: {},
    eva_config: null,
    corda_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    lora_bias: false,
    trainable_token_indices: null,
    target_parameters: null,
    use_qalora: false,
    qalora_group_size: 16,
  },
  IA3: { auto_mapping: null, revision: null, exclude_modules: null, modules_to_save: null },
  PROMPT_TUNING: { auto_mapping: null, revision: null, tokenizer_kwargs: null },
};

const CASES: { method: string; options: RawOptions }[] = [
  {
    method: 'lora',
    options: {
      r: 4,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj', 'up_proj'],
      init_lora_weights: 'false',
    },
  },
  {
    method: 'ia3',
    options: {
      target_modules: ['k_proj', 'v_proj', 'down_proj'],
      feedforward_modules: ['down_proj'],
      init_ia3_weights: false,
    },
  },
  { method: 'prompt', options: { num_virtual_tokens: 4, prompt_tuning_init: 'RANDOM' } },
];

let md: ModelDir;
let base: ParamSpec[];
let tmp: string;
let data: string;

/** The method's adapter (non-identity at init) saved as the playground saves it, and as PEFT would. */
async function folders(method: string, options: RawOptions): Promise<{ ours: string; peft: string }> {
  const m = getMethod(method);
  const plan = planAdapter(m, options, md.config, base, 5, {
    tokenizer: { encode: (t) => md.tokenizer.encode(t) },
    tokenizerName: md.dir,
  });
  const be = cpuBackend();
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(m, plan, md.config, ps);
  const saved = (await adapter.save(md.dir)).files;
  adapter.dispose();
  ps.dispose();
  const ours = join(tmp, `${method}-ours`);
  writeAdapterFolder(ours, saved);
  const json = JSON.parse(saved.config) as Record<string, unknown>;
  const peftJson: Record<string, unknown> = {
    ...PEFT_FIELDS[String(json.peft_type)],
    ...json,
    base_model_name_or_path: 'org/tiny-llama-brown',
    inference_mode: true,
  };
  // PEFT keeps target_modules as a set: its saved order is not the given one.
  for (const k of ['target_modules', 'feedforward_modules'])
    if (Array.isArray(peftJson[k])) peftJson[k] = [...(peftJson[k] as string[])].reverse();
  const peft = join(tmp, `${method}-peft`);
  writeAdapterFolder(peft, { config: JSON.stringify(peftJson, null, 2), weights: saved.weights });
  return { ours, peft };
}

beforeAll(async () => {
  md = await openModelDir(MODEL);
  base = await loadCheckpointSpecs(md.config, md.reader);
  tmp = mkdtempSync(join(tmpdir(), 'cli-recipe-'));
  data = join(tmp, 'eval.jsonl');
  writeFileSync(
    data,
    ['The jury said it did find that many of the laws are outmoded.', 'It was a long day.']
      .map((text) => JSON.stringify({ text }))
      .join('\n'),
  );
}, 60_000);

describe('an adapter saved by PEFT comes back', () => {
  it('evaluates as the playground’s own folder of the same weights, for LoRA, IA3 and prompt tuning', async () => {
    const evalLoss = (adapter?: string) => {
      const r = cli(
        'eval',
        '--model',
        MODEL,
        '--data',
        data,
        '--batch',
        '2',
        '--seq',
        '32',
        ...(adapter ? ['--adapter', adapter] : []),
      );
      expect(r.code, r.err).toBe(0);
      return lastJson(r.out).eval_loss as number;
    };
    const baseLoss = evalLoss();
    for (const c of CASES) {
      const f = await folders(c.method, c.options);
      const ours = evalLoss(f.ours);
      expect(ours, c.method).not.toBeCloseTo(baseLoss, 4);
      expect(evalLoss(f.peft), c.method).toBeCloseTo(ours, 6);
    }
  }, 240_000);
});

describe('npm run cli -- recipe', () => {
  it('writes a sparse run’s mask as the run plans it', () => {
    const out = join(tmp, 'sparse');
    const r = cli(
      'recipe',
      '--model',
      MODEL,
      '--method',
      'sparse',
      '--set',
      'density=0.02',
      '--set',
      'mask_seed=4',
      '--seed',
      '2',
      '--data',
      'public/datasets/plurals.jsonl',
      '--out',
      out,
    );
    expect(r.code, r.err).toBe(0);
    const mask = JSON.parse(readFileSync(join(out, 'sparse_mask.json'), 'utf8')) as Record<
      string,
      { indices: number[] }
    >;
    const plan = planAdapter(getMethod('sparse'), { density: 0.02, mask_seed: 4 }, md.config, base, 2);
    expect(Object.keys(mask).length).toBe(plan.ints.length);
    for (const { name, data: idx } of plan.ints) {
      const module = name.replace(/^base_model\.model\./, '').replace(/\.weight\.sparse_indices$/, '');
      expect(mask[module].indices).toEqual(Array.from(idx));
    }
    // Another mask seed draws other entries, so the comparison can fail.
    const other = planAdapter(getMethod('sparse'), { density: 0.02, mask_seed: 5 }, md.config, base, 2);
    expect(Array.from(other.ints[0].data)).not.toEqual(Object.values(mask)[0].indices);
  });

  it('names the algorithms when --algo is not one', () => {
    const r = cli(
      'recipe',
      '--model',
      MODEL,
      '--algo',
      'ppo2',
      '--data',
      'public/datasets/plurals.jsonl',
      '--out',
      join(tmp, 'x'),
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain('--algo ppo2: one of sft, reward, ppo, rs, dpo, grpo');
  });
});
