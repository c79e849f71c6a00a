// The `grads` dump's adapter is the adapter `train --out` saves: for sparse fine-tuning (whose indices are
// fixed, not trained) a dump holds every target's `sparse_indices` beside its `sparse_values`, and its
// adapter_config.json and adapter_model.safetensors are byte for byte those of `train --steps 0 --out`
// (the same method, options and seed, saved before any update). Both commands run as a user runs them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource, SafetensorsFile } from '../formats/safetensors';

const MODEL = 'test/fixtures/models/llama-tiny';
const DATA = 'test/fixtures/models/sft-data.jsonl';
const COMMON = ['--model', MODEL, '--data', DATA, '--method', 'sparse', '--batch', '3', '--seq', '12'];
const OPTIONS = ['--set', 'density=0.05', '--set', 'mask_seed=5', '--seed', '1'];

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

describe('npm run cli -- grads --method sparse', () => {
  it("dumps the adapter as train --out saves it, sparse_indices included and equal to train's", async () => {
    const dump = join(tmp, 'dump');
    const saved = join(tmp, 'saved');
    cli('grads', ...COMMON, ...OPTIONS, '--out', dump);
    cli('train', ...COMMON, ...OPTIONS, '--steps', '0', '--eval-every', '0', '--out', saved);

    const got = await open(dump, 'adapter_model.safetensors');
    const want = await open(saved, 'adapter_model.safetensors');
    const indexKeys = got.keys().filter((k) => k.endsWith('.sparse_indices'));
    const valueKeys = got.keys().filter((k) => k.endsWith('.sparse_values'));
    // Llama's default targets (all-linear): seven linear layers in each of the two blocks.
    expect(indexKeys.length).toBe(14);
    expect(indexKeys.map((k) => k.replace('indices', 'values')).sort()).toEqual([...valueKeys].sort());
    expect(want.keys().sort()).toEqual(got.keys().sort());
    for (const k of indexKeys) {
      expect(got.info(k).dtype).toBe('I32');
      const ids = await got.readI32(k);
      expect(ids.length).toBe(got.info(k.replace('indices', 'values')).shape[0]);
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
    // The gradients are keyed as the trained tensors are saved: one per values tensor, none for indices.
    const grads = await open(dump, 'grads.safetensors');
    expect(grads.keys().sort()).toEqual([...valueKeys].sort());
  }, 180_000);
});
