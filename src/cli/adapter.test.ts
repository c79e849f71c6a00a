// `generate --adapter DIR` and `eval --adapter DIR` (adapter-dir.ts) on the built-in model, run as a user runs
// them (a child process through tsx). A LoRA is trained a few steps through the library on the eval text and
// saved as an adapter folder; the CLI's eval loss with it equals the CPU float64 twin's loss of the same
// batch with the adapter loaded (and is below the base model's), and its greedy text equals the twin's greedy
// text with the adapter. A folder without the files ends in a sentence naming what is missing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { Batcher } from '../data/batch';
import { prepareDataset } from '../data/prepare';
import { tokenizeForSft } from '../data/tokenize';
import { generate } from '../model/generate';
import { loadCheckpointSpecs } from '../model/load';
import { causalLmLoss } from '../model/loss';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { ADAMW_DEFAULTS, AdamW } from '../train/optimizer';
import { exactMatch } from '../train/sft-eval';
import { dataTokenizer, specialIds } from '../train/tokenizer-adapter';
import { loadWithAdapter, writeAdapterFolder } from './adapter-dir';
import { type ModelDir, openModelDir } from './model-dir';

const MODEL = 'public/models/tiny-llama-brown';
const B = 3;
const T = 32;
const PROMPT = 'The jury said';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const jsonLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let md: ModelDir;
let base: ParamSpec[];
let dir: string;
let data: string;
let batch: { inputIds: Int32Array; labels: Int32Array };

/** The eval command's one batch (same pipeline: prepare, tokenize for SFT, unshuffled fixed-shape batch). */
async function evalBatch(file: string) {
  const prepared = await prepareDataset(basename(file), new Uint8Array(readFileSync(file)), {
    onError: 'skip',
  });
  const tok = tokenizeForSft(dataTokenizer(md.tokenizer, md.config), prepared.examples, { maxLength: T });
  const { padId } = specialIds(md.tokenizer, md.config);
  const batcher = new Batcher(tok.examples, { batchSize: B, seqLen: T, padId, seed: 0, shuffle: false });
  expect(batcher.batchesPerEpoch).toBe(1);
  return batcher.batchAt(0);
}

/** Mean cross-entropy of `batch` on the twin, with the adapter folder or without. */
async function twinLoss(adapterDir: string | undefined): Promise<number> {
  const be = cpuBackend();
  const m = loadWithAdapter(be, md.config, base, adapterDir);
  const tp = new Tape(be, false);
  const { loss } = causalLmLoss(
    tp,
    md.config,
    m.ps,
    { ids: batch.inputIds, labels: batch.labels, B, T },
    m.hooks,
  );
  const v = (await be.read(loss.store, 1))[0];
  tp.dispose();
  m.dispose();
  return v;
}

/** A LoRA trained `steps` steps on `batch` on the GPU, saved as an adapter folder. */
async function trainAndSave<S, I>(be: Backend<S, I>, steps: number, out: string): Promise<void> {
  const lora = getMethod('lora');
  const plan = planAdapter(
    lora,
    { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'up_proj'] },
    md.config,
    base,
    1,
  );
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(lora, plan, md.config, ps);
  const opt = new AdamW(ps, { ...ADAMW_DEFAULTS, lr: 1e-2, weightDecay: 0, maxGradNorm: 1 });
  for (let s = 0; s < steps; s++) {
    const tp = new Tape(be, true);
    ps.zeroGrads();
    causalLmLoss(tp, md.config, ps, { ids: batch.inputIds, labels: batch.labels, B, T }, adapter.hooks);
    tp.backward();
    opt.update();
    tp.dispose();
  }
  writeAdapterFolder(out, (await adapter.save(md.dir)).files);
  opt.dispose();
  adapter.dispose();
  ps.dispose();
}

beforeAll(async () => {
  md = await openModelDir(MODEL);
  base = await loadCheckpointSpecs(md.config, md.reader);
  const tmp = mkdtempSync(join(tmpdir(), 'cli-adapter-'));
  data = join(tmp, 'eval.jsonl');
  writeFileSync(
    data,
    [
      'The jury said it did find that many of the laws are outmoded.',
      'It was a long day.',
      'The committee met in the morning and talked about the new school for an hour.',
    ]
      .map((text) => JSON.stringify({ text }))
      .join('\n'),
  );
  batch = await evalBatch(data);
  dir = join(tmp, 'lora');
  await trainAndSave(gpuBackend(await testGpu()), 4, dir);
}, 120_000);

