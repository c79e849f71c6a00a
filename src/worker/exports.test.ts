// The page's adapter and merged-model exports as the Hugging Face ecosystem reads them: one zip each, a folder
// named after the run inside. The adapter folder holds adapter_config.json, adapter_model.safetensors (loading
// back through the adapter import path to the same weights) and a README model card with the run's figures;
// the merged folder holds config.json, model.safetensors and the model's tokenizer files. Python's zipfile (an
// independent reader) checks the archive and its CRCs where Python 3 is present.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesSource, SafetensorsFile } from '../formats/safetensors';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { Adapter, planAdapter } from '../peft/adapter';
import { planFromAdapterConfig } from '../peft/files';
import { getMethod } from '../peft/registry';
import { cpuBackend } from '../tensor/cpu-backend';
import { ParamSet } from '../tensor/params';
import { sftRunConfig } from '../train/sft-config';
import { Exports, folderName } from './exports';
import type { LoadedModel } from './model';
import type { FromWorker, RunSpec } from './protocol';

const HAS_PYTHON = spawnSync('python3', ['-c', 'import zipfile'], { encoding: 'utf8' }).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'exports-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The entries of a stored (method 0) zip, read from its local headers. */
function unzip(bytes: Uint8Array): Map<string, Uint8Array> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, Uint8Array>();
  let at = 0;
  while (v.getUint32(at, true) === 0x04034b50) {
    expect(v.getUint16(at + 8, true)).toBe(0);
    const size = v.getUint32(at + 18, true);
    const nameLen = v.getUint16(at + 26, true);
    const extra = v.getUint16(at + 28, true);
    const name = new TextDecoder().decode(bytes.subarray(at + 30, at + 30 + nameLen));
    const start = at + 30 + nameLen + extra;
    out.set(name, bytes.slice(start, start + size));
    at = start + size;
  }
  return out;
}

/** Python's own reading: names in order, and testzip's CRC check (null when every CRC matches). */
function pythonNames(bytes: Uint8Array, file: string): string[] {
  const path = join(tmp, file);
  writeFileSync(path, bytes);
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import json,sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(json.dumps([z.testzip(), z.namelist()]))',
      path,
    ],
    { encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  const [bad, names] = JSON.parse(r.stdout) as [string | null, string[]];
  expect(bad).toBeNull();
  return names;
}

const spec: RunSpec = {
  id: 'run-abc',
  label: 'lora',
  datasetId: 'ds1',
  config: sftRunConfig({
    method: 'lora',
    options: { r: 4 },
    lr: 1e-3,
    steps: 12,
    batch: 2,
    seqLen: 16,
    seed: 3,
  }),
  evalFraction: 0.1,
  checkpointEvery: 5,
  predictedBytes: 0,
};

const TOKENIZER_JSON = { version: '1.0', model: { type: 'BPE', vocab: { a: 0 } } };
const TOKENIZER_CONFIG = '{"eos_token": "</s>"}';

async function setup() {
  const c = TINY_LLAMA;
  const be = cpuBackend();
  const base = randomModelParams(c, 3, () => false, 0.2, true);
  const m = getMethod('lora');
  const plan = planAdapter(m, { r: 4, lora_alpha: 8 }, c, base, 7);
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(m, plan, c, ps);
  const files: { name: string; bytes: Uint8Array; mime: string }[] = [];
  const errors: string[] = [];
  const post = (msg: FromWorker) => {
    if (msg.type === 'file') files.push({ name: msg.name, bytes: new Uint8Array(msg.bytes), mime: msg.mime });
    if (msg.type === 'runError') errors.push(msg.message);
  };
  const model = {
    name: 'tiny-llama-brown',
    config: c,
    tokenizerFiles: { tokenizerJson: TOKENIZER_JSON, tokenizerConfig: TOKENIZER_CONFIG },
  } as unknown as LoadedModel;
  const scheduler = {
    exclusive: <T>(_id: string, f: (run: { spec: RunSpec }, r: { adapter: typeof adapter }) => Promise<T>) =>
      f({ spec }, { adapter }),
  };
  const exports = new Exports(post, async () => model, scheduler as never);
  return { c, base, adapter, files, errors, exports };
}

