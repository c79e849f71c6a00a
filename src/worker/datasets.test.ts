// The worker's datasets with the built-in model's tokenizer and an in-memory stand-in for the checkpoint
// database: a dropped file's summary (shape, mapping, counts, histogram), a file whose columns match no
// shape kept for a hand-made mapping and parsed again with it, a run's dataset saved once when the run
// checkpoints (not when it does not), and found again by a new page (a reload) from the saved bytes.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alpacaPrompt } from '../data/template';
import { tokenizeExample } from '../data/tokenize';
import type { ColumnMapping } from '../data/types';
import { loadCheckpointSpecs } from '../model/load';
import { dirModelSource } from '../model/sources/node-dir';
import { SFT_DEFAULTS } from '../train/sft-config';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { SavedDataset } from './checkpoints';
import { Datasets } from './datasets';
import type { LoadedModel } from './model';
import type { FromWorker, RunSpec } from './protocol';

const MODEL_DIR = join(import.meta.dirname, '..', '..', 'public', 'models', 'tiny-llama-brown');

let model: Promise<LoadedModel> | null = null;
function builtin(): Promise<LoadedModel> {
  model ??= dirModelSource(MODEL_DIR)
    .open()
    .then((o) => ({ ...o, name: 'tiny', base: loadCheckpointSpecs(o.config, o.reader) }));
  return model;
}

