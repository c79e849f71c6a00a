// The recipe, read back: for every algorithm × every registered method, train.py compiles and the values in
// its trainer and method configs — parsed with Python's ast, not matched as text — equal the run's settings
// and the method's options as the playground parses them; data/ holds the run's exact split (the same
// tokenised rows the run trains on); the accelerate YAMLs parse; the Python rewards score as the built-in
// ones; the zip holds the files. Python 3 reads the files (py_compile, ast, yaml, zipfile); without it the
// checks that need it are skipped, saying why.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../../data/prepare';
import { tokenizeForSft } from '../../data/tokenize';
import type { Example } from '../../data/types';
import { zipFiles } from '../../formats/zip';
import { loadCheckpointSpecs } from '../../model/load';
import { dirModelSource } from '../../model/sources/node-dir';
import { planAdapter } from '../../peft/adapter';
import { getMethod, listMethods } from '../../peft/registry';
import { builtinReward, parseRewardSpec } from '../rewards/builtin';
import { type RlRunSettings, runnerConfig } from '../rl/factory';
import { RL_OPTION_DEFAULTS } from '../rl/options';
import { type SftRunConfig, sftRunConfig } from '../sft-config';
import { sftData } from '../sft-data';
import { dataTokenizer } from '../tokenizer-adapter';
import HF_FIELDS from './hf-fields.json';
import { recipeInputOf } from './input';
import { buildRecipe } from './recipe';
import { PLAIN_CHAT_TEMPLATE } from './trainer';
import { RECIPE_ALGOS, type RecipeAlgo, type RecipeFile } from './types';

const HAS_PYTHON = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;
interface ModelDir {
  dir: string;
  config: Awaited<ReturnType<ReturnType<typeof dirModelSource>['open']>>['config'];
  reader: Awaited<ReturnType<ReturnType<typeof dirModelSource>['open']>>['reader'];
  tokenizer: Awaited<ReturnType<ReturnType<typeof dirModelSource>['open']>>['tokenizer'];
}

async function openModelDir(dir: string): Promise<ModelDir> {
  const m = await dirModelSource(dir).open({});
  return { dir, config: m.config, reader: m.reader, tokenizer: m.tokenizer };
}

const WHY = 'python3 with PyYAML is not installed: the recipe is read back with Python';
const MODEL = 'test/fixtures/models/llama-tiny';
const GPT2 = 'test/fixtures/models/gpt2-tiny';
const PYREAD = join(dirname(new URL(import.meta.url).pathname), 'pyread.py');

interface Read {
  train: Record<string, { calls: Record<string, Record<string, unknown>>; consts: Record<string, unknown> }>;
  compiled: string[];
  yaml: Record<string, unknown>;
  zip: Record<string, Record<string, string>>;
}

function pyRead(req: { train?: string[]; compile?: string[]; yaml?: string[]; zip?: string[] }): Read {
  const r = spawnSync('python3', [PYREAD], {
    input: JSON.stringify(req),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0) throw new Error(`pyread: ${r.stderr}`);
  return JSON.parse(r.stdout) as Read;
}

let tmp: string;
let md: ModelDir;
let gpt2: ModelDir;
const data: Record<'sft' | 'pairs' | 'prompts', Example[]> = { sft: [], pairs: [], prompts: [] };

async function examples(file: string): Promise<Example[]> {
  return (await prepareDataset(basename(file), new Uint8Array(readFileSync(file)), { onError: 'skip' }))
    .examples;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'recipe-'));
  md = await openModelDir(MODEL);
  gpt2 = await openModelDir(GPT2);
  data.sft = await examples('public/datasets/plurals.jsonl');
  data.pairs = await examples('public/datasets/preferences.jsonl');
  data.prompts = await examples('public/datasets/rl-prompts.jsonl');
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(dir: string, files: readonly RecipeFile[]): void {
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.text);
  }
}

/** A run as a user might set it: every setting away from its default, so a value left at a default shows. */
function runOf(method: string, options: Record<string, string | number | boolean>): SftRunConfig {
  return sftRunConfig({
    method,
    options,
    lr: 3e-4,
    schedule: 'linear',
    steps: 37,
    batch: 4,
    seqLen: 48,
    gradAccum: 3,
    weightDecay: 0.02,
    maxGradNorm: 0.5,
    seed: 7,
    logEvery: 3,
    evalEvery: 5,
    pack: true,
  });
}

