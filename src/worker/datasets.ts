// The worker's datasets: files read, checked and tokenised in chunks (data/ingest.ts) under the page's ids,
// with progress told to the page and a cancel that keeps what was loaded before; their token-length
// histogram for the page from the compact token arena, which is also what an SFT run trains on (its rows
// read their ids from it: starting a run adds no copy of a large dataset's tokens); the file (a dropped File
// stays on disk) kept for a hand-made column mapping, another bad-row policy, or the examples an RL run or a
// recipe export builds from it whole; and a
// copy saved with a run that checkpoints (or an RL run), so the run can go on after a reload, when the
// page's datasets have new ids. The examples carry the dataset's prompt template (data/template.ts), and
// the page gets the first ones rendered as training tokenises them (what the model sees).
import { IngestCancelled, type IngestProgress, ingestDataset, UnmappedColumns } from '../data/ingest';
import { type PreparedDataset, prepareDataset } from '../data/prepare';
import type { PromptTemplate } from '../data/template';
import { sftView, type TokenArena } from '../data/token-arena';
import {
  type PreviewSequence,
  previewExample,
  type TextTokenizer,
  TokenizeProblem,
  tokenLengthHistogram,
} from '../data/tokenize';
import type { ColumnMapping, Example } from '../data/types';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { SavedDataset } from './checkpoints';
import type { DatasetToWorker } from './dataset-protocol';
import { errorMessage, type LoadedModel } from './model';
import type { FromWorker, RunSpec, ToWorker } from './protocol';

export interface DatasetEntry {
  /** Rows and checked examples, built whole from the file when a run first needs them (forRun). */
  prepared: PreparedDataset;
  name: string;
  /** The file (a dropped File stays on disk; a sample's bytes as a Blob). */
  bytes: Blob;
  mapping?: ColumnMapping;
  onError: 'skip' | 'stop';
  /** The prompt template applied to prepared.examples. */
  template: PromptTemplate;
  /** A copy is in the checkpoint database. */
  saved: boolean;
}

/** What the worker holds for a loaded dataset: the file, its tokens, and (once a run asked) its examples. */
type Held = Omit<DatasetEntry, 'prepared'> & {
  prepared?: PreparedDataset;
  tokens?: Tokens;
};

/** A dataset's token arena, the model it was tokenised for, and whether it holds prompts (RL data). */
interface Tokens {
  arena: TokenArena;
  model: LoadedModel;
  promptsOnly: boolean;
}

/** Examples the page previews. */
const PREVIEWED = 3;

/** The first examples as training tokenises them; an example that cannot be tokenised is left out. */
export function renderPreview(
  tok: TextTokenizer,
  examples: readonly Example[],
  seqLen: number,
  count = PREVIEWED,
): PreviewSequence[][] {
  const out: PreviewSequence[][] = [];
  for (const ex of examples) {
    if (out.length >= count) break;
    try {
      out.push(previewExample(tok, ex, { maxLength: seqLen }));
    } catch (e) {
      if (!(e instanceof TokenizeProblem)) throw e;
    }
  }
  return out;
}

type AddMessage = Omit<Extract<ToWorker, { type: 'addDataset' }>, 'bytes' | 'type'> & {
  type?: 'addDataset' | 'addDatasetFile';
  bytes: ArrayBuffer | Uint8Array | Blob;
};

/** The checkpoint database's side of datasets (src/worker/checkpoints.ts in the worker). */
export interface DatasetStorage {
  save(id: string, d: SavedDataset): Promise<void>;
  load(id: string): Promise<SavedDataset | null>;
}

/** Where the worker's dataset-file messages arrive (the worker's global scope). */
interface MessageSource {
  addEventListener(type: 'message', listener: (ev: MessageEvent<ToWorker>) => void): void;
}

const asBlob = (b: ArrayBuffer | Uint8Array | Blob): Blob =>
  b instanceof Blob ? b : new Blob([b instanceof Uint8Array ? new Uint8Array(b) : b]);