const enc = (s: string) => {
  const b = new TextEncoder().encode(s);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const JSONL = Array.from({ length: 6 }, (_, i) =>
  JSON.stringify({ prompt: `The plural of w${i} is`, completion: ` w${i}s.` }),
).join('\n');
const ODD = `q,a\n${Array.from({ length: 5 }, (_, i) => `say ${i},${i} ${i}`).join('\n')}\n`;

function setup(store = new Map<string, SavedDataset>()) {
  const posted: FromWorker[] = [];
  const saves: string[] = [];
  const ds = new Datasets((m) => posted.push(m), builtin, {
    save: async (id, d) => {
      saves.push(id);
      store.set(id, { name: d.name, bytes: d.bytes, mapping: d.mapping, onError: d.onError });
    },
    load: async (id) => store.get(id) ?? null,
  });
  return { ds, posted, saves, store };
}

const spec = (datasetId: string, checkpointEvery: number): RunSpec => ({
  id: 'r',
  label: 'r',
  datasetId,
  config: { ...SFT_DEFAULTS, method: 'lora', options: {}, lr: 0.01 },
  evalFraction: 0.1,
  checkpointEvery,
  predictedBytes: 1,
});

describe('worker datasets', () => {
  it('summarises a dropped file, and maps an unrecognised one by hand', async () => {
    const { ds, posted } = setup();
    await ds.add({
      type: 'addDataset',
      id: 'p',
      name: 'p.jsonl',
      bytes: enc(JSONL),
      onError: 'skip',
      seqLen: 32,
    });
    const ready = posted[0];
    expect(ready?.type).toBe('datasetReady');
    if (ready?.type !== 'datasetReady') return;
    expect(ready.dataset).toMatchObject({
      id: 'p',
      format: 'jsonl',
      rows: 6,
      examples: 6,
      shape: 'prompt_completion',
      skipped: 0,
      truncatedAt: 32,
    });
    expect(ready.dataset.histogram.count).toBe(6);
    expect(ready.dataset.histogram.bins.reduce((a, b) => a + b.count, 0)).toBe(6);

    // Columns q and a match no shape: an error naming the columns, and the bytes kept for a mapping.
    await ds.add({
      type: 'addDataset',
      id: 'o',
      name: 'o.csv',
      bytes: enc(ODD),
      onError: 'skip',
      seqLen: 32,
    });
    const err = posted[1];
    expect(err).toMatchObject({ type: 'datasetError', id: 'o', columns: ['q', 'a'] });
    const mapping: ColumnMapping = { prompt: 'q', completion: 'a' };
    await ds.remap({ type: 'remapDataset', id: 'o', mapping, onError: 'skip', seqLen: 32 });
    expect(posted[2]).toMatchObject({
      type: 'datasetReady',
      dataset: { id: 'o', rows: 5, examples: 5, shape: 'prompt_completion', mapping },
    });
    await ds.remap({ type: 'remapDataset', id: 'gone', onError: 'skip', seqLen: 32 });
    expect(posted[3]).toMatchObject({
      type: 'datasetError',
      id: 'gone',
      message: 'this dataset is no longer loaded; drop it again',
    });
  });

  it("saves a checkpointing run's dataset once, and a new page finds it from the saved bytes", async () => {
    const { ds, saves, store } = setup();
    await ds.add({
      type: 'addDataset',
      id: 'p',
      name: 'p.jsonl',
      bytes: enc(JSONL),
      onError: 'skip',
      seqLen: 32,
    });
    await ds.forRun(spec('p', 0));
    expect(saves).toEqual([]);
    const first = await ds.forRun(spec('p', 5));
    await ds.forRun(spec('p', 5));
    await new Promise((r) => setTimeout(r, 0));
    expect(saves).toEqual(['p']);

    const reloaded = setup(store);
    const again = await reloaded.ds.forRun(spec('p', 5));
    expect(again.saved).toBe(true);
    expect(again.prepared.examples).toEqual(first.prepared.examples);
    expect(reloaded.saves).toEqual([]);
    await expect(reloaded.ds.forRun(spec('nope', 5))).rejects.toThrow(
      'dataset nope is neither loaded nor saved; drop it again',
    );
  });

  it('renders what the model sees with the tokenizer training uses: Alpaca rows through the Alpaca template', async () => {
    const { ds, posted } = setup();
    const rows = [
      { instruction: 'Give the opposite of the word.', input: 'hot', output: ' cold' },
      { instruction: 'Name a colour.', input: '', output: ' red' },
    ];
    const alpaca = rows.map((r) => JSON.stringify(r)).join('\n');
    await ds.add({
      type: 'addDataset',
      id: 'a',
      name: 'a.jsonl',
      bytes: enc(alpaca),
      onError: 'skip',
      seqLen: 128,
    });
    const ready = posted[0];
    if (ready?.type !== 'datasetReady') throw new Error(`expected datasetReady, got ${ready?.type}`);
    expect(ready.dataset.template).toBe('alpaca');
    expect(ready.dataset.rendered).toHaveLength(2);
    const m = await builtin();
    const tok = dataTokenizer(m.tokenizer, m.config);
    // The same ids training gets (tokenizeExample on the templated example), as pieces.
    const full = tokenizeExample(
      tok,
      {
        kind: 'prompt_completion',
        prompt: alpacaPrompt(rows[0].instruction, rows[0].input),
        completion: ' cold',
        source: { file: 'a.jsonl', line: 1 },
      },
      { maxLength: 128 },
    );
    const [seq] = ready.dataset.rendered[0];
    expect(seq.pieces.map((p) => p.text)).toEqual(full.inputIds.map((id) => tok.decode([id])));
    expect(seq.pieces.map((p) => p.trained)).toEqual(full.labels.map((l) => l !== -100));
    expect(seq).toMatchObject({ truncated: false, fullLength: full.inputIds.length });
    expect(seq.pieces.filter((p) => p.trained).length).toBeGreaterThan(0);
    expect(seq.pieces.slice(0, 10).some((p) => p.trained)).toBe(false);

    // Another template on request: "none" renders the prompt as validate joined it, unglued from the answer
    // only by what the data holds.
    await ds.remap({ type: 'remapDataset', id: 'a', onError: 'skip', seqLen: 64, template: 'none' });
    const again = posted[1];
    if (again?.type !== 'datasetReady') throw new Error('expected datasetReady');
    expect(again.dataset.template).toBe('none');
    const text = again.dataset.rendered[0][0].pieces.map((p) => p.text).join('');
    expect(text).toContain('Give the opposite of the word.\n\nhot cold');
    expect((await ds.forRun(spec('a', 0))).template).toBe('none');
    // Cut at 4 tokens, the prompt fills them all: training leaves the row out, and the preview says so.
    await ds.remap({ type: 'remapDataset', id: 'a', onError: 'skip', seqLen: 4 });
    const cut = posted[2];
    if (cut?.type !== 'datasetReady') throw new Error('expected datasetReady');
    expect(cut.dataset.template).toBe('none');
    const [short] = cut.dataset.rendered[0];
    expect(short.pieces).toHaveLength(4);
    expect(short).toMatchObject({
      truncated: true,
      problem: expect.stringContaining('no token left to train on'),
    });
  });
});
