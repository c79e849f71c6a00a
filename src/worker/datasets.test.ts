// The worker's datasets with the built-in model's tokenizer and an in-memory stand-in for the checkpoint
// database: a dropped file's summary (shape, mapping, counts, histogram), a file whose columns match no
// shape kept for a hand-made mapping and parsed again with it, a run's dataset saved once when the run
// checkpoints (not when it does not), and found again by a new page (a reload) from the saved bytes; a file
// loaded in chunks gives the whole-file path's summary with progress up to its size, an oversize row named
// by its line, and a cancel keeps the dataset loaded before under that id.
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { prepareDataset } from '../data/prepare';
import { alpacaPrompt } from '../data/template';
import { tokenizeExample, tokenizeForSft, tokenLengthHistogram } from '../data/tokenize';
import type { ColumnMapping } from '../data/types';
import { loadCheckpointSpecs } from '../model/load';
import { dirModelSource } from '../model/sources/node-dir';
import { SFT_DEFAULTS } from '../train/sft-config';
import { sftData, sftDataFromArena } from '../train/sft-data';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { SavedDataset } from './checkpoints';
import { Datasets, renderPreview } from './datasets';
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
  const all: FromWorker[] = [];
  const saves: string[] = [];
  const ds = new Datasets((m) => all.push(m), builtin, {
    save: async (id, d) => {
      saves.push(id);
      store.set(id, { name: d.name, bytes: d.bytes, mapping: d.mapping, onError: d.onError });
    },
    load: async (id) => store.get(id) ?? null,
  });
  return { ds, all, saves, store };
}