export class Datasets {
  private readonly loaded = new Map<string, Held>();
  /** Files whose shape was not recognised, kept (by dataset id) for a hand-made column mapping. */
  private readonly unmapped = new Map<string, { name: string; bytes: Blob }>();
  /** Loadings under way, by dataset id: a cancel (or a newer loading of the same id) aborts them. */
  private readonly loading = new Map<string, AbortController>();

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly model: () => Promise<LoadedModel>,
    private readonly storage: DatasetStorage,
    /**
     * The dataset-file messages (addDatasetFile, cancelDataset) are taken here, next to the worker's own
     * dispatch, when the worker's scope is given or found; a test calls the methods instead.
     */
    scope: MessageSource | null = workerScope(),
  ) {
    scope?.addEventListener('message', (ev) => this.onMessage(ev.data));
  }

  /** Handles the dataset-file messages; others are the worker's dispatch's. */
  onMessage(msg: ToWorker | DatasetToWorker): void {
    if (msg.type === 'addDatasetFile') void this.add({ ...msg, bytes: msg.file });
    else if (msg.type === 'cancelDataset') this.cancel(msg.id);
  }

  /** Stops the loading of `id` between two chunks; what was loaded under `id` before stays. */
  cancel(id: string): void {
    this.loading.get(id)?.abort();
  }

  /**
   * Reads, checks and tokenises a dataset in chunks (data/ingest.ts), telling the page how far it got,
   * and answers with its summary: the text, the rows and the tokens are never all held at once.
   */
  async add(msg: AddMessage): Promise<void> {
    const bytes = asBlob(msg.bytes);
    this.loading.get(msg.id)?.abort();
    const ctl = new AbortController();
    this.loading.set(msg.id, ctl);
    try {
      const m = await this.model();
      const dataTok = dataTokenizer(m.tokenizer, m.config);
      const ing = await ingestDataset(msg.name, bytes, {
        onError: msg.onError,
        mapping: msg.mapping,
        template: msg.template,
        tokenizer: dataTok,
        signal: ctl.signal,
        onProgress: (p: IngestProgress) =>
          this.post({ type: 'datasetProgress', id: msg.id, name: msg.name, ...p }),
      });
      // Prompt-only data is for the online RL algorithms: its examples are prompts (their lengths in the
      // histogram), not SFT rows, none of which it has.
      const view = sftView(ing.tokens, msg.seqLen, { promptsOnly: ing.shape.kind === 'prompt_only' });
      this.loaded.set(msg.id, {
        name: msg.name,
        bytes,
        mapping: msg.mapping,
        onError: msg.onError,
        template: ing.template,
        saved: false,
        tokens: { arena: ing.tokens, model: m, promptsOnly: ing.shape.kind === 'prompt_only' },
      });
      this.post({
        type: 'datasetReady',
        dataset: {
          id: msg.id,
          name: msg.name,
          format: ing.format,
          columns: ing.columns,
          rows: ing.rows,
          examples: view.examples,
          shape: ing.shape.kind,
          mapping: ing.shape.mapping,
          skipped: ing.skipped + view.skipped,
          issues: [...ing.issues, ...view.issues].slice(0, 20),
          preview: ing.preview,
          histogram: tokenLengthHistogram(view.lengths, { binCount: 16, maxLength: msg.seqLen }),
          truncatedAt: msg.seqLen,
          template: ing.template,
          rendered: renderPreview(dataTok, ing.firstExamples, msg.seqLen),
        },
      });
      this.unmapped.delete(msg.id);
    } catch (e) {
      if (e instanceof IngestCancelled) {
        this.post({ type: 'datasetCancelled', id: msg.id, name: msg.name });
        return;
      }
      // A file that parses but whose columns match no shape can still be mapped by hand: keep it and send
      // its columns with the error.
      const columns = e instanceof UnmappedColumns && !this.loaded.has(msg.id) ? e.columns : undefined;
      if (columns) this.unmapped.set(msg.id, { name: msg.name, bytes });
      this.post({ type: 'datasetError', id: msg.id, name: msg.name, message: errorMessage(e), columns });
    } finally {
      if (this.loading.get(msg.id) === ctl) this.loading.delete(msg.id);
    }
  }

  /** Parses a dataset again with the page's mapping / bad-row policy, from the bytes this worker kept. */
  async remap(msg: Extract<ToWorker, { type: 'remapDataset' }>): Promise<void> {
    const held = this.loaded.get(msg.id) ?? this.unmapped.get(msg.id);
    if (!held) {
      this.post({
        type: 'datasetError',
        id: msg.id,
        name: msg.id,
        message: 'this dataset is no longer loaded; drop it again',
      });
      return;
    }
    // The template stays as it was unless the page chose another (a new mapping takes its own default).
    const kept = msg.mapping === undefined ? (held as Partial<Held>).template : undefined;
    const { type: _, ...rest } = msg;
    await this.add({ ...rest, template: msg.template ?? kept, name: held.name, bytes: held.bytes });
  }

  /**
   * The run's dataset: loaded on this page, or (after a reload, when the page's datasets are new) the copy
   * saved when the run started, its examples built whole (an RL run's prompts and pairs, a recipe export).
   * A run that checkpoints, or an RL run (which restarts after a reload), gets its copy saved now.
   */
  async forRun(spec: RunSpec): Promise<DatasetEntry> {
    const ds = await this.held(spec);
    ds.prepared ??= await prepareDataset(ds.name, new Uint8Array(await ds.bytes.arrayBuffer()), {
      onError: ds.onError,
      mapping: ds.mapping,
      template: ds.template,
    });
    return ds as DatasetEntry;
  }

  /**
   * What an SFT run trains on: the dataset's token arena, tokenised (untruncated) when it loaded, or now,
   * in chunks, from its file (after a reload, or when another model was loaded since); null for
   * prompt-only data, which SFT reads through forRun's examples (and their reasons) as before.
   */
  async tokensForRun(spec: RunSpec): Promise<TokenArena | null> {
    const ds = await this.held(spec);
    const m = await this.model();
    if (ds.tokens?.model !== m) {
      const ing = await ingestDataset(ds.name, ds.bytes, {
        onError: ds.onError,
        mapping: ds.mapping,
        template: ds.template,
        tokenizer: dataTokenizer(m.tokenizer, m.config),
      });
      ds.tokens = { arena: ing.tokens, model: m, promptsOnly: ing.shape.kind === 'prompt_only' };
    }
    return ds.tokens.promptsOnly ? null : ds.tokens.arena;
  }

  /** The run's dataset as held, its copy saved for a run that checkpoints or an RL run. */
  private async held(spec: RunSpec): Promise<Held> {
    const ds = this.loaded.get(spec.datasetId) ?? (await this.fromSaved(spec.datasetId));
    if (!ds.saved && (spec.checkpointEvery > 0 || spec.rl)) {
      ds.saved = true;
      const { name, bytes, mapping, onError, template } = ds;
      void this.storage
        .save(spec.datasetId, { name, bytes, mapping, onError, template })
        .catch((e: unknown) => console.warn('dataset not saved:', e));
    }
    return ds;
  }

  /** A saved copy (after a reload), its tokens and examples built when a run asks for them. */
  private async fromSaved(id: string): Promise<Held> {
    const saved = await this.storage.load(id);
    if (!saved) throw new Error(`dataset ${id} is neither loaded nor saved; drop it again`);
    const bytes = asBlob(saved.bytes);
    // The copy's template where the database keeps it, else the mapping's default (found by reading it).
    let template = saved.template;
    let prepared: PreparedDataset | undefined;
    if (template === undefined) {
      prepared = await prepareDataset(saved.name, new Uint8Array(await bytes.arrayBuffer()), {
        onError: saved.onError,
        mapping: saved.mapping,
      });
      template = prepared.template;
    }
    const e: Held = { ...saved, bytes, prepared, template, saved: true };
    this.loaded.set(id, e);
    return e;
  }
}

/** The worker's global scope when this runs in a dedicated worker (not in Node or on the page). */
function workerScope(): MessageSource | null {
  const g = globalThis as { WorkerGlobalScope?: unknown; addEventListener?: unknown };
  return g.WorkerGlobalScope !== undefined && typeof g.addEventListener === 'function'
    ? (globalThis as unknown as MessageSource)
    : null;
}