describe('exports', () => {
  it('the adapter: one zip, a folder named after the run, PEFT file names, a model card; loads back equal', async () => {
    const { c, base, adapter, files, errors, exports } = await setup();
    await exports.adapter(spec.id, {
      name: 'lora-2',
      dataset: 'plurals.jsonl',
      steps: 12,
      trainLoss: 2.5,
      evalLoss: 3.25,
      exactMatch: 0.5,
    });
    expect(errors).toEqual([]);
    expect(files.map((f) => [f.name, f.mime])).toEqual([['adapter.zip', 'application/zip']]);
    const entries = unzip(files[0].bytes);
    expect([...entries.keys()]).toEqual([
      'lora-2/adapter_config.json',
      'lora-2/adapter_model.safetensors',
      'lora-2/README.md',
    ]);
    if (HAS_PYTHON) expect(pythonNames(files[0].bytes, 'adapter.zip')).toEqual([...entries.keys()]);

    const saved = await adapter.save('tiny-llama-brown');
    const config = new TextDecoder().decode(entries.get('lora-2/adapter_config.json'));
    expect(config).toBe(saved.files.config);
    const weights = entries.get('lora-2/adapter_model.safetensors') as Uint8Array;
    expect(Array.from(weights)).toEqual(Array.from(saved.files.weights));
    // Through the import path: the config plans the same adapter, the weights load into it, and it saves back
    // the same tensors.
    const back = planFromAdapterConfig(config, c, base, 99);
    const b = new Adapter(back.method, back.plan, c, new ParamSet(cpuBackend(), back.plan.specs));
    b.load(weights);
    const original = await SafetensorsFile.open(bytesSource(saved.files.weights, 'x'));
    const reloaded = await SafetensorsFile.open(
      bytesSource((await b.save('tiny-llama-brown')).files.weights, 'x'),
    );
    expect(reloaded.keys().sort()).toEqual(original.keys().sort());
    for (const k of original.keys())
      expect(Array.from(await reloaded.readF32(k))).toEqual(Array.from(await original.readF32(k)));

    const card = new TextDecoder().decode(entries.get('lora-2/README.md'));
    expect(card).toContain('base_model: "tiny-llama-brown"');
    expect(card).toContain('library_name: peft');
    expect(card).toContain('- Method: lora');
    expect(card).toContain('| r | 4 |');
    expect(card).toContain('- Dataset: plurals.jsonl');
    expect(card).toContain('- Steps: 12');
    expect(card).toContain('- Final train loss: 2.5000');
    expect(card).toContain('- Final eval loss: 3.2500');
    expect(card).toContain('- Exact match (eval split): 50.0%');
  });

  it('the merged model: one zip with config, weights and the tokenizer files', async () => {
    const { files, errors, exports } = await setup();
    await exports.merged(spec.id, { name: 'lora' });
    expect(errors).toEqual([]);
    expect(files.map((f) => f.name)).toEqual(['merged.zip']);
    const entries = unzip(files[0].bytes);
    expect([...entries.keys()]).toEqual([
      'lora/config.json',
      'lora/model.safetensors',
      'lora/tokenizer.json',
      'lora/tokenizer_config.json',
    ]);
    if (HAS_PYTHON) expect(pythonNames(files[0].bytes, 'merged.zip')).toEqual([...entries.keys()]);
    const text = (k: string) => new TextDecoder().decode(entries.get(k));
    expect(JSON.parse(text('lora/tokenizer.json'))).toEqual(TOKENIZER_JSON);
    expect(text('lora/tokenizer_config.json')).toBe(TOKENIZER_CONFIG);
    expect(JSON.parse(text('lora/config.json')).num_hidden_layers).toBe(TINY_LLAMA.numLayers);
    const st = await SafetensorsFile.open(
      bytesSource(entries.get('lora/model.safetensors') as Uint8Array, 'x'),
    );
    expect(st.keys().length).toBeGreaterThan(0);
  });

  it('names: the display name made file-safe, else the run id', () => {
    expect(folderName({ name: 'lora (2)' }, 'x')).toBe('lora-2');
    expect(folderName({ name: 'ppo lora' }, 'x')).toBe('ppo-lora');
    expect(folderName(undefined, 'run-1')).toBe('run-1');
  });
});
