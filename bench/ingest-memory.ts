// Peak extra memory of the page worker's dataset ingest (src/data/ingest.ts, the same function the worker
// and the CLI call) on a generated file of prompt/completion rows, with the built-in model's tokenizer. The
// file is a disk-backed Blob (fs.openAsBlob), as a dropped File is in the browser, so reading it costs only
// the chunk. Usage:
//   node --expose-gc --import tsx bench/ingest-memory.ts [MB] [--format jsonl|csv|json|parquet]
//     [--run [--every-row]] [--whole]
// MB defaults to 200 (the text of the rows; a Parquet file of the same rows is smaller, compressed).
// --format picks the file's format (default jsonl). --run also builds what an SFT run starts from
// (train/sft-data.ts's sftDataFromArena: the train/eval rows read from the token arena) and makes its
// first 1,000 batches of 8 × 128, as a run's first steps do (--every-row: a batch of every row, in a tight
// loop). --whole runs the previous path instead (bytes → prepareDataset → sftData / tokenizeForSft, all
// held at once) for the comparison. Memory is
// process RSS sampled every 20 ms and at every progress report, minus the RSS after loading the tokenizer
// and a GC; heap figures are V8's heapUsed + arrayBuffers. Writing the Parquet file needs hyparquet-writer
// (not a project dependency): `npm install --prefix /tmp/hpw hyparquet-writer` (or HPW=<its node_modules>).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openAsBlob, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Batcher } from '../src/data/batch';
import { ingestDataset } from '../src/data/ingest';
import { prepareDataset } from '../src/data/prepare';
import { sftView } from '../src/data/token-arena';
import { tokenizeForSft } from '../src/data/tokenize';
import { parseModelConfig } from '../src/formats/model-config';
import { loadTokenizer } from '../src/formats/tokenizer';
import { sftData, sftDataFromArena } from '../src/train/sft-data';
import { dataTokenizer } from '../src/train/tokenizer-adapter';

const MB = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200);
const WHOLE = process.argv.includes('--whole');
const RUN = process.argv.includes('--run');
const FORMATS = ['jsonl', 'csv', 'json', 'parquet'];
const formatAt = process.argv.indexOf('--format');
const format = formatAt >= 0 ? (process.argv[formatAt + 1] ?? '') : 'jsonl';
if (!FORMATS.includes(format)) throw new Error(`--format ${format}: one of ${FORMATS.join(', ')}`);
const SEQ = 128;
const dir = join(import.meta.dirname, '..', 'public', 'models', 'tiny-llama-brown');

/** Seeded rows of about `mb` MB of text in all: short prompts, completions of a few sentences. */
function* rowsOf(mb: number): Generator<{ prompt: string; completion: string }[]> {
  const words =
    'the of and to a in that is was he for it with as his on be at by had not are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
      ' ',
    );
  let s = 12345;
  const r = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const sentence = (n: number) =>
    Array.from({ length: n }, () => words[Math.floor(r() * words.length)]).join(' ');
  const target = mb * 2 ** 20;
  let size = 0;
  while (size < target) {
    const block: { prompt: string; completion: string }[] = [];
    let bytes = 0;
    while (bytes < 2 ** 20) {
      // A comma in the prompt, so CSV quotes it.
      const row = {
        prompt: `${sentence(3)}, ${sentence(3)}?`,
        completion: ` ${sentence(18)}. ${sentence(12)}.`,
      };
      block.push(row);
      bytes += row.prompt.length + row.completion.length + 30;
    }
    size += bytes;
    yield block;
  }
}

/** The generated file in `format`: JSONL, CSV (header, quoted prompts), a JSON array, or Parquet. */
async function generate(path: string, mb: number, format: string): Promise<void> {
  const part = `${path}.part`;
  if (format === 'parquet') {
    const require = createRequire(`${process.env.HPW ?? '/tmp/hpw/node_modules'}/`);
    const w = await import(require.resolve('hyparquet-writer'));
    const writer = new w.ParquetWriter({
      writer: w.fileWriter(part),
      schema: w.schemaFromColumnData({
        columnData: [
          { name: 'prompt', data: ['x'], type: 'STRING' },
          { name: 'completion', data: ['x'], type: 'STRING' },
        ],
      }),
    });
    // One row group per generated block (about 1 MB of text, 5,000 rows).
    for (const block of rowsOf(mb))
      await writer.write({
        columnData: [
          { name: 'prompt', data: block.map((b) => b.prompt), type: 'STRING' },
          { name: 'completion', data: block.map((b) => b.completion), type: 'STRING' },
        ],
        rowGroupSize: block.length,
      });
    await writer.finish();
  } else {
    const fd = openSync(part, 'w');
    let first = true;
    if (format === 'csv') writeSync(fd, 'prompt,completion\n');
    if (format === 'json') writeSync(fd, '[\n');
    for (const block of rowsOf(mb)) {
      let text = '';
      for (const row of block) {
        if (format === 'csv') text += `"${row.prompt.replaceAll('"', '""')}",${row.completion}\n`;
        else if (format === 'json') {
          text += `${first ? '' : ',\n'}${JSON.stringify(row)}`;
          first = false;
        } else text += `${JSON.stringify(row)}\n`;
      }
      writeSync(fd, text);
    }
    if (format === 'json') writeSync(fd, '\n]\n');
    closeSync(fd);
  }
  execFileSync('mv', [part, path]);
}