function rlOf(algo: Exclude<RecipeAlgo, 'sft'>, run: SftRunConfig): RlRunSettings {
  const rl = {
    ...RL_OPTION_DEFAULTS,
    maxNewTokens: 9,
    temperature: 0.8,
    ppo: {
      ...RL_OPTION_DEFAULTS.ppo,
      klCoef: 0.07,
      cliprange: 0.3,
      epochs: 3,
      miniBatch: 2,
      vfCoef: 0.2,
      kl: 'k3' as const,
    },
    rs: { ...RL_OPTION_DEFAULTS.rs, n: 5, keep: 2, threshold: 0.5, sftEpochs: 3, miniBatch: 2 },
    grpo: { ...RL_OPTION_DEFAULTS.grpo, generations: 6, beta: 0.02, iterations: 2 },
    dpo: { ...RL_OPTION_DEFAULTS.dpo, beta: 0.25 },
  };
  return {
    algo,
    rl,
    train: {
      method: run.method,
      options: run.options,
      seed: run.seed,
      lr: run.lr,
      steps: run.steps,
      batch: run.batch,
      seqLen: run.seqLen,
      weightDecay: run.weightDecay,
      maxGradNorm: run.maxGradNorm,
      evalFraction: algo === 'reward' ? 0.25 : 0,
      maxPromptLength: 20,
    },
  };
}

/** Small options for each method on the tiny model (the method's own test options, identity at init). */
function optionsOf(method: string, m: ModelDir): Record<string, string | number | boolean> {
  if (method === 'prompt') return { num_virtual_tokens: 5, prompt_tuning_init: 'RANDOM' };
  if (method === 'lora') return { r: 4, lora_alpha: 16, use_rslora: true };
  if (method === 'dora') return { r: 2, lora_alpha: 4 };
  if (method === 'sparse') return { density: 0.05, mask: 'random', mask_seed: 3 };
  if (method === 'compacter') return { reduction_factor: 4, phm_dim: 2 };
  return getMethod(method).testOptions(m.config, false) as Record<string, string | number | boolean>;
}

function recipeOf(algo: RecipeAlgo, method: string, m: ModelDir = md) {
  const run = runOf(method, optionsOf(method, m));
  const rl = algo === 'sft' ? undefined : rlOf(algo, run);
  const ex = algo === 'sft' ? data.sft : algo === 'reward' || algo === 'dpo' ? data.pairs : data.prompts;
  const ints =
    method === 'sparse' || method === 'rows'
      ? planAdapter(getMethod(method), run.options, m.config, loadCheckpointSpecsSync(m), run.seed).ints
      : undefined;
  const input = recipeInputOf({
    algo,
    model: { name: m.dir, config: m.config, tokenizer: m.tokenizer },
    examples: ex,
    run,
    evalFraction: 0.2,
    rl,
    reward: { kind: 'spec', spec: 'length:6' },
    ints,
  });
  return { run, rl, input, files: buildRecipe(input) };
}

const specsCache = new Map<string, Awaited<ReturnType<typeof loadCheckpointSpecs>>>();
function loadCheckpointSpecsSync(m: ModelDir) {
  const s = specsCache.get(m.dir);
  if (!s) throw new Error('specs not loaded');
  return s;
}

