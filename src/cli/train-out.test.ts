// Nothing lost: `train --out` is checked before training (a path that cannot be written fails at once,
// before any step), files land whole (temporary name, then rename), the saved state reads back and refuses
// a run with other settings, and Ctrl-C saves the state, from which `--resume` goes on with the losses an
// uninterrupted run has at the same steps.
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePairsData } from '../../test/helpers/pairs-data';
import { SFT_DEFAULTS, type SftRunConfig } from '../train/sft-config';
import { prepareOutDir, writeFileAtomic } from './files';
import { checkMergeOut } from './merge';
import { decodeTrainState, encodeTrainState, STATE_FILE } from './train-state';

const MODEL = 'test/fixtures/models/llama-tiny';
let tmp: string;
let data: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cli-out-'));
  data = writePairsData(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// The CLI run's settings below (r=2, seed 3, batch 2, seq 24), as its saved state records them.
const run: SftRunConfig = {
  ...SFT_DEFAULTS,
  method: 'lora',
  options: { r: '2' },
  lr: 0.01,
  seed: 3,
  batch: 2,
  seqLen: 24,
};

describe('output files', () => {
  it('an unwritable --out is refused naming the flag and the reason', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(() => prepareOutDir(file)).toThrow(`--out ${file}: exists and is not a folder`);
    expect(() => prepareOutDir(join(file, 'sub'))).toThrow(
      /^--out .*a-file\/sub: cannot write there \(ENOTDIR\)/,
    );
    expect(() => prepareOutDir('')).toThrow('--out is empty');
    const ok = prepareOutDir(join(tmp, 'new', 'deep'));
    expect(existsSync(ok)).toBe(true);
    expect(readdirSync(ok)).toEqual([]);
  });

  it('writes through a temporary name: a failed write leaves the old file and no temporary', () => {
    const dir = join(tmp, 'atomic');
    mkdirSync(join(dir, 'taken'), { recursive: true });
    writeFileAtomic(join(dir, 'f.txt'), 'one');
    writeFileAtomic(join(dir, 'f.txt'), 'two');
    expect(readFileSync(join(dir, 'f.txt'), 'utf8')).toBe('two');
    expect(() => writeFileAtomic(join(dir, 'taken'), 'x')).toThrow(/taken: could not be written/);
    expect(readdirSync(dir).sort()).toEqual(['f.txt', 'taken']);
  });

  it('the saved state reads back, and a run with other settings is refused naming the setting', () => {
    const ck = {
      step: 3,
      tokens: 99,
      activeMs: 12.5,
      params: Float32Array.of(1, 2),
      m: Float32Array.of(0.5, -1),
      v: Float32Array.of(0.25, 4),
    };
    const bytes = encodeTrainState(ck, run);
    expect(decodeTrainState(bytes, run, 's')).toEqual(ck);
    expect(() => decodeTrainState(bytes, { ...run, seed: 7 }, 's')).toThrow(
      `--resume s: saved with seed ${run.seed}, this run has 7`,
    );
    expect(() => decodeTrainState(bytes, { ...run, options: { r: 4 } }, 's')).toThrow(/saved with options/);
  });
});

const FLAGS = ['--model', MODEL, '--method', 'lora', '--set', 'r=2', '--lr', '0.01', '--steps', '8'];
const FLAGS2 = ['--batch', '2', '--seq', '24', '--seed', '3', '--eval-every', '0', '--log-every', '1'];
const cliArgs = (...more: string[]) => [
  '--import',
  'tsx',
  'src/cli/main.ts',
  'train',
  ...FLAGS,
  ...FLAGS2,
  '--data',
  data,
  ...more,
];
const lines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const losses = (out: string) =>
  new Map(
    lines(out)
      .filter((l) => typeof l.loss === 'number' && !l.done)
      .map((l) => [l.step as number, l.loss as number]),
  );

describe('train --out, Ctrl-C and --resume', () => {
  it('fails before the first step when --out cannot be written', () => {
    const file = join(tmp, 'plain');
    writeFileSync(file, 'x');
    const r = spawnSync(process.execPath, cliArgs('--out', join(file, 'run')), {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--out .*plain\/run: cannot write there \(ENOTDIR\), checked before any work/);
    expect(r.stdout).toBe('');
  }, 60_000);

  it('Ctrl-C saves the state; --resume continues with the losses of an uninterrupted run', async () => {
    const every = join(tmp, 'every');
    const whole = spawnSync(process.execPath, cliArgs('--out', every, '--save-every', '3'), {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(whole.status, whole.stderr).toBe(0);
    const ref = losses(whole.stdout);
    expect([...ref.keys()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // --save-every 3 of 8 steps: the last state saved is step 6's.
    const saved = decodeTrainState(new Uint8Array(readFileSync(join(every, STATE_FILE))), run, 's');
    expect(saved.step).toBe(6);

    const out = join(tmp, 'interrupted');
    const child = spawn(process.execPath, cliArgs('--out', out));
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!sent && /"step":2,/.test(stdout)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    expect(code, stderr).toBe(130);
    const stop = lines(stdout).find((l) => l.interrupted === true);
    expect(stop?.saved).toBe(out);
    const at = stop?.step as number;
    expect(at).toBeGreaterThanOrEqual(2);
    expect(at).toBeLessThan(8);
    expect(existsSync(join(out, STATE_FILE))).toBe(true);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);

    const resumed = spawnSync(process.execPath, cliArgs('--resume', out, '--out', out), {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(lines(resumed.stdout).find((l) => l.resumed_from)?.step).toBe(at);
    const after = losses(resumed.stdout);
    expect([...after.keys()]).toEqual([...ref.keys()].filter((s) => s > at));
    for (const [s, l] of after)
      expect(Math.abs(l - (ref.get(s) as number)) / (ref.get(s) as number)).toBeLessThan(1e-4);
  }, 300_000);
});

describe('merge --out', () => {
  it('equal to or inside --model is refused before anything is written', () => {
    expect(() => checkMergeOut('models/m', 'models/m/')).toThrow(
      '--out models/m/ is the --model folder (models/m): the merged weights would overwrite the base; choose another folder',
    );
    expect(() => checkMergeOut('models/m', './models/m/merged')).toThrow(/is inside the --model folder/);
    expect(() => checkMergeOut('models/m', 'models/m2')).not.toThrow();
    expect(() => checkMergeOut('models/m', 'models')).not.toThrow();
  });

  it('the CLI refuses it', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'merge', '--model', MODEL, '--adapter', tmp, '--out', MODEL],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--out .* is the --model folder/);
  }, 60_000);
});