describe('npm run cli -- eval/generate --adapter DIR', () => {
  it("eval --adapter gives the adapter's loss (the twin's with the adapter), not the base's", async () => {
    const r = cli(
      'eval',
      '--model',
      MODEL,
      '--data',
      data,
      '--batch',
      String(B),
      '--seq',
      String(T),
      '--adapter',
      dir,
    );
    expect(r.code, r.err).toBe(0);
    const [line] = jsonLines(r.out);
    expect(line.adapter).toBe('lora');
    // Plain text has no completion to score.
    expect(line.exact_match).toBeNull();
    const got = line.eval_loss as number;
    const withAdapter = await twinLoss(dir);
    const baseLoss = await twinLoss(undefined);
    // Trained on this very text: the adapter lowers the loss well past float32 noise.
    expect(withAdapter).toBeLessThan(baseLoss - 0.1);
    expect(Math.abs(got - withAdapter)).toBeLessThan(1e-4 * withAdapter);
  }, 120_000);

  it('generate --adapter continues greedily as the twin does with the adapter', async () => {
    const r = cli(
      'generate',
      '--model',
      MODEL,
      '--prompt',
      PROMPT,
      '--max-new-tokens',
      '6',
      '--json',
      '--adapter',
      dir,
    );
    expect(r.code, r.err).toBe(0);
    const [row] = jsonLines(r.out);
    expect(jsonLines(r.err).at(-1)?.peft_adapter).toBe('lora');
    const be = cpuBackend();
    const bos = dataTokenizer(md.tokenizer, md.config).bosId;
    const ids = md.tokenizer.encode(PROMPT);
    if (bos !== null && ids[0] !== bos) ids.unshift(bos);
    const { eosIds, padId } = specialIds(md.tokenizer, md.config);
    const twinText = async (adapterDir: string | undefined) => {
      const m = loadWithAdapter(be, md.config, base, adapterDir);
      const res = await generate(be, md.config, m.ps, [ids], {
        maxNewTokens: 6,
        temperature: 0,
        eosIds,
        padId,
        hooks: m.hooks,
        decode: (t) => md.tokenizer.decode(t, { skipSpecialTokens: true }),
      });
      m.dispose();
      return res.rows[0].text;
    };
    expect(row.text).toBe(await twinText(dir));
    // The adapter changes the continuation, so the equality above could not hold by running the base alone.
    expect(row.text).not.toBe(await twinText(undefined));
  }, 120_000);

  it('eval --adapter gives the exact match of greedy completions, as the twin scores them', async () => {
    // Prompt/completion rows: the completion is the model's own greedy continuation for the first three, so
    // all but the last (a made-up one) agree up to the end-of-sequence token the data layer appends. The
    // built-in model does not end sentences with EOS, so the figure may be 0; its correctness against
    // hand-made targets is sft.test.ts's; here the CLI must give the twin's figure for the same rows.
    const be = cpuBackend();
    const m = loadWithAdapter(be, md.config, base, dir);
    const { eosIds } = specialIds(md.tokenizer, md.config);
    const prompts = ['The jury said', 'It was a', 'The committee met'];
    const dt = dataTokenizer(md.tokenizer, md.config);
    const cont = await generate(
      be,
      md.config,
      m.ps,
      prompts.map((p) => [...(dt.bosId !== null ? [dt.bosId] : []), ...dt.encode(p)]),
      { maxNewTokens: 3, temperature: 0, eosIds, hooks: m.hooks, decode: (t) => md.tokenizer.decode(t) },
    );
    const rows = prompts.map((prompt, i) => ({ prompt, completion: cont.rows[i].text }));
    rows.push({ prompt: 'It was a long', completion: ' zebra zebra zebra' });
    const pc = join(mkdtempSync(join(tmpdir(), 'cli-em-')), 'pc.jsonl');
    writeFileSync(pc, rows.map((r) => JSON.stringify(r)).join('\n'));
    const prepared = await prepareDataset('pc.jsonl', new Uint8Array(readFileSync(pc)), { onError: 'skip' });
    const tok = tokenizeForSft(dt, prepared.examples, { maxLength: T });
    const want = await exactMatch(be, md.config, m.ps, m.hooks, tok.examples, eosIds);
    m.dispose();
    expect(want).not.toBeNull();
    const r = cli('eval', '--model', MODEL, '--data', pc, '--seq', String(T), '--adapter', dir);
    expect(r.code, r.err).toBe(0);
    expect(jsonLines(r.out)[0].exact_match).toBeCloseTo(want as number, 12);
  }, 120_000);

  it('a folder without adapter files ends in a sentence naming the missing file', () => {
    const empty = mkdtempSync(join(tmpdir(), 'cli-adapter-empty-'));
    const r = cli('eval', '--model', MODEL, '--data', data, '--adapter', empty);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--adapter ${empty}: no adapter_config.json`);
  }, 60_000);
});