const file = (files: readonly RecipeFile[], path: string) => {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path}`);
  return f.text;
};

const jsonl = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const TRAINER_CLASS: Record<RecipeAlgo, string> = {
  sft: 'SFTConfig',
  reward: 'RewardConfig',
  dpo: 'DPOConfig',
  grpo: 'GRPOConfig',
  ppo: 'PPOConfig',
  rs: 'SFTConfig',
};
const PEFT_CLASS: Record<string, string> = {
  LORA: 'LoraConfig',
  LOKR: 'LoKrConfig',
  IA3: 'IA3Config',
  PROMPT_TUNING: 'PromptTuningConfig',
  PREFIX_TUNING: 'PrefixTuningConfig',
};

describe.skipIf(!HAS_PYTHON)(`recipes read back (${HAS_PYTHON ? 'python3' : WHY})`, () => {
  beforeAll(async () => {
    for (const m of [md, gpt2]) specsCache.set(m.dir, await loadCheckpointSpecs(m.config, m.reader));
  });

  it('every algorithm × every method: train.py compiles and its configs hold the run’s values', () => {
    const cases: { algo: RecipeAlgo; method: string; dir: string; r: ReturnType<typeof recipeOf> }[] = [];
    for (const algo of RECIPE_ALGOS)
      for (const m of listMethods()) {
        const dir = join(tmp, `${algo}-${m.info.name}`);
        const r = recipeOf(algo, m.info.name);
        write(dir, r.files);
        cases.push({ algo, method: m.info.name, dir, r });
      }
    const read = pyRead({
      train: cases.map((c) => join(c.dir, 'train.py')),
      compile: cases
        .filter((c) => c.r.rl && c.algo !== 'reward' && c.algo !== 'dpo')
        .map((c) => join(c.dir, 'rewards/rewards.py')),
    });
    expect(read.compiled.length).toBe(
      RECIPE_ALGOS.filter((a) => ['ppo', 'rs', 'grpo'].includes(a)).length * listMethods().length,
    );
    for (const c of cases) {
      const got = read.train[join(c.dir, 'train.py')];
      const cfg = got.calls[TRAINER_CLASS[c.algo]];
      const where = `${c.algo} × ${c.method}`;
      expect(cfg, where).toBeDefined();
      const { run, rl } = c.r;
      expect(cfg.learning_rate, where).toBe(run.lr);
      expect(cfg.seed, where).toBe(run.seed);
      expect(cfg.weight_decay, where).toBe(run.weightDecay);
      expect(cfg.max_grad_norm, where).toBe(run.maxGradNorm);
      expect(got.consts.SEED, where).toBe(run.seed);
      expect(got.consts.PLAIN_CHAT_TEMPLATE, where).toBe(PLAIN_CHAT_TEMPLATE);
      // The method: PEFT's config holds the values the playground saves in adapter_config.json.
      const m = getMethod(c.method);
      const ac = m.adapterConfig(m.parse(run.options, md.config, { tokenizerName: md.dir }), md.config);
      const cls = PEFT_CLASS[String(ac.peft_type)];
      if (cls) {
        const peft = got.calls[cls];
        expect(peft, where).toBeDefined();
        for (const [k, v] of Object.entries(peft))
          if (k !== 'task_type') expect(v, `${where} ${k}`).toEqual(ac[k]);
        expect(peft.task_type, where).toBe(c.algo === 'reward' ? 'SEQ_CLS' : 'CAUSAL_LM');
      }
      if (c.method === 'top_layers')
        expect(got.consts.LAYERS_TO_TRANSFORM, where).toEqual(ac.layers_to_transform);
      if (c.method === 'sparse' || c.method === 'rows') {
        // The mask file holds the plan's own indices (the entries or rows the run trains).
        const mask = JSON.parse(file(c.r.files, 'sparse_mask.json')) as Record<
          string,
          { indices?: number[]; rows?: number[] }
        >;
        const planned = planAdapter(
          getMethod(c.method),
          run.options,
          md.config,
          loadCheckpointSpecsSync(md),
          run.seed,
        ).ints;
        expect(Object.keys(mask).length, where).toBe(planned.length);
        for (const { name, data } of planned) {
          const module = name
            .replace(/^base_model\.model\./, '')
            .replace(/\.weight\.(sparse|row)_indices$/, '');
          expect(mask[module][c.method === 'rows' ? 'rows' : 'indices'], where).toEqual(Array.from(data));
        }
      }
      if (['houlsby', 'pfeiffer', 'compacter'].includes(c.method)) {
        const bn = Object.entries(got.calls).find(([n]) => /Seq(Bn|BnConfig)|Compacter/.test(n));
        expect(bn?.[1].reduction_factor, where).toBe(ac.reduction_factor);
        expect(bn?.[1].mh_adapter, where).toBe(ac.mh_adapter);
        expect(bn?.[1].output_adapter, where).toBe(ac.output_adapter);
      }
      if (!rl) continue;
      const rc = runnerConfig(rl);
      if (rc.algo === 'grpo') {
        expect(cfg.num_generations, where).toBe(rc.config.generations);
        expect(cfg.beta, where).toBe(rc.config.beta);
        expect(cfg.num_iterations, where).toBe(rc.config.iterations);
        expect(cfg.temperature, where).toBe(rc.config.temperature);
        expect(cfg.max_completion_length, where).toBe(rc.config.maxNewTokens);
        expect(cfg.per_device_train_batch_size, where).toBe(rl.train.batch * rc.config.generations);
        expect(cfg.max_steps, where).toBe(rl.train.steps);
      }
      if (rc.algo === 'dpo') {
        expect(cfg.beta, where).toBe(rc.config.beta);
        expect(cfg.max_length, where).toBe(rl.train.seqLen);
      }
      if (rc.algo === 'ppo') {
        expect(cfg.num_ppo_epochs, where).toBe(rc.config.epochs);
        expect(cfg.cliprange, where).toBe(rc.config.cliprange);
        expect(cfg.vf_coef, where).toBe(rc.config.vfCoef);
        expect(cfg.kl_coef, where).toBe(rc.config.klCoef);
        expect(cfg.kl_estimator, where).toBe(rc.config.kl);
        expect(Number(cfg.num_mini_batches) * rc.config.miniBatch, where).toBe(rc.config.batch);
        expect(cfg.total_episodes, where).toBe(rl.train.steps * rc.config.batch);
        expect(cfg.stop_token, where).toBe('eos');
      }
      if (rc.algo === 'rs') {
        expect(got.consts.SAMPLES_PER_PROMPT, where).toBe(rc.config.n);
        expect(got.consts.KEEP, where).toBe(rc.config.keep);
        expect(got.consts.THRESHOLD, where).toBe(rc.config.threshold);
        expect(got.consts.ROUNDS, where).toBe(rl.train.steps);
        expect(cfg.num_train_epochs, where).toBe(rc.config.sftEpochs);
      }
      if (rc.algo === 'reward') expect(cfg.max_length, where).toBe(rl.train.seqLen);
    }
  });

  it('every keyword a recipe writes is a field of the pinned TRL / PEFT / adapters config class', () => {
    const trl = (v: '0.21.0' | '0.19.1') => HF_FIELDS[`trl ${v}`] as Record<string, string[]>;
    const peft = HF_FIELDS['peft 0.17.1'] as Record<string, string[]>;
    const args = HF_FIELDS['transformers TrainingArguments'];
    const allowed = (cls: string, v: '0.21.0' | '0.19.1'): string[] | null => {
      const t = trl(v);
      if (t[cls]) return [...t[cls], ...args, ...(cls === 'PPOConfig' ? t.OnPolicyConfig : [])];
      if (peft[cls])
        return [
          ...peft[cls],
          ...peft.PeftConfig,
          ...peft.PeftConfigMixin,
          ...(['PromptTuningConfig', 'PrefixTuningConfig'].includes(cls) ? peft.PromptLearningConfig : []),
          ...(cls === 'LoKrConfig' ? peft.LycorisConfig : []),
        ];
      if (/Seq(Bn)?Config|Compacter/.test(cls)) return HF_FIELDS['adapters 1.2.0'].BnConfig;
      return null;
    };
    const dirs: { dir: string; req: string }[] = [];
    for (const algo of RECIPE_ALGOS)
      for (const m of listMethods()) {
        const dir = join(tmp, `fields-${algo}-${m.info.name}`);
        const { files } = recipeOf(algo, m.info.name);
        write(dir, files);
        dirs.push({ dir, req: file(files, 'requirements.txt') });
      }
    const read = pyRead({ train: dirs.map((d) => join(d.dir, 'train.py')) });
    let checked = 0;
    for (const { dir, req } of dirs) {
      const v = req.includes('trl==0.19.1') ? '0.19.1' : '0.21.0';
      expect(req, dir).toContain(`trl==${v}`);
      for (const [cls, kwargs] of Object.entries(read.train[join(dir, 'train.py')].calls)) {
        const ok = allowed(cls, v);
        if (!ok) continue;
        for (const k of Object.keys(kwargs)) expect(ok, `${dir}: ${cls}(${k}=…)`).toContain(k);
        checked++;
      }
    }
    // Every recipe has its trainer config and (but for the requires_grad methods) its method config checked.
    expect(checked).toBeGreaterThan(RECIPE_ALGOS.length * listMethods().length);
  });

  it('SFT: the schedule, steps, batch, accumulation, length, packing and completion-only loss are the run’s', () => {
    const { run, files } = recipeOf('sft', 'lora', gpt2);
    const dir = join(tmp, 'sft-gpt2');
    write(dir, files);
    const got = pyRead({ train: [join(dir, 'train.py')] }).train[join(dir, 'train.py')];
    const cfg = got.calls.SFTConfig;
    expect(cfg).toMatchObject({
      lr_scheduler_type: 'linear',
      warmup_steps: 3, // lrAt: a tenth of 37 steps
      max_steps: run.steps,
      per_device_train_batch_size: run.batch,
      gradient_accumulation_steps: run.gradAccum,
      max_length: run.seqLen,
      packing: true,
      completion_only_loss: true,
      logging_steps: run.logEvery,
      eval_steps: run.evalEvery,
    });
    // GPT-2's LoRA: c_attn with fan_in_fan_out, as PEFT wants its Conv1D.
    expect(got.calls.LoraConfig).toMatchObject({ r: 4, lora_alpha: 16, use_rslora: true, use_dora: false });
    expect(got.calls.LoraConfig.target_modules).toEqual(['c_attn']);
    expect(got.calls.LoraConfig.fan_in_fan_out).toBe(true);
  });

  it('data/ holds the run’s split: the same rows the run tokenises, train and eval', () => {
    const { run, files } = recipeOf('sft', 'lora');
    const train = jsonl(file(files, 'data/train.jsonl'));
    const evalRows = jsonl(file(files, 'data/eval.jsonl'));
    const rows = sftData(md.tokenizer, md.config, data.sft, {
      seqLen: run.seqLen,
      evalFraction: 0.2,
      seed: run.seed,
    });
    const ids = (r: Record<string, unknown>[]) =>
      tokenizeForSft(
        dataTokenizer(md.tokenizer, md.config),
        r.map((x) => ({
          kind: 'prompt_completion' as const,
          prompt: String(x.prompt),
          completion: String(x.completion),
          source: { file: 'x' },
        })),
        { maxLength: run.seqLen },
      ).examples.map((e) => e.inputIds);
    expect(ids(train)).toEqual(rows.train.map((r) => [...r.inputIds]));
    expect(ids(evalRows)).toEqual(rows.eval.map((r) => [...r.inputIds]));
    expect(train.length + evalRows.length).toBe(data.sft.length);
    // Another seed gives another split, so the comparison can fail.
    const other = sftData(md.tokenizer, md.config, data.sft, {
      seqLen: run.seqLen,
      evalFraction: 0.2,
      seed: 8,
    });
    expect(ids(evalRows)).not.toEqual(other.eval.map((r) => [...r.inputIds]));
    // Reward models hold pairs out; DPO and the online algorithms train on all.
    const rm = recipeOf('reward', 'lora');
    expect(
      jsonl(file(rm.files, 'data/train.jsonl')).length + jsonl(file(rm.files, 'data/eval.jsonl')).length,
    ).toBe(data.pairs.length);
    expect(rm.files.some((f) => f.path === 'data/eval.jsonl')).toBe(true);
    const grpo = jsonl(file(recipeOf('grpo', 'prompt').files, 'data/train.jsonl'));
    expect(grpo.map((r) => r.prompt)).toEqual(
      data.prompts.map((e) => (e.kind === 'prompt_only' ? e.prompt : null)),
    );
  });

  it('the accelerate YAMLs parse to the distribution they name', () => {
    const { files } = recipeOf('sft', 'lora');
    const dir = join(tmp, 'yaml');
    write(dir, files);
    const names = ['single_gpu', 'multi_gpu', 'fsdp', 'deepspeed_zero2', 'deepspeed_zero3'];
    const y = pyRead({ yaml: names.map((n) => join(dir, `accelerate/${n}.yaml`)) }).yaml as Record<
      string,
      Record<string, unknown>
    >;
    const at = (n: string) => y[join(dir, `accelerate/${n}.yaml`)];
    expect(at('single_gpu').distributed_type).toBe('NO');
    expect(at('multi_gpu').distributed_type).toBe('MULTI_GPU');
    expect(at('fsdp').distributed_type).toBe('FSDP');
    expect((at('deepspeed_zero2').deepspeed_config as Record<string, unknown>).zero_stage).toBe(2);
    expect((at('deepspeed_zero3').deepspeed_config as Record<string, unknown>).zero_stage).toBe(3);
    const launch = file(files, 'accelerate/launch.sh');
    expect(launch).toContain('--machine_rank "$NODE_RANK"');
    expect(spawnSync('bash', ['-n', join(dir, 'accelerate/launch.sh')]).status).toBe(0);
  });

  it('the Python rewards score as the built-in ones', async () => {
    const items = [
      { prompt: 'It was a', completion: ' good and happy day', reference: 'good and happy day' },
      { prompt: 'She felt', completion: ' terrible, sad and   tired today', reference: 'fine' },
      { prompt: 'x', completion: 'cat cat dog 12 34', reference: ' cat cat dog 12 34 ' },
    ];
    for (const spec of ['sentiment', 'length:3', 'regex:\\d+', 'keywords:cat,day,sad', 'exact']) {
      const dir = join(tmp, `reward-${spec.replace(/[^a-z0-9]/g, '_')}`);
      const input = recipeInputOf({
        algo: 'grpo',
        model: { name: md.dir, config: md.config, tokenizer: md.tokenizer },
        examples: data.prompts,
        run: runOf('lora', {}),
        evalFraction: 0,
        rl: rlOf('grpo', runOf('lora', {})),
        reward: { kind: 'spec', spec },
      });
      write(dir, buildRecipe(input));
      const r = spawnSync(
        'python3',
        [
          '-c',
          `import json, sys; sys.path.insert(0, ${JSON.stringify(dir)}); from rewards import rewards; d = json.load(sys.stdin); print(json.dumps(rewards.reward(d["p"], d["c"], reference=d["r"])))`,
        ],
        {
          input: JSON.stringify({
            p: items.map((x) => x.prompt),
            c: items.map((x) => x.completion),
            r: items.map((x) => x.reference),
          }),
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const py = JSON.parse(r.stdout) as number[];
      const js = await builtinReward(parseRewardSpec(spec))(items);
      expect(py.length).toBe(js.length);
      for (const [i, v] of py.entries()) expect(v, `${spec} item ${i}`).toBeCloseTo(js[i], 12);
    }
  });

  it('a JavaScript reward is a marked stub with its source beside it', () => {
    const source = 'function reward({ completion }) { return completion.length; }';
    const input = recipeInputOf({
      algo: 'grpo',
      model: { name: md.dir, config: md.config, tokenizer: md.tokenizer },
      examples: data.prompts,
      run: runOf('lora', {}),
      evalFraction: 0,
      rl: rlOf('grpo', runOf('lora', {})),
      reward: { kind: 'js', source },
    });
    const files = buildRecipe(input);
    expect(file(files, 'rewards/reward.js')).toBe(source);
    expect(file(files, 'rewards/rewards.py')).toMatch(/STUB[\s\S]*NotImplementedError/);
  });

  it('the zip holds every file as written', () => {
    const { files } = recipeOf('dpo', 'ia3');
    const path = join(tmp, 'recipe.zip');
    writeFileSync(path, zipFiles(files, 'recipe'));
    const z = pyRead({ zip: [path] }).zip[path];
    expect(Object.keys(z).sort()).toEqual(files.map((f) => `recipe/${f.path}`).sort());
    for (const f of files) expect(z[`recipe/${f.path}`]).toBe(f.text);
  });
});

describe('recipe.json', () => {
  it('holds the run as the playground keeps it', async () => {
    const m = await openModelDir(MODEL);
    const prepared = await examples('public/datasets/plurals.jsonl');
    const run = runOf('ia3', {});
    const files = buildRecipe(
      recipeInputOf({
        algo: 'sft',
        model: { name: m.dir, config: m.config, tokenizer: m.tokenizer },
        examples: prepared,
        run,
        evalFraction: 0.2,
      }),
    );
    const spec = JSON.parse(file(files, 'recipe.json')) as {
      run: SftRunConfig;
      algo: string;
      counts: { train: number; eval: number };
    };
    expect(spec.run).toEqual(run);
    expect(spec.algo).toBe('sft');
    expect(spec.counts.train + spec.counts.eval).toBe(prepared.length);
  });
});
