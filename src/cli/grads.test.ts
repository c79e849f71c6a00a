// The `grads` dump's adapter is the adapter `train --out` saves: for the methods whose indices are fixed,
// not trained — sparse fine-tuning (random and N:M masks) and row fine-tuning — a dump holds every
// target's indices beside its values, and its adapter_config.json and adapter_model.safetensors are byte
// for byte those of `train --steps 0 --out` (the same method, options and seed, saved before any update).
// Both commands run as a user runs them, on the Llama and GPT-2 fixtures.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource, SafetensorsFile } from '../formats/safetensors';

const DATA = 'test/fixtures/models/sft-data.jsonl';

interface Case {
  model: 'llama-tiny' | 'gpt2-tiny';
  method: 'sparse' | 'rows';
  set: string[];
  /** Saved key suffixes of the values and the indices. */
  values: string;
  indices: string;
  /** Targets under the default all-linear: Llama 7 per block, GPT-2 4 per block; two blocks. */
  targets: number;
  /** Indices per values row (sparse: one per value; rows: one per row of [k, in]). */
  check: (ids: Int32Array, valuesShape: readonly number[]) => void;
}

const sparseCheck = (ids: Int32Array, shape: readonly number[]) => expect(ids.length).toBe(shape[0]);
const rowsCheck = (ids: Int32Array, shape: readonly number[]) => {
  expect(shape.length).toBe(2);
  expect(ids.length).toBe(shape[0]);
};
// 2:4: exactly two of every four consecutive flat indices' groups (the groups never straddle rows).
const nmCheck = (ids: Int32Array, shape: readonly number[]) => {
  expect(ids.length).toBe(shape[0]);
  const groups = new Map<number, number>();
  for (const q of ids) groups.set(Math.floor(q / 4), (groups.get(Math.floor(q / 4)) ?? 0) + 1);
  expect([...groups.values()].every((n) => n === 2)).toBe(true);
};

const CASES: Case[] = [
  {
    model: 'llama-tiny',
    method: 'sparse',
    set: ['density=0.05', 'mask_seed=5'],
    values: '.sparse_values',
    indices: '.sparse_indices',
    targets: 14,
    check: sparseCheck,
  },
  ...(['llama-tiny', 'gpt2-tiny'] as const).flatMap((model): Case[] => [
    {
      model,
      method: 'sparse',
      set: ['mask=nm', 'nm=2:4', 'mask_seed=5'],
      values: '.sparse_values',
      indices: '.sparse_indices',
      targets: model === 'llama-tiny' ? 14 : 8,
      check: nmCheck,
    },
    {
      model,
      method: 'rows',
      set: ['density=0.25', 'mask_seed=5'],
      values: '.row_values',
      indices: '.row_indices',
      targets: model === 'llama-tiny' ? 14 : 8,
      check: rowsCheck,
    },
  ]),
];

const tmp = mkdtempSync(join(tmpdir(), 'cli-grads-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
}

const open = (dir: string, f: string) =>
  SafetensorsFile.open(bytesSource(new Uint8Array(readFileSync(join(dir, f))), f));

describe('npm run cli -- grads for the methods with fixed indices', () => {
  CASES.forEach((c, n) => {
    const what = `${c.method} ${c.set.join(' ')} on ${c.model}`;
    it(`${what}: dumps the adapter as train --out saves it, indices included and equal to train's`, async () => {
      const common = ['--model', `test/fixtures/models/${c.model}`, '--data', DATA, '--method', c.method];
      const opts = [...c.set.flatMap((x) => ['--set', x]), '--seed', '1', '--batch', '3', '--seq', '12'];
      const dump = join(tmp, `dump${n}`);
      const saved = join(tmp, `saved${n}`);
      cli('grads', ...common, ...opts, '--out', dump);
      cli('train', ...common, ...opts, '--steps', '0', '--eval-every', '0', '--out', saved);

      const got = await open(dump, 'adapter_model.safetensors');
      const want = await open(saved, 'adapter_model.safetensors');
      const indexKeys = got.keys().filter((k) => k.endsWith(c.indices));
      const valueKeys = got.keys().filter((k) => k.endsWith(c.values));
      expect(indexKeys.length).toBe(c.targets);
      expect(indexKeys.map((k) => k.replace(c.indices, c.values)).sort()).toEqual([...valueKeys].sort());
      expect(want.keys().sort()).toEqual(got.keys().sort());
      for (const k of indexKeys) {
        expect(got.info(k).dtype).toBe('I32');
        const ids = await got.readI32(k);
        c.check(ids, got.info(k.replace(c.indices, c.values)).shape);
        expect([...ids]).toEqual([...(await want.readI32(k))]);
      }
      // Exactly the same files, not merely the same indices.
      expect(readFileSync(join(dump, 'adapter_config.json'), 'utf8')).toBe(
        readFileSync(join(saved, 'adapter_config.json'), 'utf8'),
      );
      expect(
        Buffer.compare(
          readFileSync(join(dump, 'adapter_model.safetensors')),
          readFileSync(join(saved, 'adapter_model.safetensors')),
        ),
      ).toBe(0);
      // The gradients are keyed as the trained tensors are saved: one per values tensor, none for indices,
      // each of its tensor's shape and not all zero.
      const grads = await open(dump, 'grads.safetensors');
      expect(grads.keys().sort()).toEqual([...valueKeys].sort());
      let nonzero = 0;
      for (const k of valueKeys) {
        expect(grads.info(k).shape).toEqual(got.info(k).shape);
        if ((await grads.readF32(k)).some((x) => x !== 0)) nonzero++;
      }
      expect(nonzero).toBeGreaterThan(0);
    }, 240_000);
  });
});