/** The worker's answers, progress reports aside (they have a test of their own). */
const answers = (all: FromWorker[]) => all.filter((m) => m.type !== 'datasetProgress');

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
    const { ds, all } = setup();
    await ds.add({
      type: 'addDataset',
      id: 'p',
      name: 'p.jsonl',
      bytes: enc(JSONL),
      onError: 'skip',
      seqLen: 32,
    });
    const ready = answers(all)[0];
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
    const err = answers(all)[1];
    expect(err).toMatchObject({ type: 'datasetError', id: 'o', columns: ['q', 'a'] });
    const mapping: ColumnMapping = { prompt: 'q', completion: 'a' };
    await ds.remap({ type: 'remapDataset', id: 'o', mapping, onError: 'skip', seqLen: 32 });
    expect(answers(all)[2]).toMatchObject({
      type: 'datasetReady',
      dataset: { id: 'o', rows: 5, examples: 5, shape: 'prompt_completion', mapping },
    });
    await ds.remap({ type: 'remapDataset', id: 'gone', onError: 'skip', seqLen: 32 });
    expect(answers(all)[3]).toMatchObject({
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

  it("an SFT run's rows come from the arena: sftData's rows over forRun's examples, after a reload and a new model too", async () => {
    const { ds, store } = setup();
    await ds.add({
      type: 'addDataset',
      id: 'p',
      name: 'p.jsonl',
      bytes: enc(JSONL),
      onError: 'skip',
      seqLen: 32,
    });
    const m = await builtin();
    const o = { seqLen: 16, evalFraction: 0.2, seed: 3 };
    const plain = (rows: readonly { inputIds: readonly number[]; labels: readonly number[] }[]) =>
      rows.map((r) => [[...r.inputIds], [...r.labels]]);
    const want = sftData(m.tokenizer, m.config, (await ds.forRun(spec('p', 5))).prepared.examples, o);
    const arena = await ds.tokensForRun(spec('p', 5));
    expect(arena).not.toBeNull();
    const got = sftDataFromArena(m.tokenizer, m.config, arena!, o);
    expect([plain(got.train), plain(got.eval)]).toEqual([plain(want.train), plain(want.eval)]);
    expect(await ds.tokensForRun(spec('p', 5))).toBe(arena);
    await new Promise((r) => setTimeout(r, 0));
    // A new page (the saved copy) and another model object: tokenised again, the same rows.
    const reloaded = setup(store);
    const again = await reloaded.ds.tokensForRun(spec('p', 5));
    expect(plain(sftDataFromArena(m.tokenizer, m.config, again!, o).train)).toEqual(plain(want.train));
    // Another model loaded since: the arena is made again for it (here with the same tokenizer: same rows).
    let current: LoadedModel = m;
    const other = new Datasets(
      () => undefined,
      async () => current,
      { save: async () => {}, load: async (id) => store.get(id) ?? null },
    );
    const before = await other.tokensForRun(spec('p', 5));
    expect(await other.tokensForRun(spec('p', 5))).toBe(before);
    current = { ...m };
    const after = await other.tokensForRun(spec('p', 5));
    expect(after).not.toBe(before);
    expect(plain(sftDataFromArena(m.tokenizer, m.config, after!, o).train)).toEqual(plain(want.train));
  });

  it('renders what the model sees with the tokenizer training uses: Alpaca rows through the Alpaca template', async () => {
    const { ds, all } = setup();
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
    const ready = answers(all)[0];
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
    const again = answers(all)[1];
    if (again?.type !== 'datasetReady') throw new Error('expected datasetReady');
    expect(again.dataset.template).toBe('none');
    const text = again.dataset.rendered[0][0].pieces.map((p) => p.text).join('');
    expect(text).toContain('Give the opposite of the word.\n\nhot cold');
    expect((await ds.forRun(spec('a', 0))).template).toBe('none');
    // Cut at 4 tokens, the prompt fills them all: training leaves the row out, and the preview says so.
    await ds.remap({ type: 'remapDataset', id: 'a', onError: 'skip', seqLen: 4 });
    const cut = answers(all)[2];
    if (cut?.type !== 'datasetReady') throw new Error('expected datasetReady');
    expect(cut.dataset.template).toBe('none');
    const [short] = cut.dataset.rendered[0];
    expect(short.pieces).toHaveLength(4);
    expect(short).toMatchObject({
      truncated: true,
      problem: expect.stringContaining('no token left to train on'),
    });
  });

  it('loads in chunks: the whole-file summary, progress up to the size, an oversize row named by its line', async () => {
    const { ds, all } = setup();
    // Line 2 is over the 4 Mi-character row limit: skipped as it streams, never parsed.
    const lines = [
      JSON.stringify({ prompt: 'The plural of ox is', completion: ' oxen.' }),
      JSON.stringify({ prompt: 'y'.repeat(4.5 * 2 ** 20), completion: ' z' }),
      '{"prompt": "broken',
      ...Array.from({ length: 60 }, (_, i) =>
        JSON.stringify({ prompt: `Plural of w${i}:`, completion: ` w${i}s` }),
      ),
      JSON.stringify({ prompt: 'a long prompt '.repeat(20), completion: ' cut' }),
    ];
    const text = lines.join('\n');
    const bytes = new TextEncoder().encode(text);
    await ds.add({ id: 'big', name: 'big.jsonl', bytes: new Blob([bytes]), onError: 'skip', seqLen: 24 });
    const progress = all.filter((m) => m.type === 'datasetProgress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].bytesDone).toBeGreaterThanOrEqual(progress[i - 1].bytesDone);
      expect(progress[i].rows).toBeGreaterThanOrEqual(progress[i - 1].rows);
    }
    expect(progress.at(-1)).toMatchObject({
      id: 'big',
      bytesDone: bytes.length,
      bytesTotal: bytes.length,
      rows: 62,
    });

    // The summary the whole-file path gives (prepareDataset, then tokenizeForSft at the page's length).
    const m = await builtin();
    const tok = dataTokenizer(m.tokenizer, m.config);
    const whole = await prepareDataset('big.jsonl', bytes, { onError: 'skip' });
    const t = tokenizeForSft(tok, whole.examples, { maxLength: 24 });
    const ready = answers(all)[0];
    if (ready?.type !== 'datasetReady') throw new Error(`expected datasetReady, got ${ready?.type}`);
    expect(ready.dataset).toMatchObject({
      rows: 62,
      columns: ['prompt', 'completion'],
      examples: t.examples.length,
      skipped: whole.skipped + t.skipped,
      issues: [...whole.issues, ...t.issues].slice(0, 20),
      preview: whole.parsed.rows.slice(0, 5),
      histogram: tokenLengthHistogram(
        t.examples.map((e) => e.fullLength),
        { binCount: 16, maxLength: 24 },
      ),
      rendered: renderPreview(tok, whole.examples, 24),
    });
    expect(ready.dataset.issues[0].message).toBe(
      'big.jsonl line 2: a row of 4.5 M characters, over the 4.0 M limit for one row',
    );
    expect(t.skipped).toBeGreaterThan(0);
  });

  it('a cancel stops the loading and keeps what was loaded under that id before', async () => {
    const all: FromWorker[] = [];
    let armed = false;
    const post: Datasets = new Datasets(
      (msg) => {
        all.push(msg);
        if (armed && msg.type === 'datasetProgress') post.cancel('c');
      },
      builtin,
      { save: async () => {}, load: async () => null },
    );
    await post.add({ id: 'c', name: 'p.jsonl', bytes: enc(JSONL), onError: 'skip', seqLen: 32 });
    const before = (await post.forRun(spec('c', 0))).prepared.examples;
    expect(before).toHaveLength(6);
    // A remap of the same id with a two-chunk file, cancelled at its first progress report.
    const big = `${JSON.stringify({ text: 'y'.repeat(4.5 * 2 ** 20) })}\n${JSON.stringify({ text: 'other' })}\n`;
    all.length = 0;
    armed = true;
    post.onMessage({
      type: 'addDatasetFile',
      id: 'c',
      name: 'big.jsonl',
      file: new Blob([big]),
      onError: 'skip',
      seqLen: 32,
    });
    await vi.waitFor(() =>
      expect(all.at(-1)).toEqual({ type: 'datasetCancelled', id: 'c', name: 'big.jsonl' }),
    );
    expect(all.filter((x) => x.type === 'datasetProgress')).toHaveLength(1);
    expect(all.filter((x) => x.type === 'datasetReady')).toHaveLength(0);
    expect((await post.forRun(spec('c', 0))).prepared.examples).toEqual(before);
  });
});
