// The worker's datasets: files parsed and prepared (src/data) under the page's ids, their token-length
// histogram for the page, the bytes kept for a hand-made column mapping or another bad-row policy, and a
// copy saved with a run that checkpoints (or an RL run), so the run can go on after a reload, when the
// page's datasets have new ids. The examples carry the dataset's prompt template (data/template.ts), and
// the page gets the first ones rendered as training tokenises them (what the model sees).
import { parseDataset } from '../data/parse';
import { type PreparedDataset, prepareDataset } from '../data/prepare';
import type { PromptTemplate } from '../data/template';
import {
  type PreviewSequence,
  previewExample,
  type TextTokenizer,
  TokenizeProblem,
  tokenizeForSft,
  tokenizePrompt,
  tokenLengthHistogram,
} from '../data/tokenize';
import type { ColumnMapping } from '../data/types';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { SavedDataset } from './checkpoints';
import { errorMessage, type LoadedModel } from './model';
import type { FromWorker, RunSpec, ToWorker } from './protocol';

export interface DatasetEntry {
  prepared: PreparedDataset;
  name: string;
  bytes: Uint8Array;
  mapping?: ColumnMapping;
  onError: 'skip' | 'stop';
  /** The prompt template applied to prepared.examples. */
  template: PromptTemplate;
  /** A copy is in the checkpoint database. */
  saved: boolean;
}

/** Examples the page previews. */
const PREVIEWED = 3;

/** The first examples as training tokenises them; an example that cannot be tokenised is left out. */
export function renderPreview(
  tok: TextTokenizer,
  prepared: PreparedDataset,
  seqLen: number,
  count = PREVIEWED,
): PreviewSequence[][] {
  const out: PreviewSequence[][] = [];
  for (const ex of prepared.examples) {
    if (out.length >= count) break;
    try {
      out.push(previewExample(tok, ex, { maxLength: seqLen }));
    } catch (e) {
      if (!(e instanceof TokenizeProblem)) throw e;
    }
  }
  return out;
}

type AddMessage = Omit<Extract<ToWorker, { type: 'addDataset' }>, 'bytes'> & {
  bytes: ArrayBuffer | Uint8Array;
};

/** The checkpoint database's side of datasets (src/worker/checkpoints.ts in the worker). */
export interface DatasetStorage {
  save(id: string, d: SavedDataset): Promise<void>;
  load(id: string): Promise<SavedDataset | null>;
}

export class Datasets {
  private readonly loaded = new Map<string, DatasetEntry>();
  /** Bytes of files whose shape was not recognised, kept (by dataset id) for a hand-made column mapping. */
  private readonly unmapped = new Map<string, { name: string; bytes: Uint8Array }>();

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly model: () => Promise<LoadedModel>,
    private readonly storage: DatasetStorage,
  ) {}

  async add(msg: AddMessage): Promise<void> {
    const bytes = msg.bytes instanceof Uint8Array ? msg.bytes : new Uint8Array(msg.bytes);
    try {
      const m = await this.model();
      const prepared = await prepareDataset(msg.name, bytes, {
        onError: msg.onError,
        mapping: msg.mapping,
        template: msg.template,
      });
      const template = prepared.template;
      this.loaded.set(msg.id, {
        prepared,
        name: msg.name,
        bytes,
        mapping: msg.mapping,
        onError: msg.onError,
        template,
        saved: false,
      });
      const dataTok = dataTokenizer(m.tokenizer, m.config);
      // Prompt-only data is for the online RL algorithms: its examples are prompts (their lengths in the
      // histogram), not SFT rows, none of which it has.
      const promptsOnly = prepared.shape.kind === 'prompt_only';
      const tok = promptsOnly
        ? {
            examples: prepared.examples.map((e) => ({
              fullLength: tokenizePrompt(dataTok, e).promptIds.length,
            })),
            skipped: 0,
            issues: [],
          }
        : tokenizeForSft(dataTok, prepared.examples, { maxLength: msg.seqLen });
      const histogram = tokenLengthHistogram(
        tok.examples.map((e) => e.fullLength),
        { binCount: 16, maxLength: msg.seqLen },
      );
      this.post({
        type: 'datasetReady',
        dataset: {
          id: msg.id,
          name: msg.name,
          format: prepared.parsed.format,
          columns: prepared.parsed.columns,
          rows: prepared.parsed.rows.length,
          examples: tok.examples.length,
          shape: prepared.shape.kind,
          mapping: prepared.shape.mapping,
          skipped: prepared.skipped + tok.skipped,
          issues: [...prepared.issues, ...tok.issues].slice(0, 20),
          preview: prepared.parsed.rows.slice(0, 5),
          histogram,
          truncatedAt: msg.seqLen,
          template,
          rendered: renderPreview(dataTok, prepared, msg.seqLen),
        },
      });
      this.unmapped.delete(msg.id);
    } catch (e) {
      // A file that parses but whose columns match no shape can still be mapped by hand: keep its bytes
      // and send its columns with the error.
      let columns: string[] | undefined;
      if (!this.loaded.has(msg.id)) {
        columns = await parseDataset(msg.name, bytes, { onError: 'skip' })
          .then((p) => p.columns)
          .catch(() => undefined);
        if (columns) this.unmapped.set(msg.id, { name: msg.name, bytes });
      }
      this.post({ type: 'datasetError', id: msg.id, name: msg.name, message: errorMessage(e), columns });
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
    const kept = msg.mapping === undefined ? (held as Partial<DatasetEntry>).template : undefined;
    await this.add({
      ...msg,
      template: msg.template ?? kept,
      type: 'addDataset',
      name: held.name,
      bytes: held.bytes,
    });
  }

  /**
   * The run's dataset: loaded on this page, or (after a reload, when the page's datasets are new) the copy
   * saved when the run started. A run that checkpoints, or an RL run (which restarts after a reload), gets
   * its copy saved now.
   */
  async forRun(spec: RunSpec): Promise<DatasetEntry> {
    const ds = this.loaded.get(spec.datasetId) ?? (await this.fromSaved(spec.datasetId));
    if (!ds.saved && (spec.checkpointEvery > 0 || spec.rl)) {
      ds.saved = true;
      void this.storage.save(spec.datasetId, ds).catch((e: unknown) => console.warn('dataset not saved:', e));
    }
    return ds;
  }

  private async fromSaved(id: string): Promise<DatasetEntry> {
    const saved = await this.storage.load(id);
    if (!saved) throw new Error(`dataset ${id} is neither loaded nor saved; drop it again`);
    // The copy's template where the database keeps it, else the mapping's default.
    const prepared = await prepareDataset(saved.name, saved.bytes, {
      onError: saved.onError,
      mapping: saved.mapping,
      template: saved.template,
    });
    const e: DatasetEntry = { ...saved, prepared, template: prepared.template, saved: true };
    this.loaded.set(id, e);
    return e;
  }
}