const path = join(tmpdir(), `ingest-bench-${MB}mb.${format}`);
const name = `bench.${format}`;
if (process.argv.includes('--generate')) {
  await generate(path, MB, format);
  process.exit(0);
}
// Generated in another process, so this one's memory starts clean.
if (!existsSync(path))
  execFileSync(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, String(MB), '--format', format, '--generate'],
    { stdio: 'inherit' },
  );
const size = statSync(path).size;

const config = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
const tokenizer = loadTokenizer({
  tokenizerJson: readFileSync(join(dir, 'tokenizer.json'), 'utf8'),
  tokenizerConfig: readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'),
});
const tok = dataTokenizer(tokenizer, config);

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const base = process.memoryUsage();
let peakRss = base.rss;
let peakHeap = base.heapUsed + base.arrayBuffers;
const sample = () => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed + m.arrayBuffers);
};
const timer = setInterval(sample, 20);
const t0 = performance.now();
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;

/** Batches as a run's first steps read them (rows built from the arena as they are read): STEPS, or every row. */
const STEPS = process.argv.includes('--every-row') ? Number.POSITIVE_INFINITY : 1000;
function batchAll(rows: ConstructorParameters<typeof Batcher>[0]): number {
  const b = new Batcher(rows, { batchSize: 8, seqLen: SEQ, padId: 0, seed: 0 });
  let tokens = 0;
  for (let k = 0; k < Math.min(STEPS, b.batchesPerEpoch); k++) {
    tokens += b.batchAt(k).tokens;
    if (k % 256 === 0) sample();
  }
  return tokens;
}

let summary: string;
/** What the run holds, kept to the end so the GC below leaves it (the live set). */
const held: unknown[] = [];
if (WHOLE) {
  const bytes = new Uint8Array(readFileSync(path));
  sample();
  const prepared = await prepareDataset(name, bytes, { onError: 'skip' });
  sample();
  if (RUN) {
    const data = sftData(tokenizer, config, prepared.examples, { seqLen: SEQ, evalFraction: 0.1, seed: 0 });
    sample();
    const tokens = batchAll(data.train);
    summary = `whole-file path + run: ${prepared.parsed.rows.length} rows, ${data.train.length} train rows, ${tokens} tokens batched`;
  } else {
    const t = tokenizeForSft(tok, prepared.examples, { maxLength: SEQ });
    sample();
    summary = `whole-file path: ${prepared.parsed.rows.length} rows, ${t.examples.length} examples`;
  }
} else {
  let next = 0;
  const ds = await ingestDataset(name, await openAsBlob(path), {
    onError: 'skip',
    tokenizer: tok,
    onProgress: (p) => {
      sample();
      if (p.bytesDone >= next) {
        console.log(
          `  ${Math.round((100 * p.bytesDone) / p.bytesTotal)}%: ${p.rows} rows, ${p.skipped} skipped, rss +${mib(process.memoryUsage().rss - base.rss)}`,
        );
        next += p.bytesTotal / 10;
      }
    },
  });
  const view = sftView(ds.tokens, SEQ);
  held.push(ds);
  sample();
  summary = `chunked ingest: ${ds.rows} rows, ${ds.skipped} skipped, ${view.examples} examples at ${SEQ} tokens, ${ds.tokens.tokens} tokens in an arena of ${mib(ds.tokens.byteLength)}`;
  summary += `\n  peak extra RSS while ingesting ${mib(peakRss - base.rss)}`;
  if (RUN) {
    const data = sftDataFromArena(tokenizer, config, ds.tokens, { seqLen: SEQ, evalFraction: 0.1, seed: 0 });
    held.push(data);
    sample();
    const tokens = batchAll(data.train);
    summary += `; run: ${data.train.length} train + ${data.eval.length} eval rows from the arena, ${tokens} tokens batched`;
  }
}
clearInterval(timer);
// What stays (the live set: the arena, and the run's rows with --run) once V8 has collected.
gc?.();
const after = process.memoryUsage();
summary += `\n  after a GC, ${held.length} results held: extra RSS ${mib(after.rss - base.rss)}, extra heap+arrayBuffers ${mib(after.heapUsed + after.arrayBuffers - base.heapUsed - base.arrayBuffers)}`;
console.log(`file: ${path} (${mib(size)}, ${format})`);
console.log(summary);
console.log(
  `time ${((performance.now() - t0) / 1000).toFixed(1)} s; peak extra RSS ${mib(peakRss - base.rss)}; peak extra heap+arrayBuffers ${mib(peakHeap - base.heapUsed - base.arrayBuffers)}`,
);
