// The CLI's failures say what happened, where: a folder given as --data, a --seq too short for any example
// (with the tokenizer's reason), a model file named once (not its folder twice), NaN weights not blamed on
// the learning rate, and strict flags end the run before any work.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MODEL = 'test/fixtures/models/llama-tiny';
let tmp: string;
let data: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cli-reasons-'));
  data = join(tmp, 'd.jsonl');
  writeFileSync(
    data,
    ['hello world one', 'hello there two', 'good day three']
      .map((t) => JSON.stringify({ text: t }))
      .join('\n'),
  );
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('CLI failures name what and where', () => {
  it('a folder as --data, a missing file, a misspelt flag', () => {
    expect(cli('train', '--model', MODEL, '--data', tmp).err).toBe(
      `error: --data ${tmp}: is a folder; give a dataset file (.jsonl, .json, .csv, .parquet, .txt)\n`,
    );
    expect(cli('eval', '--model', MODEL, '--data', join(tmp, 'nope.jsonl')).err).toBe(
      `error: --data ${join(tmp, 'nope.jsonl')}: no such file\n`,
    );
    const r = cli('train', '--model', MODEL, '--data', data, '--stpes', '3');
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: unknown flag --stpes for train (did you mean --steps?)\n');
  }, 60_000);

  it('--seq 1 says why no example is usable', () => {
    const r = cli('train', '--model', MODEL, '--data', data, '--seq', '1', '--steps', '1');
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `error: ${data}: no usable training examples: 3 of 3 skipped; the first: d.jsonl line 1: the example has no token left to train on after truncation to 1 tokens;`,
    );
  }, 60_000);

  it('a model file is named once, not with its folder twice', () => {
    const m = join(tmp, 'nine-layers');
    cpSync(MODEL, m, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(m, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(m, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 9 }));
    const r = cli('train', '--model', m, '--data', data, '--steps', '1');
    expect(r.err).toMatch(
      new RegExp(
        `^error: ${m}/model-0000\\d-of-00002\\.safetensors: is missing \\d+ tensor\\(s\\) that ${m}/config\\.json implies`,
      ),
    );
  }, 60_000);

  it('NaN in the weights is not blamed on --lr', () => {
    const m = join(tmp, 'nan');
    cpSync(MODEL, m, { recursive: true });
    for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const b = new Uint8Array(readFileSync(join(m, shard)));
      const start = 8 + Number(new DataView(b.buffer).getBigUint64(0, true));
      b.fill(0xff, start); // all-ones: NaN in F32, F16 and BF16
      writeFileSync(join(m, shard), b);
    }
    const r = cli('train', '--model', m, '--data', data, '--steps', '2', '--batch', '1', '--seq', '16');
    expect(r.code).toBe(1);
    // Without a GPU, Dawn's adapter warnings and the SwiftShader notice come first on stderr.
    expect(r.err.slice(r.err.indexOf('error: '))).toBe(
      `error: the training loss is NaN at step 1, before any update: not the learning rate; the model gives a non-finite output (check ${m} for NaN or Inf weights)\n`,
    );
  }, 60_000);

  it('RL: an unwritable --out fails before any step', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = cli('train', '--algo', 'grpo', '--model', MODEL, '--out', join(file, 'run'), '--steps', '1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^error: --out .*a-file\/run: cannot write there \(ENOTDIR\), checked before any work\n$/,
    );
    expect(r.out).toBe('');
  }, 60_000);
});
