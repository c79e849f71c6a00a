// Peak extra memory of the page worker's dataset ingest (src/data/ingest.ts, the same function the worker
// calls) on a generated JSONL of prompt/completion rows, with the built-in model's tokenizer. The file is a
// disk-backed Blob (fs.openAsBlob), as a dropped File is in the browser, so reading it costs only the chunk.
// Usage:
//   node --expose-gc --import tsx bench/ingest-memory.ts [MB] [--whole]
// MB defaults to 200. --whole runs the previous path instead (bytes → prepareDataset → tokenizeForSft, all
// held at once) for the comparison. Memory is process RSS sampled every 20 ms and at every progress report,
// minus the RSS after loading the tokenizer and a GC; heap figures are V8's heapUsed + arrayBuffers.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openAsBlob, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestDataset } from '../src/data/ingest';
import { prepareDataset } from '../src/data/prepare';
import { sftView } from '../src/data/token-arena';
import { tokenizeForSft } from '../src/data/tokenize';
import { parseModelConfig } from '../src/formats/model-config';
import { loadTokenizer } from '../src/formats/tokenizer';
import { dataTokenizer } from '../src/train/tokenizer-adapter';

const MB = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 200);
const WHOLE = process.argv.includes('--whole');
const SEQ = 128;
const dir = join(import.meta.dirname, '..', 'public', 'models', 'tiny-llama-brown');

/** A seeded JSONL of about `mb` MB: short prompts, completions of a few sentences of plain words. */
function generate(path: string, mb: number): void {
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
  const fd = openSync(`${path}.part`, 'w');
  let size = 0;
  while (size < target) {
    let block = '';
    while (block.length < 2 ** 20) {
      block += `${JSON.stringify({ prompt: `${sentence(6)}?`, completion: ` ${sentence(18)}. ${sentence(12)}.` })}\n`;
    }
    writeSync(fd, block);
    size += block.length;
  }
  closeSync(fd);
  execFileSync('mv', [`${path}.part`, path]);
}

const path = join(tmpdir(), `ingest-bench-${MB}mb.jsonl`);
if (process.argv.includes('--generate')) {
  generate(path, MB);
  process.exit(0);
}
// Generated in another process, so this one's memory starts clean.
if (!existsSync(path))
  execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, String(MB), '--generate'], {
    stdio: 'inherit',
  });
const size = statSync(path).size;

const config = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
const tok = dataTokenizer(
  loadTokenizer({
    tokenizerJson: readFileSync(join(dir, 'tokenizer.json'), 'utf8'),
    tokenizerConfig: readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'),
  }),
  config,
);

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

let summary: string;
if (WHOLE) {
  const bytes = new Uint8Array(readFileSync(path));
  sample();
  const prepared = await prepareDataset('bench.jsonl', bytes, { onError: 'skip' });
  sample();
  const t = tokenizeForSft(tok, prepared.examples, { maxLength: SEQ });
  sample();
  summary = `whole-file path: ${prepared.parsed.rows.length} rows, ${t.examples.length} examples`;
} else {
  let next = 0;
  const ds = await ingestDataset('bench.jsonl', await openAsBlob(path), {
    onError: 'skip',
    tokenizer: tok,
    onProgress: (p) => {
      sample();
      if (p.bytesDone >= next) {
        console.log(
          `  ${Math.round((100 * p.bytesDone) / p.bytesTotal)}%: ${p.rows} rows, rss +${mib(process.memoryUsage().rss - base.rss)}`,
        );
        next += p.bytesTotal / 10;
      }
    },
  });
  const view = sftView(ds.tokens, SEQ);
  sample();
  summary = `chunked ingest: ${ds.rows} rows, ${view.examples} examples at ${SEQ} tokens, ${ds.tokens.tokens} tokens in an arena of ${mib(ds.tokens.byteLength)}`;
}
clearInterval(timer);
console.log(`file: ${path} (${mib(size)})`);
console.log(summary);
console.log(
  `time ${((performance.now() - t0) / 1000).toFixed(1)} s; peak extra RSS ${mib(peakRss - base.rss)}; peak extra heap+arrayBuffers ${mib(peakHeap - base.heapUsed - base.arrayBuffers)}`,
);
