// "Export recipe" on the page and `npm run cli -- recipe` write the same folder for the same run: the page's
// run spec (as app/engine.ts builds it from the form, and the RL form's RlRunSpec) through the worker's
// recipeFilesOfRun, and the CLI run as a user runs it (a child process, flags), for LoRA-SFT, IA3-DPO and
// prompt-tuning-GRPO. train.py, data/, rewards/, accelerate/, requirements.txt and README.md are equal byte for
// byte; recipe.json holds the same run; and each train.py compiles and parses back (Python's ast) to the
// run's settings. Python 3 reads the files; without it those checks are skipped, saying why.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../data/prepare';
import { dirModelSource } from '../model/sources/node-dir';
import { sftRunConfig } from '../train/sft-config';
import { recipeFilesOfRun } from './exports';
import type { RunSpec } from './protocol';
import { RL_FORM_DEFAULTS, type RlRunSpec } from './rl-spec';

const MODEL = 'public/models/tiny-llama-brown';
const NAME = 'tiny-llama-brown';
const HAS_PYTHON = spawnSync('python3', ['-c', 'import ast'], { encoding: 'utf8' }).status === 0;
const PYREAD = 'src/train/recipe/pyread.py';
const tmp = mkdtempSync(join(tmpdir(), 'recipe-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  name: string;
  data: string;
  spec: RunSpec;
  flags: string[];
  /** What train.py's trainer config must hold, and which PEFT config it builds. */
  trainer: string;
  expectTrainer: Record<string, unknown>;
  peft: string;
  expectPeft: Record<string, unknown>;
}

const hyper = { steps: 6, batch: 2, seqLen: 32, evalEvery: 2, seed: 3 };
const spec = (method: string, options: Record<string, number>, lr: number, rl?: RlRunSpec): RunSpec => ({
  id: `run-${method}`,
  label: method,
  datasetId: 'ds',
  config: sftRunConfig({ ...hyper, method, options, lr }),
  evalFraction: 0.1,
  checkpointEvery: 5,
  predictedBytes: 0,
  ...(rl ? { rl } : {}),
});
const common = ['--steps', '6', '--batch', '2', '--seq', '32', '--seed', '3', '--eval-fraction', '0.1'];

const CASES: Case[] = [
  {
    name: 'lora-sft',
    data: 'public/datasets/plurals.jsonl',
    spec: spec('lora', { r: 4 }, 5e-4),
    flags: ['--method', 'lora', '--set', 'r=4', '--lr', '0.0005', '--eval-every', '2', ...common],
    trainer: 'SFTConfig',
    expectTrainer: {
      learning_rate: 5e-4,
      max_steps: 6,
      per_device_train_batch_size: 2,
      max_length: 32,
      seed: 3,
      eval_steps: 2,
      lr_scheduler_type: 'cosine',
      warmup_steps: 1,
      completion_only_loss: true,
    },
    peft: 'LoraConfig',
    expectPeft: { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'], use_dora: false },
  },
  {
    name: 'ia3-dpo',
    data: 'public/datasets/preferences.jsonl',
    spec: spec('ia3', {}, 1e-3, {
      ...RL_FORM_DEFAULTS,
      algo: 'dpo',
      dpo: { ...RL_FORM_DEFAULTS.dpo, beta: 0.2 },
    }),
    flags: ['--algo', 'dpo', '--method', 'ia3', '--beta', '0.2', '--lr', '0.001', ...common],
    trainer: 'DPOConfig',
    expectTrainer: {
      beta: 0.2,
      learning_rate: 1e-3,
      max_steps: 6,
      per_device_train_batch_size: 2,
      max_length: 32,
    },
    peft: 'IA3Config',
    expectPeft: { target_modules: ['k_proj', 'v_proj', 'down_proj'], feedforward_modules: ['down_proj'] },
  },
  {
    name: 'prompt-grpo',
    data: 'public/datasets/rl-prompts.jsonl',
    spec: spec('prompt', { num_virtual_tokens: 6 }, 0.01, {
      ...RL_FORM_DEFAULTS,
      algo: 'grpo',
      grpo: { ...RL_FORM_DEFAULTS.grpo, generations: 2 },
      reward: { kind: 'spec', spec: 'length:5' },
    }),
    flags: [
      '--algo',
      'grpo',
      '--method',
      'prompt',
      '--set',
      'num_virtual_tokens=6',
      '--generations',
      '2',
      '--reward',
      'length:5',
      '--lr',
      '0.01',
      ...common,
    ],
    trainer: 'GRPOConfig',
    expectTrainer: {
      num_generations: 2,
      beta: RL_FORM_DEFAULTS.grpo.beta,
      max_completion_length: RL_FORM_DEFAULTS.maxNewTokens,
      per_device_train_batch_size: 4,
      learning_rate: 0.01,
      max_steps: 6,
    },
    peft: 'PromptTuningConfig',
    expectPeft: { num_virtual_tokens: 6 },
  },
];

/** Every file under `dir`, by its path inside it. */
function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

describe('page and CLI recipes', () => {
  for (const c of CASES) {
    it(`${c.name}: the same folder from the page's run spec and from the CLI's flags`, async () => {
      const m = await dirModelSource(MODEL).open({});
      const prepared = await prepareDataset(basename(c.data), new Uint8Array(readFileSync(c.data)), {
        onError: 'skip',
      });
      const page = Object.fromEntries(
        recipeFilesOfRun(
          c.spec,
          { name: NAME, config: m.config, tokenizer: m.tokenizer },
          prepared.examples,
          undefined,
        ).map((f) => [f.path, f.text]),
      );
      const out = join(tmp, c.name);
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'recipe',
          '--model',
          MODEL,
          '--model-name',
          NAME,
          '--data',
          c.data,
          '--out',
          out,
          ...c.flags,
        ],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      const cli = readTree(out);
      expect(Object.keys(cli).sort()).toEqual(Object.keys(page).sort());
      for (const path of Object.keys(page))
        if (path !== 'recipe.json') expect(cli[path], path).toBe(page[path]);
      const pj = JSON.parse(page['recipe.json']) as Record<string, unknown>;
      const cj = JSON.parse(cli['recipe.json']) as Record<string, unknown>;
      for (const k of ['algo', 'model', 'rl', 'reward', 'adapterConfig', 'counts', 'evalFraction'])
        expect(cj[k], k).toEqual(pj[k]);
      // The CLI's --set values are text until the method parses them; the settings are the same.
      const { options: po, ...prun } = pj.run as Record<string, unknown>;
      const { options: co, ...crun } = cj.run as Record<string, unknown>;
      expect(crun).toEqual(prun);
      expect(Object.fromEntries(Object.entries(co as object).map(([k, v]) => [k, String(v)]))).toEqual(
        Object.fromEntries(Object.entries(po as object).map(([k, v]) => [k, String(v)])),
      );
      if (!HAS_PYTHON) return; // python3 is not installed: train.py cannot be compiled and read back here
      const read = spawnSync('python3', [PYREAD], {
        input: JSON.stringify({ train: [join(out, 'train.py')] }),
        encoding: 'utf8',
      });
      expect(read.status, read.stderr).toBe(0);
      const got = (JSON.parse(read.stdout) as { train: Record<string, { calls: Record<string, object> }> })
        .train[join(out, 'train.py')];
      expect(got.calls[c.trainer]).toMatchObject(c.expectTrainer);
      expect(got.calls[c.peft]).toMatchObject(c.expectPeft);
    }, 60_000);
  }
});
